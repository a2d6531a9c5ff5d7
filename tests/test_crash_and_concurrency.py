"""Running for real: a command-line import killed (-9) at any point leaves a file that opens, with
the batch all there or not at all and everything before it intact; and many sessions editing,
importing, undoing and analysing at once lose nothing, duplicate nothing and see no raw error."""

import datetime as dt
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pilots import analysis, audit, ingest, store
from pilots.access import COMMAND_LINE, Actor
from pilots.db import Database, DatabaseInUse

from conftest import held_by_another_process
from pilots.model import PilotDraft, ValidationError

REPO = Path(__file__).resolve().parents[1]
UNITS = ("Retail", "Online", "Phone")


def small_org(path: Path) -> tuple[Database, int]:
    db = Database(path)
    for name in UNITS:
        store.add_unit(db, COMMAND_LINE, name)
    pilot_id = store.add_pilot(db, COMMAND_LINE, PilotDraft(
        name="Callback", unit="Retail", primary_metric="nps", baseline_start=dt.date(2025, 1, 6),
        baseline_end=dt.date(2025, 3, 30), pilot_start=dt.date(2025, 3, 31), pilot_end=dt.date(2025, 6, 29),
        controls=["Online", "Phone"]))
    return db, pilot_id


def answers_csv(path: Path, rows: int, seed: int, start: dt.date = dt.date(2025, 1, 6)) -> Path:
    rng = np.random.default_rng(seed)
    days = [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 175, rows)]
    units = rng.choice(UNITS, rows)
    scores = rng.integers(0, 11, rows)
    with path.open("w", encoding="utf-8") as out:
        out.write("unit,metric,date,value\n")
        out.writelines(f"{u},nps,{d:%Y-%m-%d},{s}\n" for u, d, s in zip(units, days, scores))
    return path


def cli(db_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pilots", "--db", str(db_path), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_an_import_killed_at_any_point_is_all_or_nothing(tmp_path):
    path = tmp_path / "pilots.duckdb"
    db, pilot_id = small_org(path)
    ingest.import_file(db, COMMAND_LINE, answers_csv(tmp_path / "first.csv", 5_000, seed=1), "observations")
    chain_before = audit.verify_chain(db, COMMAND_LINE)
    db.close()
    big = answers_csv(tmp_path / "big.csv", 400_000, seed=2)
    # How long one whole import takes here and now (the machine may be busy), on a copy: the kills are
    # spread over that time.
    timing = shutil.copyfile(path, tmp_path / "timing.duckdb")
    started = time.monotonic()
    whole = cli(timing, "import", "observations", str(big))
    assert whole.wait() == 0, whole.stderr.read()
    took = time.monotonic() - started
    outcomes, killed = [], 0
    for delay in (0.02, *(took * share for share in (0.2, 0.4, 0.6, 0.8, 0.95)), took * 2):
        process = cli(path, "import", "observations", str(big), "--allow-duplicate")
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.returncode == -signal.SIGKILL:
            killed += 1
        else:  # it had finished: then it must have succeeded, not stopped on a usage error
            assert process.returncode == 0, process.stderr.read()
        db = Database(path)  # the file opens after every crash
        try:
            with db.cursor() as cur:
                stored = dict(cur.execute("SELECT batch_id, row_count FROM import_batches").fetchall())
                per_batch = dict(cur.execute("SELECT batch_id, count(*) FROM observations GROUP BY 1").fetchall())
            assert per_batch == stored, "a batch is all there or not at all"
            assert sorted(set(per_batch.values())) in ([5_000], [5_000, 400_000])
            check = audit.verify_chain(db, COMMAND_LINE)
            assert check.intact and check.entries >= chain_before.entries
            outcomes.append(len(per_batch) - 1)
            assert analysis.analyze_pilot(db, COMMAND_LINE, pilot_id).pilot_id == pilot_id  # the app's work runs
        finally:
            db.close()
    assert killed >= 3 and outcomes[0] == 0 and outcomes == sorted(outcomes)


def test_many_sessions_at_once_lose_nothing_and_duplicate_nothing(tmp_path):
    db, pilot_id = small_org(tmp_path / "pilots.duckdb")
    first = ingest.import_file(db, COMMAND_LINE, answers_csv(tmp_path / "first.csv", 3_000, seed=1), "observations")
    files = [answers_csv(tmp_path / f"load{i}.csv", 2_000, seed=10 + i) for i in range(3)]
    edits_saved, unexpected, analyses = [], [], []
    start = threading.Barrier(13)

    def editor(i):
        start.wait()
        for round_ in range(4):
            while True:
                pilot = store.get_pilot(db, COMMAND_LINE, pilot_id)
                draft = store.pilot_draft(pilot)
                draft.owner = f"editor {i} round {round_}"
                try:
                    store.update_pilot(db, Actor(f"e{i}@example.com", "editor"), pilot_id, draft, pilot.version)
                    edits_saved.append(draft.owner)
                    break
                except store.StaleEdit:
                    continue  # reloaded and tried again, as a person would after "someone else just saved"

    def unit_adder(i):
        start.wait()
        try:
            store.add_unit(db, Actor(f"u{i}@example.com", "editor"), "Dup Unit" if i % 2 else "dup unit")
        except ValidationError as refused:
            assert "exists already" in str(refused)

    def importer(path):
        start.wait()
        ingest.import_file(db, COMMAND_LINE, path, "observations")

    def undoer():
        start.wait()
        ingest.undo_batch(db, COMMAND_LINE, first.batch_id)

    def analyst():
        start.wait()
        for _ in range(3):
            analyses.append(analysis.analyze_pilot(db, COMMAND_LINE, pilot_id))

    jobs = ([lambda i=i: editor(i) for i in range(4)] + [lambda i=i: unit_adder(i) for i in range(4)]
            + [lambda p=p: importer(p) for p in files] + [undoer, analyst])

    def guarded(job):
        try:
            job()
        except BaseException as error:  # anything else is a failure of the test
            unexpected.append(error)

    threads = [threading.Thread(target=guarded, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert unexpected == []
    pilot = store.get_pilot(db, COMMAND_LINE, pilot_id)
    assert pilot.version == 1 + len(edits_saved) == 17 and pilot.owner in edits_saved
    assert [u.name.casefold() for u in store.list_units(db, COMMAND_LINE)].count("dup unit") == 1
    with db.cursor() as cur:
        per_batch = dict(cur.execute("SELECT batch_id, count(*) FROM observations GROUP BY 1").fetchall())
    assert sorted(per_batch.values()) == [2_000, 2_000, 2_000] and first.batch_id not in per_batch
    updates = audit.list_audit(db, COMMAND_LINE, audit.AuditFilter(actions=("update",), entities=("pilot",)))
    assert len(updates) == 16 and audit.verify_chain(db, COMMAND_LINE).intact
    settled = analysis.analyze_pilot(db, COMMAND_LINE, pilot_id)
    again = analysis.analyze_pilot(db, COMMAND_LINE, pilot_id)
    assert settled == again and len(analyses) == 3
    db.close()


def test_the_process_id_of_a_holder_is_never_shown_raw(tmp_path):
    """While another process holds the file, opening it says so in words (the CLI and app build on this)."""
    path = tmp_path / "held.duckdb"
    Database(path).close()
    with held_by_another_process(path) as holder:
        with pytest.raises(DatabaseInUse, match=f"in use by another process \\(process {holder.pid}\\)"):
            Database(path)
