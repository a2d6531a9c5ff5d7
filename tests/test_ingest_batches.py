"""Batches that cannot surprise, on real temporary DuckDB files: an undone batch is redone with
exactly its rows, as one audited, all-or-nothing write; the analysis never reads undone rows and
reads redone ones; measurements a batch replaced go back and forth with it; a redo that would
overwrite newer data is refused, naming the period and the batch; a file identical to an earlier
batch is flagged and imported again only when allowed."""

import datetime as dt
import json

import pandas as pd
import pytest

from conftest import database_before
from pilots import cells, ingest, store
from pilots.access import COMMAND_LINE, AccessDenied, Actor
from pilots.db import Database
from pilots.model import ValidationError

CCO = Actor("cco@example.com", "editor")
OBSERVATIONS = ("unit,metric,date,value\n"
                + "".join(f"{unit},nps,2025-0{month}-1{day},{(day * 3 + month) % 11}\n"
                          for unit in ("Retail", "Online", "Claims") for month in (2, 5) for day in range(6)))
MEASUREMENTS = ("unit,metric,period_start,value,n,sd\nRetail,fcr,2025-01-06,0.70,100,\n"
                "Retail,fcr,2025-01-13,0.72,110,\nOnline,fcr,2025-01-06,0.65,90,0.2\nOnline,fcr,2025-01-13,0.61,,\n")


@pytest.fixture
def org(small_org):
    return small_org[0]


def rows(db, table, batch=None):
    with db.cursor() as cur:
        where = "" if batch is None else f" WHERE batch_id = {int(batch)}"
        return cur.execute(f"SELECT * FROM {table}{where} ORDER BY ALL").fetchall()


def audit_entries(db, action, entity_id=None):
    with db.cursor() as cur:
        found = cur.execute("SELECT actor, entity, entity_id, before, after FROM audit_log WHERE action = ? "
                            "AND (? IS NULL OR entity_id = ?) ORDER BY audit_id",
                            [action, entity_id, entity_id]).fetchall()
    return [(a, e, i, json.loads(b) if b else None, json.loads(x) if x else None) for a, e, i, b, x in found]


def imported(db, text, kind="observations", name="answers.csv", actor=COMMAND_LINE, **more):
    return ingest.import_file(db, actor, text.encode(), kind, file_name=name, **more)


def refused(db, call, *args, **kwargs):
    """The call is refused with a ValidationError, and nothing at all is written (rows, batches, audit)."""
    before = store.table_counts(db)
    undone = (len(rows(db, "undone_observations")), len(rows(db, "undone_measurements")))
    with pytest.raises(ValidationError) as error:
        call(db, *args, **kwargs)
    assert store.table_counts(db) == before
    assert (len(rows(db, "undone_observations")), len(rows(db, "undone_measurements"))) == undone
    return error.value.problems


# ---------------------------------------------------------------- redo

