"""AppTest of app.py's guards around the database file: an empty database beside backups is a lost
deployment, so the demo is not loaded over it and the page says how to restore; a file deleted under
the running app is named on screen with the latest backup."""

from streamlit.testing.v1 import AppTest

from apptests import APP, read
from pilots import backup, store
from pilots.access import COMMAND_LINE
from pilots.db import Database


def run_app(path, monkeypatch) -> AppTest:
    monkeypatch.setenv("PILOTS_DB", str(path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_empty_database_beside_backups_gets_no_demo_but_the_way_to_restore(tmp_path, monkeypatch):
    kept = Database(tmp_path / "kept.duckdb")
    store.add_unit(kept, COMMAND_LINE, "Retail")
    saved = backup.make_backup(kept, COMMAND_LINE, to=tmp_path / "empty.duckdb.backups")
    kept.close()
    empty = Database(tmp_path / "empty.duckdb")
    at = run_app(empty.path, monkeypatch)
    assert any("backups of it exist" in read(e.value) and saved.name in read(e.value) for e in at.error)
    assert store.is_empty(empty)  # the demo was not loaded over it
    empty.close()


def test_a_file_deleted_under_the_app_is_named_with_the_latest_backup(small_org, monkeypatch):
    db, _ = small_org
    saved = backup.make_backup(db, COMMAND_LINE)
    db.path.unlink()
    at = run_app(db.path, monkeypatch)
    assert any("has been deleted" in read(e.value) and saved.name in read(e.value) for e in at.error)
