"""pilots.ingest on real temporary DuckDB files: reading real-world files, every problem named,
all-or-nothing writes, batches and undo, templates, manual entry and coverage."""

import datetime as dt
import io
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from pilots import checks, ingest, reading, store
from pilots.access import COMMAND_LINE, AccessDenied, Actor
from pilots.db import Database
from pilots.model import ValidationError

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


@pytest.fixture
def org(tmp_path):
    """A database with three units and the standard metric catalogue."""
    database = Database(tmp_path / "ingest.duckdb")
    for name in ("Retail", "Online", "Claims"):
        store.add_unit(database, COMMAND_LINE, name)
    yield database
    database.close()


def refused(db, source, kind, **kwargs):
    before = store.table_counts(db)
    with pytest.raises(ValidationError) as error:
        ingest.import_file(db, COMMAND_LINE, source, kind, **kwargs)
    assert store.table_counts(db) == before, "a refused file must write nothing"
    return error.value.problems


def rows_of(db, sql, params=()):
    with db.cursor() as cur:
        return cur.execute(sql, list(params)).fetchall()


def csv_bytes(text):
    return text.encode("utf-8")


def test_sample_observations_are_imported_with_extra_columns_ignored(org):
    progress = []
    result = ingest.import_file(org, COMMAND_LINE, SAMPLES / "observations.csv", "observations",
                                progress=lambda f, m: progress.append(f))
    expected = pd.read_csv(SAMPLES / "observations.csv")
    assert result.rows == len(expected) == store.table_counts(org)["observations"]
    assert result.units == tuple(sorted(expected["unit"].unique()))
    assert result.metrics == tuple(sorted(expected["metric"].unique()))
    assert (str(result.first_date), str(result.last_date)) == (expected["date"].min(), expected["date"].max())
    assert f"batch {result.batch_id}" in str(result) and "observations.csv" in str(result)
    assert progress == sorted(progress) and progress[-1] == 1.0
    stored = rows_of(org, "SELECT u.name, o.metric_key, o.obs_date::VARCHAR, o.value FROM observations o "
                          "JOIN business_units u USING (unit_id) ORDER BY ALL")
    assert stored == sorted(expected[["unit", "metric", "date", "value"]].astype({"value": float})
                            .itertuples(index=False, name=None))


def test_xlsx_with_excel_dates_holds_the_same_rows_as_the_csv(org, tmp_path):
    from_xlsx = ingest.import_file(org, COMMAND_LINE, SAMPLES / "observations.xlsx", "observations")
    from_csv = ingest.import_file(org, COMMAND_LINE, SAMPLES / "observations.csv", "observations")
    xlsx_rows, csv_rows = (rows_of(org, "SELECT unit_id, metric_key, obs_date, value FROM observations "
                                        "WHERE batch_id = ? ORDER BY ALL", [b.batch_id]) for b in (from_xlsx, from_csv))
    assert len(xlsx_rows) == from_csv.rows and xlsx_rows == csv_rows