def test_redo_brings_back_exactly_the_rows_undone_as_one_audited_write(org):
    batch = imported(org, OBSERVATIONS).batch_id
    other = imported(org, "unit,metric,date,value\nRetail,nps,2025-02-20,10\n", name="one.csv").batch_id
    stored = rows(org, "observations")
    assert ingest.undo_batch(org, CCO, batch) == 36
    assert rows(org, "observations") == rows(org, "observations", other), "only the other batch stands"
    assert len(rows(org, "undone_observations", batch)) == 36

    assert ingest.redo_batch(org, CCO, batch) == 36
    assert rows(org, "observations") == stored, "the same rows, the same values, the same batch"
    assert rows(org, "undone_observations") == []
    [(who, entity, entity_id, before, after)] = audit_entries(org, "redo")
    assert (who, entity, entity_id) == (CCO.email, "batch", str(batch))
    assert before["undone_by"] == CCO.email and before["kept_for_redo"] == 36
    assert (after["rows"], after["kind"], after["source"], after["units"], after["metrics"]) == \
        (36, "observations", "answers.csv", "Claims, Online, Retail", "nps")
    listed = ingest.list_batches(org, CCO).set_index("batch")
    assert listed.loc[batch, "status"] == "Redone" and not listed.loc[batch, "undone"]
    assert listed.loc[batch, "redone_by"] == CCO.email and listed.loc[other, "status"] == "Active"

    problems = refused(org, ingest.redo_batch, CCO, batch)
    assert [(p.column, p.value) for p in problems] == [("batch", str(batch))]
    assert f"batch {batch} is not undone" in problems[0].reason
    assert "no import batch 99" in refused(org, ingest.redo_batch, CCO, 99)[0].reason

    # undo and redo again: a round trip as often as anyone likes
    ingest.undo_batch(org, CCO, batch)
    assert ingest.list_batches(org, CCO).set_index("batch").loc[batch, "status"] == "Undone"
    ingest.redo_batch(org, CCO, batch)
    assert rows(org, "observations") == stored and len(audit_entries(org, "redo")) == 2


def test_only_the_cco_office_redoes(org):
    batch = imported(org, OBSERVATIONS).batch_id
    ingest.undo_batch(org, CCO, batch)
    for who in (Actor("board@example.com", "steering"), Actor("rita@example.com", "unit_head", frozenset({1}))):
        with pytest.raises(AccessDenied):
            ingest.redo_batch(org, who, batch)
    assert rows(org, "observations") == []


def test_the_analysis_reads_no_undone_row_and_every_redone_one(small_org):
    db, pilot_id = small_org
    pilot = store.get_pilot(db, CCO, pilot_id)

    def analysed():
        found, _ = cells.pilot_cells(db, COMMAND_LINE, [pilot])
        return found.loc[found["block"] == 0, ["unit_id", "phase", "n", "mean"]].sort_values(
            ["unit_id", "phase"]).reset_index(drop=True)

    empty, empty_version = analysed(), cells.data_version(db)
    batch = imported(db, OBSERVATIONS).batch_id
    loaded, loaded_version = analysed(), cells.data_version(db)
    assert loaded["n"].sum() == 24 and empty.empty  # Retail and Online (the pilot's units) in both windows

    ingest.undo_batch(db, CCO, batch)
    undone_version = cells.data_version(db)
    assert analysed().empty
    assert undone_version not in (empty_version, loaded_version)

    ingest.redo_batch(db, CCO, batch)
    pd.testing.assert_frame_equal(analysed(), loaded)
    assert cells.data_version(db) not in (empty_version, loaded_version, undone_version)


def test_measurements_a_batch_replaced_come_back_with_its_undo_and_go_again_with_its_redo(org):
    first = imported(org, MEASUREMENTS, "measurements", "week.csv")
    original = rows(org, "measurements")
    fix = imported(org, "unit,metric,period_start,value,n\nRetail,fcr,2025-01-06,0.9,10\n"
                        "Retail,fcr,2025-12-29,0.9,10\n", "measurements", "fix.csv", replace=True)
    fixed = rows(org, "measurements")
    assert fix.replaced == 1

    ingest.undo_batch(org, CCO, fix.batch_id)
    assert rows(org, "measurements") == original
    assert ingest.redo_batch(org, CCO, fix.batch_id) == 2
    assert rows(org, "measurements") == fixed, "the batch's values back, the one it replaced out again"
    replaced_again = audit_entries(org, "replace", str(fix.batch_id))[-1]
    assert replaced_again[4] == {"batch_id": fix.batch_id, "redo": True}
    assert [(r["metric_key"], r["value"], r["batch_id"]) for r in replaced_again[3]] == [("fcr", 0.7, first.batch_id)]
    assert audit_entries(org, "redo")[0][4]["replaced_measurements"] == 1

    ingest.undo_batch(org, CCO, fix.batch_id)
    assert rows(org, "measurements") == original, "and a second undo puts it back once more"
    ingest.undo_batch(org, CCO, first.batch_id)
    assert rows(org, "measurements") == []


