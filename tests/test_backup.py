"""Backups, restore and a lost file: a copy taken while writes go on is whole and opens; the oldest
are pruned; a restore checks the copy and refuses to overwrite without force; a deleted, replaced
or damaged file is noticed and named with the latest backup, and nothing is written after it."""

import shutil
import subprocess
import sys
import threading

import pytest

from pilots import audit, backup, comments, store
from pilots.access import COMMAND_LINE, AccessDenied, Actor
from pilots.db import Database, DatabaseDamaged, DatabaseLost

from conftest import database_before


def counts_in(path) -> dict:
    copy = Database(path)
    try:
        return store.table_counts(copy)
    finally:
        copy.close()


def test_a_backup_taken_while_others_write_is_whole_and_matches_its_manifest(small_org, tmp_path):
    db, pilot_id = small_org
    stop = threading.Event()

    def keep_commenting():
        while not stop.is_set():
            comments.add_comment(db, COMMAND_LINE, pilot_id, "still writing")

    writer = threading.Thread(target=keep_commenting)
    writer.start()
    try:
        taken = [backup.make_backup(db, COMMAND_LINE, reason="test") for _ in range(3)]
    finally:
        stop.set()
        writer.join()
    for copy in taken:
        checked = backup.check_backup(copy.path)
        assert checked.rows == copy.rows and copy.rows["comments"] >= 0
        stored = counts_in(shutil.copy(copy.path, tmp_path / "opened.duckdb"))
        assert {t: stored[t] for t in ("pilots", "business_units", "audit_log")} == \
            {t: copy.rows[t] for t in ("pilots", "business_units", "audit_log")}
    entries = audit.list_audit(db, COMMAND_LINE, audit.AuditFilter(actions=("backup",)))
    assert len(entries) == 3 and audit.verify_chain(db, COMMAND_LINE).intact


def test_only_the_newest_backups_are_kept_and_listed_newest_first(small_org):
    db, _ = small_org
    made = [backup.make_backup(db, COMMAND_LINE, keep=2, reason=f"round {i}") for i in range(4)]
    listed = backup.list_backups(db.path)
    assert [b.path for b in listed] == [made[3].path, made[2].path]
    assert not made[0].path.exists() and not made[1].path.exists()


def test_only_the_cco_office_makes_backups(small_org):
    db, _ = small_org
    with pytest.raises(AccessDenied):
        backup.make_backup(db, Actor("board@example.com", "steering"))
    assert backup.list_backups(db.path) == []


def test_restore_checks_the_copy_and_refuses_to_overwrite_without_force(small_org, tmp_path):
    db, pilot_id = small_org
    saved = backup.make_backup(db, COMMAND_LINE)
    comments.add_comment(db, COMMAND_LINE, pilot_id, "after the backup")
    db.close()
    with pytest.raises(backup.RestoreRefused, match="--force"):
        backup.restore_backup(saved.path, db.path)
    restored = backup.restore_backup(saved.path, db.path, force=True)
    assert restored.rows == saved.rows
    again = Database(db.path)
    assert comments.list_comments(again, COMMAND_LINE, pilot_id) == []
    assert audit.verify_chain(again, COMMAND_LINE).intact
    kept = [b for b in backup.list_backups(db.path) if b.reason == "before restore"]
    assert len(kept) == 1 and kept[0].rows["comments"] == 1  # what was replaced is kept
    again.close()


def test_restore_into_a_missing_file_needs_no_force(small_org, tmp_path):
    db, _ = small_org
    saved = backup.make_backup(db, COMMAND_LINE)
    target = tmp_path / "elsewhere" / "pilots.duckdb"
    backup.restore_backup(saved.path, target)
    assert counts_in(target)["pilots"] == 1


@pytest.mark.parametrize("damage", ["truncated", "garbage", "rows missing"])
def test_a_damaged_backup_is_refused_and_nothing_changes(small_org, tmp_path, damage):
    db, _ = small_org
    saved = backup.make_backup(db, COMMAND_LINE)
    if damage == "truncated":
        saved.path.write_bytes(saved.path.read_bytes()[:4096])
    elif damage == "garbage":
        saved.path.write_bytes(b"not a database at all" * 100)
    else:  # a whole file, but not the one the manifest describes
        other = Database(tmp_path / "other.duckdb")
        other.close()
        shutil.copyfile(other.path, saved.path)
    db.close()
    before = db.path.read_bytes()
    with pytest.raises(backup.RestoreRefused):
        backup.restore_backup(saved.path, db.path, force=True)
    assert db.path.read_bytes() == before


def test_a_backup_from_a_newer_schema_is_refused(small_org, tmp_path):
    db, _ = small_org
    saved = backup.make_backup(db, COMMAND_LINE)
    copy = Database(shutil.copy(saved.path, tmp_path / "newer.duckdb"))
    with copy.cursor() as cur:
        cur.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')")
    copy.close()
    with pytest.raises(backup.RestoreRefused, match="newer than this version"):
        backup.check_backup(copy.path)


def test_a_file_deleted_under_the_app_stops_writes_and_names_the_latest_backup(small_org):
    db, pilot_id = small_org
    saved = backup.make_backup(db, COMMAND_LINE)
    db.path.unlink()
    assert "deleted" in db.file_problem()
    with pytest.raises(DatabaseLost, match=saved.name):
        comments.add_comment(db, COMMAND_LINE, pilot_id, "written after delete")


def test_a_file_replaced_under_the_app_is_noticed(small_org, tmp_path):
    db, pilot_id = small_org
    replacement = tmp_path / "replacement.duckdb"
    shutil.copyfile(db.path, replacement)
    replacement.replace(db.path)
    assert "replaced" in db.file_problem()
    with pytest.raises(DatabaseLost):
        store.add_unit(db, COMMAND_LINE, "Phone")


def test_a_damaged_file_is_explained_with_the_way_back(small_org):
    db, _ = small_org
    saved = backup.make_backup(db, COMMAND_LINE)
    db.close()
    db.path.write_bytes(b"\x00" * 10_000)
    with pytest.raises(DatabaseDamaged, match="restore") as damaged:
        Database(db.path)
    assert saved.name in str(damaged.value)


def test_an_upgrade_takes_a_backup_before_migrating(tmp_path):
    path = tmp_path / "old.duckdb"
    database_before(path, 8).close()
    db = Database(path)
    listed = backup.list_backups(path)
    assert [b.reason for b in listed] == ["before migration 8"] and listed[0].schema_version == 7
    db.close()


def test_the_app_keeps_its_hold_on_the_file_after_a_backup(small_org):
    """POSIX drops a process's lock on a file when the process closes any handle of it: a backup that
    opened the database file itself would let another process open the database beside the app."""
    db, _ = small_org
    backup.make_backup(db, COMMAND_LINE)
    other = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])", str(db.path)],
                           capture_output=True, text=True)
    assert other.returncode != 0 and "Could not set lock" in other.stderr


def test_an_undo_of_an_import_is_preceded_by_a_backup(small_org):
    from pilots import ingest

    db, _ = small_org
    result = ingest.import_file(db, COMMAND_LINE, b"unit,metric,date,value\nRetail,nps,2025-01-06,9\n",
                                "observations", file_name="one.csv")
    ingest.undo_batch(db, COMMAND_LINE, result.batch_id)
    taken = backup.list_backups(db.path)
    assert [b.reason for b in taken] == [f"before undo of batch {result.batch_id}"]
    with_batch = backup.check_backup(taken[0].path)
    assert with_batch.rows["observations"] == 1  # the copy holds the rows the undo took out
