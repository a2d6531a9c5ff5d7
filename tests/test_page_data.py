"""AppTest of the Data page: upload → preview → problems → commit, a file identical to an earlier
batch flagged and imported again only when confirmed, undo (newest batch preselected, the
confirmation naming it, "Undone" at the top) and redo, manual entry refused and saved, templates and
coverage rendered."""

import datetime as dt
from pathlib import Path

import pytest
from streamlit.proto.Dataframe_pb2 import Dataframe as DataframeProto
from streamlit.testing.v1 import AppTest

from apptests import open_page, read
from pilots import ingest, reading, store
from pilots.access import COMMAND_LINE, Actor
from pilots.db import Database

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"


@pytest.fixture
def data_db(tmp_path, monkeypatch):
    """A small database with units (so the app does not load the demo), used by the app via PILOTS_DB."""
    path = tmp_path / "page.duckdb"
    db = Database(path)
    for name in ("Retail", "Online", "Claims"):
        store.add_unit(db, COMMAND_LINE, name)
    monkeypatch.setenv("PILOTS_DB", str(path))
    yield db
    db.close()


def open_data_page() -> AppTest:
    return open_page("data")


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, content, "text/csv"))
    at.run()
    assert not at.exception, at.exception
    return at


def test_upload_with_problems_shows_them_and_offers_no_import(data_db):
    at = upload(open_data_page(), "bad.csv", (SAMPLES / "observations_with_problems.csv").read_bytes())
    before = store.table_counts(data_db)
    preview = at.dataframe[0].value
    assert list(preview.columns) == ["row", "unit", "metric", "date", "value"] and len(preview) == 5
    assert "5 problems" in at.error[0].value
    problems = at.dataframe[1].value
    assert list(problems.columns) == ["row", "column", "value", "reason"]
    assert "did you mean 'Retail'" in problems.loc[problems["row"] == 1, "reason"].item()
    assert not [b for b in at.button if b.key == "import_commit"]
    assert store.table_counts(data_db) == before


def batches_table(at: AppTest):
    return next(df.value for df in at.dataframe if "history" in df.value.columns)


def test_upload_preview_commit_then_undo(data_db):
    at = upload(open_data_page(), "observations.csv", (SAMPLES / "observations.csv").read_bytes())
    expected_rows = len((SAMPLES / "observations.csv").read_text().strip().splitlines()) - 1
    assert read(at.subheader[0].value) == f"observations.csv: {expected_rows} data rows"
    assert len(at.dataframe[0].value) == min(expected_rows, reading.PREVIEW_ROWS)
    assert store.table_counts(data_db)["observations"] == 0

    at.button(key="import_commit").click().run()
    assert not at.exception, at.exception
    assert store.table_counts(data_db)["observations"] == expected_rows
    (batch,) = ingest.list_batches(data_db, COMMAND_LINE)["batch"]
    assert f"batch {batch}" in at.success[0].value
    assert not [b for b in at.button if b.key == "import_commit"], "the same file is not offered twice"
    # the imported upload is let go: no check of it kept in the session, and a fresh, empty uploader
    assert "import_validation" not in at.session_state
    assert at.file_uploader[0].key == "import_file_1" and at.file_uploader[0].value is None

    assert at.selectbox(key="undo_choice").value == batch
    at.button(key="undo_ask").click().run()
    assert f"batch {batch}" in at.warning[0].value
    assert store.table_counts(data_db)["observations"] == expected_rows, "nothing happens before confirming"
    at.button(key="undo_confirm").click().run()
    assert not at.exception, at.exception
    assert store.table_counts(data_db)["observations"] == 0
    assert at.session_state["data_tab"] == "Batches", "the page stays on the batches it acted on"
    assert f"Batch {batch} undone" in at.success[0].value and "Undone" in at.success[0].value
    table = batches_table(at)
    assert list(table.columns)[0] == "status" and table.loc[0, "status"] == "Undone"
    assert bool(ingest.list_batches(data_db, COMMAND_LINE).set_index("batch").loc[batch, "undone"])