def test_a_value_a_later_batch_replaced_stays_with_that_batch_when_the_earlier_one_is_redone(org):
    first = imported(org, MEASUREMENTS, "measurements", "week.csv")
    original = rows(org, "measurements")
    fix = imported(org, "unit,metric,period_start,value,n\nRetail,fcr,2025-01-06,0.9,10\n", "measurements",
                   "fix.csv", replace=True)
    fixed = rows(org, "measurements")
    ingest.undo_batch(org, CCO, first.batch_id)   # its three standing rows go; the replaced one stays replaced
    ingest.undo_batch(org, CCO, fix.batch_id)     # the value it replaced belongs to an undone batch: kept with it
    assert rows(org, "measurements") == []
    assert len(rows(org, "undone_measurements", first.batch_id)) == 4
    ingest.redo_batch(org, CCO, fix.batch_id)
    ingest.redo_batch(org, CCO, first.batch_id)
    assert rows(org, "measurements") == fixed, "the state after both imports, as it was"
    ingest.undo_batch(org, CCO, fix.batch_id)
    assert rows(org, "measurements") == original


def test_a_redo_that_would_overwrite_a_newer_value_is_refused_naming_the_period_and_batch(org):
    first = imported(org, MEASUREMENTS, "measurements", "week.csv")
    ingest.undo_batch(org, CCO, first.batch_id)
    newer = imported(org, "unit,metric,period_start,value\nOnline,fcr,2025-01-13,0.5\n", "measurements", "new.csv")
    problems = refused(org, ingest.redo_batch, CCO, first.batch_id)
    assert [(p.row, p.column, p.value) for p in problems] == [(None, "period_start", "2025-01-13")]
    assert problems[0].reason.startswith(f"Online, fcr, 2025-01-13: batch {newer.batch_id} has stored 0.5 for this "
                                         f"period since; this batch would bring back 0.61. Undo batch {newer.batch_id} "
                                         "first")
    assert ingest.list_batches(org, CCO).set_index("batch").loc[first.batch_id, "status"] == "Undone"

    ingest.undo_batch(org, CCO, newer.batch_id)
    assert ingest.redo_batch(org, CCO, first.batch_id) == 4


def test_a_batch_undone_before_rows_were_kept_says_it_cannot_be_redone(tmp_path):
    path = tmp_path / "old.duckdb"
    handle = database_before(path, 6)
    handle.execute("INSERT INTO business_units (name) VALUES ('Retail')")
    handle.execute("INSERT INTO import_batches (kind, source, imported_by, row_count, undone_at, undone_by) VALUES "
                   "('observations', 'old.csv', 'x', 2, TIMESTAMP '2025-06-01 10:00', 'x'), "
                   "('observations', 'kept.csv', 'x', 1, NULL, NULL)")
    handle.execute("INSERT INTO observations VALUES (2, 1, 'nps', DATE '2025-01-01', 10)")
    handle.close()
    db = Database(path)
    try:
        listed = ingest.list_batches(db, CCO).set_index("batch")
        assert list(listed["status"]) == ["Active", "Undone"] and list(listed["can_redo"]) == [False, False]
        problems = refused(db, ingest.redo_batch, CCO, 1)
        assert "undone on 2025-06-01 10:00, before undone rows were kept" in problems[0].reason
        assert "import old.csv again" in problems[0].reason
        ingest.undo_batch(db, CCO, 2)
        assert ingest.redo_batch(db, CCO, 2) == 1
        assert rows(db, "observations") == [(2, 1, "nps", dt.date(2025, 1, 1), 10.0)]
    finally:
        db.close()


# ---------------------------------------------------------------- a file identical to an earlier batch