def test_xlsx_date_stored_as_a_plain_serial_number_is_read_as_that_day(org, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Unit", "Metric", "Date", "Value"])
    sheet.append(["Retail", "ces", 45658, 6.0])  # 45658 days after 1899-12-30 is 2025-01-01
    sheet.append([None, None, None, None])
    path = tmp_path / "serial.xlsx"
    book.save(path)
    ingest.import_file(org, COMMAND_LINE, path, "observations")
    assert rows_of(org, "SELECT obs_date, value FROM observations") == [(dt.date(2025, 1, 1), 6.0)]


def test_semicolon_bom_any_case_headers_decimal_commas_and_blank_trailing_lines(org):
    result = ingest.import_file(org, COMMAND_LINE, SAMPLES / "measurements_semicolon.csv", "measurements")
    source = (SAMPLES / "measurements_semicolon.csv").read_text(encoding="utf-8-sig").strip().splitlines()[1:]
    expected = sorted((line.split(";")[2], float(line.split(";")[3].replace(",", "."))) for line in source)
    assert result.rows == len(source)
    assert rows_of(org, "SELECT period_start::VARCHAR, value FROM measurements ORDER BY 1, 2") == expected


def test_every_problem_names_row_column_and_reason(org):
    problems = refused(org, SAMPLES / "observations_with_problems.csv", "observations")
    found = {(p.row, p.column): p for p in problems}
    assert "did you mean 'Retail'" in found[(1, "unit")].reason
    assert "between 0 and 10" in found[(2, "value")].reason and found[(2, "value")].value == "11"
    assert "whole numbers" in found[(3, "value")].reason
    assert "not a date" in found[(4, "date")].reason and found[(4, "date")].value == "06/01/2025"
    assert "did you mean 'nps'" in found[(5, "metric")].reason
    assert len(problems) == 5


def test_row_numbers_hold_deep_in_a_large_file(org):
    lines = ["unit,metric,date,value"] + [f"Online,nps,2025-02-{1 + i % 28:02d},{i % 11}" for i in range(40_000)]
    lines[31_417] = "Online,nps,2025-02-30,5"  # data row 31,417
    problems = refused(org, csv_bytes("\n".join(lines)), "observations", file_name="big.csv")
    assert [(p.row, p.column, p.value) for p in problems] == [(31_417, "date", "2025-02-30")]


def test_problems_are_counted_in_full_but_listed_up_to_a_cap(org):
    body = "".join(f"Retail,nps,2025-03-01,{20 + i}\n" for i in range(1_000))
    validation = ingest.validate_file(org, COMMAND_LINE, csv_bytes("unit,metric,date,value\n" + body),
                                      "observations", "many.csv")
    assert validation.problem_count == 1_000 and validation.rows == 1_000
    assert len(validation.problems) == checks.LISTED_PER_CHECK + 1
    assert "975 more rows like this" in validation.problems[-1].reason


def test_wrong_header_names_the_missing_column(org):
    problems = refused(org, csv_bytes("unit,metric,day,score\nRetail,nps,2025-01-01,9\n"), "observations",
                       file_name="x.csv")
    assert {p.column for p in problems} == {"date", "value"}
    assert all("first row must be the header" in p.reason for p in problems)


@pytest.mark.parametrize("text", ["", "\n\n", "unit,metric,date,value\n", "unit,metric,date,value\n,,,\n\n"])
def test_empty_files_are_refused_with_the_expected_header(org, text):
    problems = refused(org, csv_bytes(text), "observations", file_name="empty.csv")
    assert problems and all(p.column for p in problems)
    assert "unit, metric, date, value" in str(problems[0])


def test_not_utf8_is_named(org):
    problems = refused(org, "unit,metric,date,value\nRétail,nps,2025-01-01,9\n".encode("latin-1"),
                       "observations", file_name="latin.csv")
    assert "UTF-8" in problems[0].reason


def test_measurement_checks_period_range_n_and_sd(org):
    text = ("unit,metric,period_start,value,n,sd\n"
            "Retail,nps,2025-01-06,120,10,\n"      # nps lies -100..100 as a period value
            "Retail,fcr,2025-01-06,0.8,2.5,\n"     # n is whole
            "Retail,ces,2025-01-06,5.5,10,-1\n"    # sd >= 0
            "Retail,complaints,2025-01-06,-3,10,1\n")
    problems = refused(org, csv_bytes(text), "measurements", file_name="m.csv")
    assert [(p.row, p.column) for p in problems] == [(1, "value"), (2, "n"), (3, "sd"), (4, "value")]
    assert "must be between -100 and 100" in problems[0].reason and "at least 0" in problems[3].reason


def test_duplicate_and_stored_measurements_refused_unless_replacing(org):
    first = ingest.import_file(org, COMMAND_LINE, SAMPLES / "measurements.csv", "measurements")
    problems = refused(org, SAMPLES / "measurements.csv", "measurements")
    assert len(problems) == first.rows < checks.LISTED_PER_CHECK
    assert all("stored already" in p.reason for p in problems)
    assert problems[0].row == 1 and problems[0].column == "period_start"

    dupes = "unit,metric,period_start,value\nRetail,fcr,2025-03-03,0.7\nretail,FCR,2025-03-03,0.8\n"
    problems = refused(org, csv_bytes(dupes), "measurements", replace=True, file_name="d.csv")
    assert [(p.row, p.column) for p in problems] == [(2, "period_start")]
    assert "first in row 1" in problems[0].reason

    changed = pd.read_csv(SAMPLES / "measurements.csv").assign(value=lambda f: f["value"] * 0 + 0.5)
    result = ingest.import_file(org, COMMAND_LINE, csv_bytes(changed.to_csv(index=False)), "measurements",
                                replace=True, file_name="again.csv")
    assert result.replaced == first.rows == store.table_counts(org)["measurements"]
    assert rows_of(org, "SELECT DISTINCT value, batch_id FROM measurements") == [(0.5, result.batch_id)]
    (before,) = rows_of(org, "SELECT before FROM audit_log WHERE action = 'replace' AND entity_id = ?",
                        [str(result.batch_id)])[0]
    assert len(json.loads(before)) == first.rows


def test_undo_removes_rows_records_audit_and_restores_what_it_replaced(org):
    first = ingest.import_file(org, COMMAND_LINE, SAMPLES / "measurements.csv", "measurements")
    original = rows_of(org, "SELECT unit_id, metric_key, period_start, value, n, sd FROM measurements ORDER BY ALL")
    text = "unit,metric,period_start,value,n\nRetail,fcr,2025-01-06,0.9,10\nRetail,fcr,2025-12-29,0.9,10\n"
    second = ingest.import_file(org, COMMAND_LINE, csv_bytes(text), "measurements", replace=True, file_name="fix.csv")
    assert second.replaced == 1

    assert ingest.undo_batch(org, COMMAND_LINE, second.batch_id) == 2
    assert rows_of(org, "SELECT unit_id, metric_key, period_start, value, n, sd FROM measurements ORDER BY ALL") \
        == original
    batches = ingest.list_batches(org, COMMAND_LINE).set_index("batch")
    assert bool(batches.loc[second.batch_id, "undone"]) and not bool(batches.loc[first.batch_id, "undone"])
    assert batches.loc[second.batch_id, "units"] == "Retail" and batches.loc[second.batch_id, "metrics"] == "fcr"
    assert str(batches.loc[second.batch_id, "last_date"].date()) == "2025-12-29"
    assert batches.loc[second.batch_id, "undone_by"] == COMMAND_LINE.email
    assert rows_of(org, "SELECT count(*) FROM audit_log WHERE action = 'undo' AND entity_id = ?",
                   [str(second.batch_id)]) == [(1,)]
    with pytest.raises(ValidationError, match="undone already"):
        ingest.undo_batch(org, COMMAND_LINE, second.batch_id)
    with pytest.raises(ValidationError, match="no import batch"):
        ingest.undo_batch(org, COMMAND_LINE, 999)

    assert ingest.undo_batch(org, COMMAND_LINE, first.batch_id) == first.rows
    assert store.table_counts(org)["measurements"] == 0


def test_list_batches_says_who_when_what(org):
    result = ingest.import_file(org, COMMAND_LINE, SAMPLES / "observations.csv", "observations")
    (row,) = ingest.list_batches(org, COMMAND_LINE).to_dict(orient="records")
    assert (row["batch"], row["imported_by"], row["file"], row["kind"], row["rows"]) == \
        (result.batch_id, COMMAND_LINE.email, "observations.csv", "observations", result.rows)
    assert row["units"] == ", ".join(result.units) and row["metrics"] == ", ".join(result.metrics)
    assert (row["first_date"].date(), row["last_date"].date()) == (result.first_date, result.last_date)


@pytest.mark.parametrize("kind", reading.KINDS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_templates_name_every_unit_and_metric_and_import_cleanly(org, kind, fmt):
    data = ingest.template(org, kind, fmt)
    frame = pd.read_csv(io.BytesIO(data)) if fmt == "csv" else pd.read_excel(io.BytesIO(data))
    assert list(frame.columns) == list(reading.REQUIRED[kind] + reading.OPTIONAL[kind])
    assert set(frame["unit"]) == {"Retail", "Online", "Claims"}
    assert set(frame["metric"]) == {m.key for m in store.list_metrics(org)}
    validation = ingest.validate_file(org, COMMAND_LINE, data, kind, f"template.{fmt}")
    assert not validation.problems, validation.problems
    assert validation.rows == len(frame)


def test_validate_writes_nothing_and_commit_rechecks(org):
    before = store.table_counts(org)
    validation = ingest.validate_file(org, COMMAND_LINE, (SAMPLES / "measurements.csv").read_bytes(),
                                      "measurements", "measurements.csv")
    assert not validation.problems and store.table_counts(org) == before
    assert list(validation.preview.columns) == ["row", "unit", "metric", "period_start", "value", "n", "sd"]
    ingest.import_file(org, COMMAND_LINE, SAMPLES / "measurements.csv", "measurements")
    with pytest.raises(ValidationError, match="stored already"):
        ingest.commit(org, COMMAND_LINE, validation)


def test_manual_entry_refuses_invalid_cells_and_saves_only_changes(org):
    rows = pd.DataFrame([
        {"unit": "Retail", "metric": "fcr", "period_start": dt.date(2025, 1, 6), "value": 1.4, "n": 10.0, "sd": None},
        {"unit": "Onlne", "metric": "fcr", "period_start": dt.date(2025, 1, 6), "value": 0.5, "n": 0.0, "sd": None},
    ])
    before = store.table_counts(org)
    with pytest.raises(ValidationError) as error:
        ingest.save_measurements(org, COMMAND_LINE, rows)
    assert store.table_counts(org) == before
    assert {(p.row, p.column) for p in error.value.problems} == {(1, "value"), (2, "unit"), (2, "n")}
    assert "did you mean 'Online'" in str(error.value)

    rows.loc[0, "value"], rows.loc[1, "unit"], rows.loc[1, "n"] = 0.7, "Online", 12.0
    first = ingest.save_measurements(org, COMMAND_LINE, rows)
    assert first.rows == 2 and first.source == "manual entry"
    stored = ingest.measurements_frame(org, COMMAND_LINE)
    rows.loc[1, "value"] = 0.55
    second = ingest.save_measurements(org, COMMAND_LINE, stored.assign(
        value=lambda f: f["value"].where(f["unit"] != "Online", 0.55)))
    assert (second.rows, second.replaced) == (1, 1)
    assert rows_of(org, "SELECT value FROM measurements m JOIN business_units u USING (unit_id) "
                        "WHERE u.name = 'Online'") == [(0.55,)]
    assert ingest.save_measurements(org, COMMAND_LINE, ingest.measurements_frame(org, COMMAND_LINE)).rows == 0


def test_coverage_volumes_match_the_files(org):
    ingest.import_file(org, COMMAND_LINE, SAMPLES / "observations.csv", "observations")
    ingest.import_file(org, COMMAND_LINE, SAMPLES / "measurements.csv", "measurements")
    obs = pd.read_csv(SAMPLES / "observations.csv", parse_dates=["date"])
    meas = pd.read_csv(SAMPLES / "measurements.csv", parse_dates=["period_start"])
    expected = pd.concat([
        obs.assign(month=obs["date"].dt.to_period("M"), volume=1)[["unit", "metric", "month", "volume"]],
        meas.assign(month=meas["period_start"].dt.to_period("M"), volume=meas["n"])[
            ["unit", "metric", "month", "volume"]],
    ]).groupby(["unit", "metric", "month"], as_index=False)["volume"].sum()
    got = ingest.coverage(org, COMMAND_LINE)
    got = got.assign(month=pd.to_datetime(got["month"]).dt.to_period("M"))
    merged = expected.merge(got, on=["unit", "metric", "month"], how="outer", suffixes=("_expected", "_got"))
    assert len(merged) == len(expected) == len(got)
    assert (merged["volume_expected"] == merged["volume_got"]).all()
    only_nps = ingest.coverage(org, COMMAND_LINE, "nps")
    assert set(only_nps["metric"]) == {"nps"}
    summary = ingest.coverage_summary(got)
    assert summary["volume"].sum() == expected["volume"].sum()


def test_roles_only_editors_import_and_unit_heads_see_their_coverage(org):
    ingest.import_file(org, COMMAND_LINE, SAMPLES / "observations.csv", "observations")
    steering = Actor("board@example.com", "steering")
    with pytest.raises(AccessDenied):
        ingest.import_file(org, steering, SAMPLES / "observations.csv", "observations")
    with pytest.raises(AccessDenied):
        ingest.undo_batch(org, steering, 1)
    retail = store.unit_lookup(store.list_units(org, COMMAND_LINE))["retail"]
    head = Actor("rita@example.com", "unit_head", frozenset({retail.unit_id}))
    assert set(ingest.coverage(org, head)["unit"]) == {"Retail"}
    assert set(ingest.coverage(org, steering)["unit"]) == {"Retail", "Online", "Claims"}


def test_an_import_refuses_to_run_inside_another_transaction(org):
    before = store.table_counts(org)
    with pytest.raises(RuntimeError, match="transaction of its own"):
        with org.write(COMMAND_LINE, "something else"):
            ingest.import_file(org, COMMAND_LINE, b"unit,metric,date,value\nRetail,nps,2025-01-06,9\n",
                               "observations", file_name="one.csv")
    assert store.table_counts(org) == before
