"""The one way to open the database and the one way to write to it: a DuckDB file, one handle per
process and path, a fresh cursor for every read, the numbered migrations that create and upgrade
its schema, and `Database.write`, the single door every write goes through.

Streamlit serves each browser session on its own thread; one DuckDB connection shared by threads
fails or returns empty results, while cursors of one handle are safe, so every caller goes
through `Database.cursor()` or `Database.write()`.

A write (`with db.write(actor, "edit a pilot") as w:`) is one transaction; writers of this process
take turns (so two sessions saving at once never meet DuckDB's "Conflict on update"); the audit
entries the write leaves are appended by `w.audit(...)` as the acting user and with the operating
system's user, each sealed into a hash chain (`entry_hash` = SHA-256 of the previous entry's hash
and this entry) that `pilots.audit.verify_chain` checks. A write refused for lack of rights leaves
an entry saying so; a write that leaves no audit entry at all is a bug and is rolled back.

Its length: opening, migrating and the write door share the per-path handle and its lock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import hashlib
import json
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb

from .access import AccessDenied, Actor, require_editor

DEFAULT_PATH = "data/pilots.duckdb"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# There is no network where the app runs: never let DuckDB try to fetch an extension.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

_handles: dict[str, duckdb.DuckDBPyConnection] = {}
# The file (device, inode) each handle opened: a file deleted or swapped under the app is noticed.
_identities: dict[str, tuple[int, int] | None] = {}
_handles_lock = threading.Lock()
# The cursor of the transaction each thread has open, per database path.
_open_transactions = threading.local()


def database_path(explicit: str | os.PathLike | None = None) -> Path:
    """The path given, else $PILOTS_DB, else data/pilots.duckdb."""
    return Path(explicit or os.environ.get("PILOTS_DB") or DEFAULT_PATH).resolve()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The numbered migrations shipped with the package, in order."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = re.fullmatch(r"(\d+)_(\w+)\.sql", path.name)
        if match:
            found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number in {MIGRATIONS_DIR}")
    return sorted(found, key=lambda m: m.version)


# ---------------------------------------------------------------- the audit chain

def json_text(value: Any) -> str | None:
    if value is None:
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.dumps(value, default=str, sort_keys=True)


AUDIT_FIELDS = ("audit_id", "logged_at", "actor", "os_user", "action", "entity", "entity_id", "before", "after")


def audit_digest(previous: str, entry: tuple) -> str:
    """The hash sealing one audit entry (its AUDIT_FIELDS, before and after as their JSON text) onto
    the hash of the entry before it ('' for the first)."""
    audit_id, logged_at, *rest = entry
    stamp = logged_at.isoformat(timespec="microseconds") if isinstance(logged_at, dt.datetime) else str(logged_at)
    text = json.dumps([int(audit_id), stamp, *[None if v is None else str(v) for v in rest]], ensure_ascii=False)
    return hashlib.sha256((previous + "\n" + text).encode("utf-8")).hexdigest()


def _last_hash(cur: duckdb.DuckDBPyConnection) -> str:
    row = cur.execute("SELECT entry_hash FROM audit_log ORDER BY audit_id DESC LIMIT 1").fetchone()
    return "" if row is None or row[0] is None else row[0]


def _append_audit(cur: duckdb.DuckDBPyConnection, actor: str, os_user: str, action: str, entity: str,
                  entity_id: Any, before: Any, after: Any) -> int:
    audit_id = cur.execute("SELECT nextval('audit_id_seq')").fetchone()[0]
    entry = (audit_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), actor, os_user, action, entity,
             None if entity_id is None else str(entity_id), json_text(before), json_text(after))
    cur.execute(f"INSERT INTO audit_log ({', '.join(AUDIT_FIELDS)}, entry_hash) VALUES "
                f"({', '.join('?' * (len(AUDIT_FIELDS) + 1))})", [*entry, audit_digest(_last_hash(cur), entry)])
    return audit_id


def _seal_existing_audit(cur: duckdb.DuckDBPyConnection) -> None:
    """Migration 8 starts the chain: the entries written before it are sealed in their order, once,
    inside the migration's transaction (an entry without a hash later is a break in the chain)."""
    previous = ""
    rows = cur.execute(f"SELECT {', '.join(AUDIT_FIELDS)}, CAST(before AS VARCHAR), CAST(after AS VARCHAR) "
                       f"FROM audit_log ORDER BY audit_id").fetchall()
    for row in rows:
        entry = (*row[:7], row[9], row[10])
        previous = audit_digest(previous, entry)
        cur.execute("UPDATE audit_log SET entry_hash = ? WHERE audit_id = ?", [previous, row[0]])