def test_the_same_file_twice_is_flagged_and_refused_unless_allowed(org, tmp_path):
    first = imported(org, OBSERVATIONS, actor=CCO)
    path = tmp_path / "answers-again.csv"
    path.write_text(OBSERVATIONS, encoding="utf-8")

    checked = ingest.validate_file(org, COMMAND_LINE, path.read_bytes(), "observations", "answers-again.csv")
    assert not checked.problems and checked.duplicate
    assert checked.identical_to.batch_id == first.batch_id and checked.identical_to.imported_by == CCO.email

    problems = refused(org, ingest.import_file, COMMAND_LINE, path, "observations")
    assert [(p.row, p.column, p.value) for p in problems] == [(None, "file", "answers-again.csv")]
    stamp = ingest.get_batch(org, CCO, first.batch_id).imported_at
    assert problems[0].reason.startswith(
        f"this file is identical to batch {first.batch_id} (answers.csv, 36 observations) imported on "
        f"{stamp:%Y-%m-%d %H:%M} by cco@example.com: importing it again would count its 36 observations twice")
    assert "--allow-duplicate" in problems[0].reason
    with pytest.raises(ValidationError, match="identical to batch"):
        ingest.commit(org, COMMAND_LINE, checked)

    again = ingest.import_file(org, COMMAND_LINE, path, "observations", allow_duplicate=True)
    assert again.rows == 36 and again.identical_to.batch_id == first.batch_id
    assert f"identical to batch {first.batch_id}" in str(again)
    with org.cursor() as cur:
        hashes = cur.execute("SELECT content_hash FROM import_batches ORDER BY batch_id").fetchall()
    assert hashes[0] == hashes[1] and len(hashes[0][0]) == 64


def test_a_different_file_is_not_flagged(org):
    imported(org, OBSERVATIONS)
    for other in (OBSERVATIONS + "Retail,nps,2025-02-20,10\n", OBSERVATIONS.replace("\n", "\r\n"),
                  OBSERVATIONS.replace("unit,metric", "Unit,Metric")):
        checked = ingest.validate_file(org, COMMAND_LINE, other.encode(), "observations", "other.csv")
        assert not checked.problems and checked.identical_to is None and not checked.duplicate
    result = imported(org, OBSERVATIONS + "Retail,nps,2025-02-20,10\n", name="more.csv")
    assert result.identical_to is None and "identical" not in str(result)


def test_a_file_identical_to_an_undone_batch_is_named_but_not_refused(org):
    batch = imported(org, OBSERVATIONS).batch_id
    ingest.undo_batch(org, CCO, batch)
    checked = ingest.validate_file(org, COMMAND_LINE, OBSERVATIONS.encode(), "observations", "answers.csv")
    assert checked.identical_to.batch_id == batch and checked.identical_to.undone and not checked.duplicate
    assert "undone on" in str(checked.identical_to)
    assert imported(org, OBSERVATIONS).rows == 36


def test_identical_measurements_are_refused_as_stored_or_replaced_by_choice(org):
    first = imported(org, MEASUREMENTS, "measurements", "week.csv")
    problems = refused(org, imported, MEASUREMENTS, "measurements", "week.csv")
    assert all("stored already" in p.reason for p in problems) and len(problems) == 4
    again = imported(org, MEASUREMENTS, "measurements", "week.csv", replace=True)
    assert again.replaced == 4 and again.identical_to.batch_id == first.batch_id


def test_tables_typed_in_the_app_carry_no_file_hash(org):
    frame = pd.DataFrame({"unit": ["Retail"], "metric": ["fcr"], "period_start": [dt.date(2025, 3, 3)],
                          "value": [0.7], "n": [50], "sd": [None]})
    saved = ingest.save_measurements(org, CCO, frame)
    with org.cursor() as cur:
        assert cur.execute("SELECT content_hash FROM import_batches WHERE batch_id = ?",
                           [saved.batch_id]).fetchone() == (None,)
    assert ingest.content_hash(frame) is None
