import threading

import duckdb
import pytest

from pilots.access import COMMAND_LINE
from pilots.db import Database, migrations

from conftest import database_before


def test_fresh_file_is_migrated_to_the_latest_version(tmp_path):
    db = Database(tmp_path / "new" / "p.duckdb")
    assert db.schema_version() == migrations()[-1].version
    with db.cursor() as cur:
        keys = {row[0] for row in cur.execute("SELECT metric_key FROM metrics").fetchall()}
    assert {"nps", "csat", "ces", "fcr", "churn", "complaints", "resolution_days", "cost_to_serve"} <= keys
    db.close()


def test_migrations_are_numbered_uniquely_and_safe_to_rerun(tmp_path):
    versions = [m.version for m in migrations()]
    assert versions == sorted(set(versions)) and versions[0] == 1
    path = tmp_path / "p.duckdb"
    Database(path).close()
    db = Database(path)  # a second open re-runs migrate(): nothing applied twice, nothing duplicated
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(versions)
        assert cur.execute("SELECT count(*) FROM metrics").fetchone()[0] == 8
    db.close()


def test_path_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PILOTS_DB", str(tmp_path / "env.duckdb"))
    db = Database()
    assert db.path == tmp_path / "env.duckdb"
    db.close()


def test_one_handle_serves_many_threads(db):
    with db.write(COMMAND_LINE, "add units") as w:
        w.execute("INSERT INTO business_units (name) SELECT 'unit ' || i FROM range(50) t(i)")
        w.audit("add", "unit")
    counts, errors = [], []

    def read():
        try:
            for _ in range(20):
                with db.cursor() as cur:
                    counts.append(cur.execute("SELECT count(*) FROM business_units").fetchone()[0])
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and counts == [50] * 160


def test_a_write_rolls_back_on_error(db):
    with pytest.raises(duckdb.ConstraintException):
        with db.write(COMMAND_LINE, "add units") as w:
            w.execute("INSERT INTO business_units (name) VALUES ('kept only if committed')")
            w.audit("add", "unit")
            w.execute("INSERT INTO business_units (name, customers) VALUES ('bad', -1)")
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM business_units").fetchone()[0] == 0


def test_a_write_inside_another_joins_it(db):
    with pytest.raises(RuntimeError, match="after the inner block"):
        with db.write(COMMAND_LINE, "outer") as outer:
            with db.write(COMMAND_LINE, "inner") as inner:
                inner.execute("INSERT INTO business_units (name) VALUES ('inner')")
                inner.audit("add", "unit", 1)
            with db.cursor() as cur:  # a read inside the write sees its own writes
                assert cur.execute("SELECT count(*) FROM business_units").fetchone()[0] == 1
            outer.audit("test", "unit")
            raise RuntimeError("after the inner block")
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM business_units").fetchone()[0] == 0
        assert cur.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0
    with db.write(COMMAND_LINE, "kept") as w:  # the next write on this thread is a new one
        w.execute("INSERT INTO business_units (name) VALUES ('kept')")
        w.audit("add", "unit", 1)
    with db.cursor() as cur:
        assert cur.execute("SELECT name FROM business_units").fetchall() == [("kept",)]


@pytest.mark.parametrize("statement", [
    "INSERT INTO pilots (name, unit_id, baseline_start, baseline_end, pilot_start, pilot_end, primary_metric) "
    "VALUES ('no such unit', 999, DATE '2025-01-01', DATE '2025-02-01', DATE '2025-03-01', DATE '2025-04-01', 'nps')",
    "INSERT INTO metrics (metric_key, label, direction, aggregation) VALUES ('Bad Key', 'x', 'higher', 'mean')",
    "INSERT INTO metrics (metric_key, label, direction, aggregation) VALUES ('sideways', 'x', 'sideways', 'mean')",
    "INSERT INTO measurements (unit_id, metric_key, period_start, value, batch_id) "
    "VALUES (1, 'nps', DATE '2025-01-01', 5, 1)",
    "INSERT INTO observations VALUES (1, 1, 'nps', DATE '2025-01-01', 'nan')",
    "INSERT INTO users (email, role) VALUES ('x@example.com', 'admin')",
])
def test_constraints_refuse_bad_rows(db, statement):
    with pytest.raises(duckdb.ConstraintException):
        with db.cursor() as cur:
            cur.execute(statement)


def test_extension_autoinstall_is_off(db):
    with db.cursor() as cur:
        setting = cur.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()[0]
    assert setting is False


def test_upgrade_from_version_4_keeps_observations(tmp_path):
    """Migration 5 rebuilds the observations table: rows stored before it must survive it."""
    path = tmp_path / "old.duckdb"
    handle = database_before(path, 5)
    handle.execute("INSERT INTO business_units (name) VALUES ('Retail')")
    handle.execute("INSERT INTO import_batches (kind, source, imported_by, row_count) "
                   "VALUES ('observations', 'old.csv', 'x', 2)")
    handle.execute("INSERT INTO observations VALUES (1, 1, 'nps', DATE '2025-01-01', 10), "
                   "(1, 1, 'nps', DATE '2025-01-02', 3)")
    handle.close()
    db = Database(path)
    with db.cursor() as cur:
        scores = sorted(r[0] for r in cur.execute("SELECT score FROM scored_observations").fetchall())
    assert db.schema_version() >= 5 and scores == [-100.0, 100.0]
    db.close()