def test_undo_preselects_the_newest_batch_and_names_it_before_anything_happens(data_db, tmp_path):
    older = ingest.import_file(data_db, COMMAND_LINE, SAMPLES / "observations.csv", "observations").batch_id
    at = open_data_page()
    assert at.selectbox(key="undo_choice").value == older
    at.run()
    assert at.selectbox(key="undo_choice").value == older

    text = "unit,metric,date,value\nRetail,nps,2025-04-07,9\nOnline,nps,2025-04-08,3\n"
    upload(at, "april.csv", text.encode())
    at.button(key="import_commit").click().run()
    newest = int(ingest.list_batches(data_db, COMMAND_LINE)["batch"].max())
    assert newest != older
    table = batches_table(at)
    assert table["batch"].tolist() == [newest, older], "the table lists the new batch first"
    assert at.selectbox(key="undo_choice").value == newest, "and the undo picker offers it first"
    assert at.selectbox(key="undo_choice").options[0].startswith(f"batch {newest}: april.csv, 2 observations")

    # a batch picked on purpose stays picked while nothing changes...
    at.selectbox(key="undo_choice").select(older).run()
    assert at.selectbox(key="undo_choice").value == older
    # ...and a batch imported meanwhile (the command line, another editor) is preselected again
    third = ingest.import_file(data_db, COMMAND_LINE, (SAMPLES / "observations.csv").read_bytes(), "observations",
                               file_name="again.csv", allow_duplicate=True).batch_id
    at.run()
    assert at.selectbox(key="undo_choice").value == third

    at.button(key="undo_ask").click().run()
    (question,) = [read(w.value) for w in at.warning if "Undo batch" in w.value]
    rows = ingest.list_batches(data_db, COMMAND_LINE).set_index("batch").loc[third]
    assert f"Undo batch {third}: again.csv, {rows['rows']} observations imported on " \
           f"{rows['imported_at']:%Y-%m-%d %H:%M} by command-line?" in question
    counts = store.table_counts(data_db)
    at.button(key="undo_cancel").click().run()
    assert not [w for w in at.warning if "Undo batch" in w.value] and store.table_counts(data_db) == counts


def test_redo_brings_an_undone_batch_back_after_a_confirmation(data_db):
    batch = ingest.import_file(data_db, COMMAND_LINE, SAMPLES / "observations.csv", "observations").batch_id
    with data_db.cursor() as cur:
        stored = cur.execute("SELECT * FROM observations ORDER BY ALL").fetchall()
    ingest.undo_batch(data_db, COMMAND_LINE, batch)
    at = open_data_page()
    assert batches_table(at).loc[0, "status"] == "Undone"
    assert at.selectbox(key="redo_choice").value == batch
    assert not [s for s in at.selectbox if s.key == "undo_choice"], "nothing standing to undo"
    at.button(key="redo_ask").click().run()
    (question,) = [read(w.value) for w in at.warning if "Redo batch" in w.value]
    assert f"Redo batch {batch}: observations.csv" in question and "undone on" in question
    assert store.table_counts(data_db)["observations"] == 0, "nothing happens before confirming"
    at.button(key="redo_confirm").click().run()
    assert not at.exception, at.exception
    with data_db.cursor() as cur:
        assert cur.execute("SELECT * FROM observations ORDER BY ALL").fetchall() == stored
    assert f"Batch {batch} redone" in at.success[0].value
    assert batches_table(at).loc[0, "status"] == "Redone"
    assert at.selectbox(key="undo_choice").value == batch and not [s for s in at.selectbox if s.key == "redo_choice"]


def test_a_refused_redo_says_why_and_changes_nothing(data_db):
    first = ingest.import_file(data_db, COMMAND_LINE, SAMPLES / "measurements.csv", "measurements")
    ingest.undo_batch(data_db, COMMAND_LINE, first.batch_id)
    text = "unit,metric,period_start,value\nRetail,resolution_days,2025-01-06,9.5\n"
    newer = ingest.import_file(data_db, COMMAND_LINE, text.encode(), "measurements", file_name="newer.csv")
    at = open_data_page()
    at.button(key="redo_ask").click().run()
    counts = store.table_counts(data_db)
    at.button(key="redo_confirm").click().run()
    assert not at.exception, at.exception
    assert "Refused, nothing was saved: 1 problem" in at.error[0].value
    problems = next(df.value for df in at.dataframe if "reason" in df.value.columns)
    assert problems[["column", "value"]].values.tolist() == [["period_start", "2025-01-06"]]
    assert f"batch {newer.batch_id} has stored 9.5 for this period since" in problems["reason"].item()
    assert store.table_counts(data_db) == counts
    assert batches_table(at).set_index("batch").loc[first.batch_id, "status"] == "Undone"


