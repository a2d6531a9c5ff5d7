"""AppTest of the Data page: upload → preview → problems → commit, undo with confirmation, manual
entry refused and saved, templates and coverage rendered."""

import datetime as dt
from pathlib import Path

import pytest
from streamlit.proto.Dataframe_pb2 import Dataframe as DataframeProto
from streamlit.testing.v1 import AppTest

from pilots import ingest, store
from pilots.access import COMMAND_LINE
from pilots.db import Database
from apptests import open_page

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
    at.file_uploader(key="import_file").set_value((name, content, "text/csv"))
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


def test_upload_preview_commit_then_undo(data_db):
    at = upload(open_data_page(), "observations.csv", (SAMPLES / "observations.csv").read_bytes())
    expected_rows = len((SAMPLES / "observations.csv").read_text().strip().splitlines()) - 1
    assert at.subheader[0].value == f"observations.csv: {expected_rows} data rows"
    assert len(at.dataframe[0].value) == min(expected_rows, ingest.PREVIEW_ROWS)
    assert store.table_counts(data_db)["observations"] == 0

    at.button(key="import_commit").click().run()
    assert not at.exception, at.exception
    assert store.table_counts(data_db)["observations"] == expected_rows
    (batch,) = ingest.list_batches(data_db, COMMAND_LINE)["batch"]
    assert f"batch {batch}" in at.success[0].value
    assert not [b for b in at.button if b.key == "import_commit"], "the same file is not offered twice"

    at.selectbox(key="undo_choice").select(batch).run()
    at.button(key="undo_ask").click().run()
    assert f"batch {batch}" in at.warning[0].value
    assert store.table_counts(data_db)["observations"] == expected_rows, "nothing happens before confirming"
    at.button(key="undo_confirm").click().run()
    assert not at.exception, at.exception
    assert store.table_counts(data_db)["observations"] == 0
    assert f"Batch {batch} undone" in at.success[0].value
    assert bool(ingest.list_batches(data_db, COMMAND_LINE).set_index("batch").loc[batch, "undone"])


def test_measurements_stored_already_need_the_replace_box(data_db):
    ingest.import_file(data_db, COMMAND_LINE, SAMPLES / "measurements.csv", "measurements")
    at = open_data_page()
    at.radio(key="import_kind").set_value("measurements").run()
    upload(at, "measurements.csv", (SAMPLES / "measurements.csv").read_bytes())
    assert "stored already" in at.dataframe[1].value["reason"].iloc[0]
    at.checkbox(key="import_replace").check().run()
    assert not at.error
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