_AFTER_MIGRATION: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {8: _seal_existing_audit}


_handed_off = threading.local()


@contextmanager
def on_behalf_of(machine_user: str) -> Iterator[None]:
    """Writes of this thread inside the block name `machine_user` as their OS user: a command handed
    to the app (pilots.handoff) is logged as run by whoever ran it, not by the app's own account."""
    _handed_off.user = machine_user
    try:
        yield
    finally:
        _handed_off.user = None


def os_user() -> str:
    """Who runs this process on the machine (or handed it the command being run): kept with every
    audit entry, so a command-line write (which acts as the CCO office) still names the person or
    scheduler behind it."""
    handed = getattr(_handed_off, "user", None)
    if handed:
        return handed
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


# ---------------------------------------------------------------- writing

class WriteConflict(RuntimeError):
    """Another save got in first, or the database stayed busy; nothing of this write was stored."""


@dataclass
class Write:
    """An open write: its cursor (reads through it see what the write has done so far) and the
    audit entries it leaves, always as the acting user."""

    cursor: duckdb.DuckDBPyConnection
    actor: Actor
    entries: int = 0

    def execute(self, sql: str, parameters: Any = None) -> duckdb.DuckDBPyConnection:
        return self.cursor.execute(sql, parameters)

    def audit(self, action: str, entity: str, entity_id: Any = None, before: Any = None, after: Any = None) -> int:
        """Leave an audit entry for what this write did; returns its id."""
        self.entries += 1
        return _append_audit(self.cursor, self.actor.email, os_user(), action, entity, entity_id, before, after)


# How long a writer waits for the one before it before giving up with WriteConflict.
WRITE_WAIT_SECONDS = 60.0
_write_locks: dict[str, threading.RLock] = {}


def _write_lock(key: str) -> threading.RLock:
    with _handles_lock:
        return _write_locks.setdefault(key, threading.RLock())


def migrate(handle: duckdb.DuckDBPyConnection, before_upgrade: Callable[[int], None] | None = None) -> list[int]:
    """Apply every migration not yet recorded; each in its own transaction. Returns those applied.
    `before_upgrade` is called once, with the first version to apply, when a database that has been
    migrated before is about to be upgraded (not for a new one)."""
    cur = handle.cursor()
    try:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
            " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
        )
        done = {row[0] for row in cur.execute("SELECT version FROM schema_migrations").fetchall()}
        applied: list[int] = []
        for migration in migrations():
            if migration.version in done:
                continue
            if done and not applied and before_upgrade is not None:
                before_upgrade(migration.version)
            cur.begin()
            try:
                cur.execute(migration.sql)
                if migration.version in _AFTER_MIGRATION:
                    _AFTER_MIGRATION[migration.version](cur)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    [migration.version, migration.name],
                )
                cur.commit()
            except Exception:
                cur.rollback()
                raise
            applied.append(migration.version)
        return applied
    finally:
        cur.close()


class DatabaseInUse(RuntimeError):
    """Another process holds the database file (DuckDB lets one process write a file)."""


class DatabaseDamaged(RuntimeError):
    """The file is there but is not a readable database."""


class DatabaseLost(RuntimeError):
    """The file this process opened was deleted, replaced or damaged since: writes would vanish."""


def _latest_backup_words(path: Path) -> str:
    from .backup import latest_backup  # the backups know this module; asked only when something is wrong

    latest = latest_backup(path)
    return (f"the latest backup is {latest.path} (taken {latest.taken_at:%Y-%m-%d %H:%M}): "
            f"restore it with `pilots --db {path} restore {latest.path} --force`" if latest else
            "there is no backup beside it")


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        handle = duckdb.connect(str(path), config=_CONFIG)
    except duckdb.IOException as error:
        message = str(error).splitlines()[0]
        if "lock" in message.lower():
            holder = re.search(r"PID (\d+)", message)
            raise DatabaseInUse(f"{path} is in use by another process"
                                f"{f' (process {holder[1]})' if holder else ''}") from None
        raise DatabaseDamaged(f"{path} cannot be opened as a database ({message.removeprefix('IO Error: ')}); "
                              f"{_latest_backup_words(path)}") from None
    except duckdb.Error as error:
        raise DatabaseDamaged(f"{path} cannot be opened as a database ({str(error).splitlines()[0]}); "
                              f"{_latest_backup_words(path)}") from None
    def back_up(first_version: int) -> None:
        from .backup import backup_folder, copy_database

        copy_database(handle, path, backup_folder(path), f"before migration {first_version}")

    try:
        migrate(handle, before_upgrade=back_up)
    except Exception:
        handle.close()
        raise
    return handle


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