def test_a_file_identical_to_an_earlier_batch_is_flagged_and_needs_a_confirmation(data_db):
    content = (SAMPLES / "observations.csv").read_bytes()
    first = ingest.import_file(data_db, Actor("cco@example.com", "editor"), content, "observations",
                               file_name="answers.csv")
    at = upload(open_data_page(), "answers-copy.csv", content)
    (warning,) = [read(w.value) for w in at.warning if "identical" in w.value]
    imported = ingest.list_batches(data_db, COMMAND_LINE).set_index("batch").loc[first.batch_id, "imported_at"]
    assert warning.startswith(f"This file is identical to batch {first.batch_id} imported on "
                              f"{imported:%Y-%m-%d %H:%M} by cco@example.com (answers.csv, {first.rows} observations)")
    assert "count its" in warning and "twice" in warning
    assert at.button(key="import_commit").disabled, "not imported again without a confirmation"
    before = store.table_counts(data_db)
    [confirm] = [c for c in at.checkbox if c.key.startswith("import_duplicate_ok")]
    confirm.check().run()
    assert not at.button(key="import_commit").disabled
    at.button(key="import_commit").click().run()
    assert not at.exception, at.exception
    assert store.table_counts(data_db)["import_batches"] == before["import_batches"] + 1
    assert "identical to batch" in at.success[0].value

    other = upload(open_data_page(), "other.csv", content.replace(b"\n", b"\r\n"))
    assert not [w for w in other.warning if "identical" in w.value], "a different file is not flagged"
    assert not other.button(key="import_commit").disabled


def test_a_file_identical_to_an_undone_batch_points_to_its_redo(data_db):
    content = (SAMPLES / "observations.csv").read_bytes()
    batch = ingest.import_file(data_db, COMMAND_LINE, content, "observations", file_name="answers.csv").batch_id
    ingest.undo_batch(data_db, COMMAND_LINE, batch)
    at = upload(open_data_page(), "answers.csv", content)
    assert not [w for w in at.warning if "identical" in w.value]
    (note,) = [i.value for i in at.info if "identical" in i.value]
    assert f"redo batch {batch}" in note
    assert not at.button(key="import_commit").disabled


def test_measurements_stored_already_need_the_replace_box(data_db):
    ingest.import_file(data_db, COMMAND_LINE, SAMPLES / "measurements.csv", "measurements")
    at = open_data_page()
    at.radio(key="import_kind").set_value("measurements").run()
    upload(at, "measurements.csv", (SAMPLES / "measurements.csv").read_bytes())
    assert "stored already" in at.dataframe[1].value["reason"].iloc[0]
    at.checkbox(key="import_replace").check().run()
    assert not at.error
    (warning,) = [read(w.value) for w in at.warning if "identical" in w.value]
    assert "write the same values over them" in warning
    [c for c in at.checkbox if c.key.startswith("import_duplicate_ok")][0].check().run()
    at.button(key="import_commit").click().run()
    assert "replaced" in at.success[0].value
    assert store.table_counts(data_db)["import_batches"] == 2


def test_manual_entry_refuses_a_bad_cell_then_saves(data_db):
    at = open_data_page()
    editor_key = "manual_editor_None_None"
    # rows can be added and corrected, not deleted: saving never removes stored rows (undo a batch for that)
    [editor] = at.get("data_editor")
    assert editor.proto.editing_mode == DataframeProto.EditingMode.ADD_ONLY
    new_row = {"unit": "Retail", "metric": "fcr", "period_start": "2025-03-03", "value": 1.7, "n": 50}
    at.session_state[editor_key] = {"edited_rows": {}, "added_rows": [new_row], "deleted_rows": []}
    at.run()
    at.button(key="manual_save").click().run()
    assert not at.exception, at.exception
    assert "Refused" in at.error[0].value
    problems = [df.value for df in at.dataframe if "reason" in df.value.columns][0]
    assert problems[["row", "column"]].values.tolist() == [[1, "value"]]
    assert "fcr period values must be between 0 and 1" in problems["reason"].iloc[0]
    assert store.table_counts(data_db)["measurements"] == 0

    at.session_state[editor_key] = {"edited_rows": {}, "added_rows": [dict(new_row, value=0.7)],
                                    "deleted_rows": []}
    at.run()
    at.button(key="manual_save").click().run()
    assert not at.exception, at.exception
    with data_db.cursor() as cur:
        assert cur.execute("SELECT metric_key, period_start, value, n FROM measurements").fetchall() == \
            [("fcr", dt.date(2025, 3, 3), 0.7, 50)]


def test_templates_and_coverage_render(data_db):
    ingest.import_file(data_db, COMMAND_LINE, SAMPLES / "observations.csv", "observations")
    at = open_data_page()
    assert len(at.get("download_button")) == 4
    at.selectbox(key="coverage_metric").select("nps").run()
    assert not at.exception, at.exception
    charts = at.get("vega_lite_chart")
    assert charts, "the coverage heatmap is drawn"
    summary = at.dataframe[-1].value
    assert set(summary["unit"]) == {"Retail", "Online", "Claims"} and set(summary["metric"]) == {"nps"}
