"""Shared fixtures: real temporary DuckDB files and a small, readable organisation."""

import datetime as dt
import shutil
import subprocess
import sys
from contextlib import contextmanager

import duckdb
import pytest

from pilots import store
from pilots.access import COMMAND_LINE
from pilots.db import Database, migrations
from pilots.model import PilotDraft


def database_before(path, version: int) -> duckdb.DuckDBPyConnection:
    """A raw connection to a database file migrated only up to the migrations before `version`, as
    an older release left it: to test what a later migration does to stored rows."""
    handle = duckdb.connect(str(path))
    handle.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                   "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)")
    for migration in migrations():
        if migration.version < version:
            handle.execute(migration.sql)
            handle.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                           [migration.version, migration.name])
    return handle


@contextmanager
def held_by_another_process(path, seconds: float = 30):
    """Another process holding the DuckDB file at `path` (as a running app or command does) for at
    most `seconds`; yields that process. Killed when the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(float(sys.argv[2])); c.close()",
                               str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture(scope="session")
def migrated_file(tmp_path_factory):
    """An empty database with every migration applied, made once: copying it is four times quicker
    than migrating a new file for every test."""
    path = tmp_path_factory.mktemp("migrated") / "empty.duckdb"
    Database(path).close()
    return path


@pytest.fixture
def db(tmp_path, migrated_file):
    path = tmp_path / "pilots.duckdb"
    shutil.copyfile(migrated_file, path)
    database = Database(path)
    yield database
    database.close()


@pytest.fixture
def small_org(db):
    """Three units and one pilot in Retail with Online as its control."""
    store.add_unit(db, COMMAND_LINE, "Retail", head="Rita", customers=120_000, revenue_per_customer=300.0)
    store.add_unit(db, COMMAND_LINE, "Online", head="Omar", customers=400_000, revenue_per_customer=150.0)
    store.add_unit(db, COMMAND_LINE, "Claims", head="Chen", customers=80_000, revenue_per_customer=500.0)
    pilot_id = store.add_pilot(db, COMMAND_LINE, PilotDraft(
        name="Callback instead of hold queue", unit="Retail", primary_metric="nps",
        baseline_start=dt.date(2025, 1, 6), baseline_end=dt.date(2025, 3, 30),
        pilot_start=dt.date(2025, 3, 31), pilot_end=dt.date(2025, 6, 29),
        controls=["Online"], guardrail_metrics=["cost_to_serve"], target_effect=5.0))
    return db, pilot_id


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory):
    """The demo organisation, loaded once per test session into a DuckDB file (copy it to write)."""
    from pilots.demo import load_demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    database = Database(path)
    load_demo(database)
    database.close()
    return path


@pytest.fixture(scope="module")
def demo(demo_file, tmp_path_factory):
    """The demo organisation in a copy of its own for one test module."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    shutil.copy(demo_file, path)
    database = Database(path)
    yield database
    database.close()


@pytest.fixture
def demo_org(demo_file, tmp_path, monkeypatch):
    """A fresh copy of the demo organisation that the app opens (PILOTS_DB) and the test reads."""
    path = tmp_path / "pilots.duckdb"
    shutil.copy(demo_file, path)
    monkeypatch.setenv("PILOTS_DB", str(path))
    database = Database(path)
    yield database
    database.close()


# Markers by kind of test, so a quick subset can run while working (README: "Test"):
#   pytest -m "not browser and not apptest and not slow"
# Browser tests: every test_journey*.py, and these.
_BROWSER = {"test_journeys.py", "test_signin.py", "test_bench_browser.py"}
_SLOW = {"test_demo.py", "test_calibration.py", "test_bench_smoke.py", "test_analysis.py", "test_export.py",
         "test_slides.py", "test_cli_import.py", "test_ingest_properties.py", "test_roles.py", "test_doors.py",
         "test_backup.py", "test_crash_and_concurrency.py",
         "test_handoff.py"}


def pytest_collection_modifyitems(items):
    for item in items:
        name = item.path.name
        if name in _BROWSER or name.startswith("test_journey"):
            item.add_marker(pytest.mark.browser)
        elif name.startswith("test_page") or name == "test_pages.py":
            item.add_marker(pytest.mark.apptest)
        if name in _SLOW or "demo" in getattr(item, "fixturenames", ()) or "demo_org" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
