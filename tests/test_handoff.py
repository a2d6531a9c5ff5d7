"""Loads while the app serves: this test process plays the app (it holds the database file and
serves its inbox, as app.py does), and `pilots` commands run as separate processes, as a scheduler
runs them. They are taken over and answered with the app's own handle: same batch, same audit entry
(with the OS user who ran the command), same refusals and exit codes; without a server they wait
their turn."""

import datetime as dt
import getpass
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pilots import audit, backup, cli, comments, handoff, ingest, store
from pilots.access import COMMAND_LINE
from pilots.db import Database

from conftest import held_by_another_process
from pilots.model import PilotDraft

REPO = Path(__file__).resolve().parents[1]


def pilots_command(db_path: Path, *args: str, cwd: Path = REPO, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pilots", "--db", str(db_path), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def serving_app(tmp_path):
    db = Database(tmp_path / "pilots.duckdb")
    for name in ("Retail", "Online"):
        store.add_unit(db, COMMAND_LINE, name)
    pilot_id = store.add_pilot(db, COMMAND_LINE, PilotDraft(
        name="Callback", unit="Retail", primary_metric="nps", baseline_start=dt.date(2025, 1, 6),
        baseline_end=dt.date(2025, 3, 30), pilot_start=dt.date(2025, 3, 31), pilot_end=dt.date(2025, 6, 29),
        controls=["Online"]))
    handoff.start_serving(db.path, cli.answer_handed_over(db))
    yield db, pilot_id, tmp_path
    handoff.stop_serving(db.path)
    db.close()


def answers(folder: Path, name: str, day: int) -> Path:
    path = folder / name
    path.write_text("unit,metric,date,value\n" + "".join(
        f"{unit},nps,2025-01-{day:02d},{score}\n" for unit in ("Retail", "Online") for score in range(11)),
        encoding="utf-8")
    return path


def test_an_import_while_the_app_serves_is_taken_over_all_or_nothing_and_audited(serving_app):
    db, _, folder = serving_app
    answers(folder, "monday.csv", 6)
    done = pilots_command(db.path, "import", "observations", "monday.csv", cwd=folder)  # a path relative to cwd
    assert done.returncode == 0, done.stderr
    assert "22 observations from monday.csv" in done.stdout
    batches = ingest.list_batches(db, COMMAND_LINE)
    assert len(batches) == 1
    with db.cursor() as cur:
        actor, os_user = cur.execute("SELECT actor, os_user FROM audit_log WHERE action = 'import'").fetchone()
    assert (actor, os_user) == (COMMAND_LINE.email, getpass.getuser())
    assert audit.verify_chain(db, COMMAND_LINE).intact

    (folder / "broken.csv").write_text("unit,metric,date,value\nRetail,nps,2025-01-07,11\n", encoding="utf-8")
    refused = pilots_command(db.path, "import", "observations", str(folder / "broken.csv"))
    assert refused.returncode == 1 and "row 1" in refused.stderr and "Traceback" not in refused.stderr
    assert len(ingest.list_batches(db, COMMAND_LINE)) == 1  # nothing of the refused file


def test_reads_backups_and_the_audit_check_are_taken_over_too(serving_app):
    db, pilot_id, folder = serving_app
    listed = pilots_command(db.path, "pilots", "list")
    assert listed.returncode == 0 and "Callback" in listed.stdout
    made = pilots_command(db.path, "backup", "--to", "copies", cwd=folder)
    assert made.returncode == 0, made.stderr
    assert [b.reason for b in backup.list_backups(db.path, folder / "copies")] == ["command line"]
    verified = pilots_command(db.path, "audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout
    restore = pilots_command(db.path, "restore", str(backup.list_backups(db.path, folder / "copies")[0].path),
                             "--force")
    assert restore.returncode == 1 and "stop it, then restore" in restore.stderr


def test_commands_and_app_edits_at_once_lose_nothing(serving_app):
    db, pilot_id, folder = serving_app
    files = [answers(folder, f"day{day}.csv", day) for day in range(6, 12)]
    results, stop = [], threading.Event()

    def app_sessions():
        while not stop.is_set():
            comments.add_comment(db, COMMAND_LINE, pilot_id, "a session's comment")

    session = threading.Thread(target=app_sessions)
    session.start()
    try:
        processes = [subprocess.Popen([sys.executable, "-m", "pilots", "--db", str(db.path), "import", "observations",
                                       str(f)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for f in files]
        for process in processes:
            out, err = process.communicate(timeout=180)
            results.append((process.returncode, err))
    finally:
        stop.set()
        session.join()
    assert results == [(0, "")] * len(files)
    with db.cursor() as cur:
        per_batch = [n for (n,) in cur.execute("SELECT count(*) FROM observations GROUP BY batch_id").fetchall()]
    assert per_batch == [22] * len(files)
    assert audit.verify_chain(db, COMMAND_LINE).intact


def test_without_a_server_a_command_waits_for_the_file_then_runs(tmp_path):
    path = tmp_path / "pilots.duckdb"
    Database(path).close()
    with held_by_another_process(path, seconds=2) as holder:
        started = time.monotonic()
        done = pilots_command(path, "--wait", "30", "units", "add", "Retail")
        holder.wait()
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30


def test_a_command_whose_server_stopped_is_withdrawn_with_a_clear_message(tmp_path):
    path = tmp_path / "pilots.duckdb"
    inbox = handoff.inbox(path)
    inbox.mkdir()
    # A heartbeat that goes stale at once: an app that has just stopped without taking the command.
    (inbox / "serving.json").write_text(f'{{"pid": 1, "at": {time.time() - handoff.STALE_AFTER_SECONDS + 0.3}}}')
    with pytest.raises(handoff.HandOffFailed, match="had not started it; nothing was done"):
        handoff.submit(path, ["units", "list"], str(tmp_path), "someone")
    assert list(inbox.glob("*.request.json")) == []