class Database:
    """A DuckDB file, migrated on first open (after a backup, when the file held an older schema).
    Cheap to create: handles are shared per process. DatabaseInUse when another process holds the
    file, DatabaseDamaged when it is not a database."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = database_path(path)
        key = str(self.path)
        with _handles_lock:
            handle = _handles.get(key)
            if handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle = _open(self.path)
                _handles[key] = handle
                _identities[key] = _identity(self.path)
        self._handle = handle

    @property
    def handle(self) -> duckdb.DuckDBPyConnection:
        """The process's one connection to the file (for backups; reads and writes use cursor/write)."""
        return self._handle

    def file_problem(self) -> str | None:
        """None while the file on disk is the one this process opened; else what happened to it."""
        now = _identity(self.path)
        if now is None:
            return f"the database file {self.path} has been deleted while the app was using it"
        if now != _identities.get(str(self.path)):
            return f"the database file {self.path} has been replaced by another file while the app was using it"
        return None

    def ensure_file(self) -> None:
        """DatabaseLost, naming the latest backup, if the file is no longer the one opened."""
        problem = self.file_problem()
        if problem:
            raise DatabaseLost(f"{problem}, so nothing more can be saved: {_latest_backup_words(self.path)}, "
                               f"then restart the app")

    def _open_transaction(self) -> duckdb.DuckDBPyConnection | None:
        return getattr(_open_transactions, str(self.path), None)

    def in_transaction(self) -> bool:
        """Whether this thread is inside a transaction on this database."""
        return self._open_transaction() is not None

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor; inside a transaction on this thread, that transaction's cursor, so that a
        read sees what the transaction has written so far."""
        ambient = self._open_transaction()
        if ambient is not None:
            yield ambient
            return
        cur = self._handle.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextmanager
    def write(self, actor: Actor, doing: str,
              permitted: Callable[[Actor, str], None] | None = require_editor) -> Iterator[Write]:
        """The one way to write: `doing` says what, in words ("edit a pilot"). The actor's right is
        checked by `permitted` (editors only unless told otherwise; None when the caller checks inside
        the block); a refusal raised inside the block is rolled back and leaves a "refused" audit entry.
        Writers of this process wait their turn; a conflict with a writer elsewhere, or a wait over
        WRITE_WAIT_SECONDS, raises WriteConflict. The block must leave at least one audit entry.
        A write opened inside another on the same thread joins it (loading the demo commits as one)."""
        ambient = self._open_transaction()
        if ambient is not None:
            write = Write(ambient, actor)
            if permitted is not None:
                permitted(actor, doing)
            yield write
            return
        self.ensure_file()
        lock = _write_lock(str(self.path))
        if not lock.acquire(timeout=WRITE_WAIT_SECONDS):
            raise WriteConflict(f"the database stayed busy for {WRITE_WAIT_SECONDS:.0f} s, so nothing was saved "
                                f"({doing}): try again in a moment")
        try:
            try:
                with self._transaction() as cur:
                    write = Write(cur, actor)
                    if permitted is not None:
                        permitted(actor, doing)
                    yield write
                    if write.entries == 0:
                        raise RuntimeError(f"a write that leaves no audit entry ({doing}) is not allowed")
            except AccessDenied as refused:
                with self._transaction() as cur:
                    _append_audit(cur, actor.email, os_user(), "refused", "access", None, None,
                                  {"doing": doing, "role": actor.role, "reason": str(refused)})
                raise
            except duckdb.TransactionException as conflict:
                raise WriteConflict(f"someone else saved at the same moment, so nothing was saved ({doing}): "
                                    f"load the latest and try again") from conflict
        finally:
            lock.release()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        key = str(self.path)
        with self.cursor() as cur:
            cur.begin()
            setattr(_open_transactions, key, cur)
            try:
                yield cur
            except BaseException:
                cur.rollback()
                raise
            else:
                cur.commit()
            finally:
                delattr(_open_transactions, key)

    def schema_version(self) -> int:
        with self.cursor() as cur:
            return cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]

    def close(self) -> None:
        """Close the shared handle for this file (tests and the command line use this)."""
        with _handles_lock:
            handle = _handles.pop(str(self.path), None)
            _identities.pop(str(self.path), None)
        if handle is not None:
            handle.close()
