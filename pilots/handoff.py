"""Handing a command to the process that holds the database, so that a scheduled `pilots import`
(or any other command) works whether or not the app is running.

DuckDB lets one process write a file, and the running app is that process. So the app keeps an
inbox folder beside the file (`<file>.inbox/`) and a heartbeat in it; a command that finds the file
held by a process with a fresh heartbeat writes its request there (its arguments, working folder
and operating-system user) and waits for the answer (exit code, output), which the app produces by
running the very same command code on its own handle, through the same write door: the same
all-or-nothing import, batch and audit entry (naming the OS user who ran the command). App users see
the new data on their next click. When nobody serves the inbox, a command waits for the file to be
free instead. Why this design rather than the app opening the file per request: the app keeps its
caches and a request never waits for a nightly load; the command line keeps its contract."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Callable

HEARTBEAT_SECONDS = 0.5
# A heartbeat older than this means the app has stopped (or hangs): nobody takes hand-offs.
STALE_AFTER_SECONDS = 5.0
POLL_SECONDS = 0.1


class HandOffFailed(RuntimeError):
    """The app holding the database stopped before answering; the command may have to run again."""


@dataclass(frozen=True)
class Request:
    request_id: str
    argv: list[str]
    cwd: str
    os_user: str


@dataclass(frozen=True)
class Answer:
    exit_code: int
    out: str
    err: str


def inbox(db_path: str | os.PathLike) -> Path:
    path = Path(db_path)
    return path.with_name(path.name + ".inbox")


def _heartbeat(db_path: str | os.PathLike) -> Path:
    return inbox(db_path) / "serving.json"


def _write_atomically(path: Path, data: dict) -> None:
    partial = path.with_name(path.name + f".{uuid.uuid4().hex[:8]}.partial")
    partial.write_text(json.dumps(data), encoding="utf-8")
    os.replace(partial, path)


def serving(db_path: str | os.PathLike) -> int | None:
    """The process id of the app serving the inbox of this database, if its heartbeat is fresh."""
    try:
        beat = json.loads(_heartbeat(db_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fresh = time.time() - float(beat.get("at", 0)) < STALE_AFTER_SECONDS
    return int(beat["pid"]) if fresh and "pid" in beat else None


def submit(db_path: str | os.PathLike, argv: list[str], cwd: str, os_user: str,
           on_wait: Callable[[], None] | None = None) -> Answer:
    """Hand a command to the serving app and wait for its answer, as long as the app keeps beating.
    HandOffFailed if it stops first (the request is withdrawn if the app had not taken it yet)."""
    folder = inbox(db_path)
    request = Request(uuid.uuid4().hex, list(argv), cwd, os_user)
    _write_atomically(folder / f"{request.request_id}.request.json", asdict(request))
    answer_path = folder / f"{request.request_id}.answer.json"
    while True:
        if answer_path.exists():
            answer = json.loads(answer_path.read_text(encoding="utf-8"))
            answer_path.unlink(missing_ok=True)
            return Answer(int(answer["exit_code"]), answer["out"], answer["err"])
        if serving(db_path) is None:
            try:
                (folder / f"{request.request_id}.request.json").unlink()
                withdrawn = "it had not started it; nothing was done"
            except FileNotFoundError:
                withdrawn = "it may have been part way through: check the Data page or `pilots batches`"
            raise HandOffFailed(f"the app holding the database stopped before answering ({withdrawn})")
        if on_wait is not None:
            on_wait()
        time.sleep(POLL_SECONDS)


class _Server:
    def __init__(self, db_path: Path, execute: Callable[[Request], Answer]):
        self.db_path, self.execute = db_path, execute
        self.folder = inbox(db_path)
        self.thread = threading.Thread(target=self._serve, name=f"inbox {db_path.name}", daemon=True)
        self.stopped = threading.Event()

    def _beat(self) -> None:
        _write_atomically(_heartbeat(self.db_path), {"pid": os.getpid(), "at": time.time()})

    def _serve(self) -> None:
        last_beat = 0.0
        while not self.stopped.is_set():
            if time.time() - last_beat >= HEARTBEAT_SECONDS:
                self._beat()
                last_beat = time.time()
            for waiting in sorted(self.folder.glob("*.request.json"), key=lambda p: p.stat().st_mtime):
                self._take(waiting)
                self._beat()
                last_beat = time.time()
            self.stopped.wait(POLL_SECONDS)
        _heartbeat(self.db_path).unlink(missing_ok=True)

    def _take(self, waiting: Path) -> None:
        taken = waiting.with_name(waiting.name.replace(".request.json", ".taken.json"))
        try:
            os.replace(waiting, taken)  # claimed: a withdrawing command now knows it started
        except FileNotFoundError:
            return
        try:
            request = Request(**json.loads(taken.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            taken.unlink(missing_ok=True)
            return
        beating = threading.Event()

        def keep_beating():  # a long import must not look like a stopped app
            while not beating.wait(HEARTBEAT_SECONDS):
                self._beat()

        beater = threading.Thread(target=keep_beating, daemon=True)
        beater.start()
        try:
            answer = self.execute(request)
        except Exception as error:  # the command's own errors are answered by execute; this is a bug
            answer = Answer(1, "", f"error: the app could not run the command ({type(error).__name__}: {error})\n")
        finally:
            beating.set()
            beater.join()
        _write_atomically(self.folder / f"{request.request_id}.answer.json", asdict(answer))
        taken.unlink(missing_ok=True)


_servers: dict[str, _Server] = {}
_servers_lock = threading.Lock()


def start_serving(db_path: str | os.PathLike, execute: Callable[[Request], Answer]) -> None:
    """Serve the inbox of this database from this process (once per process and file)."""
    key = str(Path(db_path).resolve())
    with _servers_lock:
        if key in _servers and _servers[key].thread.is_alive():
            return
        server = _Server(Path(key), execute)
        server.folder.mkdir(parents=True, exist_ok=True)
        server._beat()
        server.thread.start()
        _servers[key] = server


def stop_serving(db_path: str | os.PathLike) -> None:
    """Stop serving the inbox (tests; the app's thread ends with its process)."""
    with _servers_lock:
        server = _servers.pop(str(Path(db_path).resolve()), None)
    if server is not None:
        server.stopped.set()
        server.thread.join()
