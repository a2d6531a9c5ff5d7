"""`python -m pilots import observations|measurements FILE` on real temporary DuckDB files: every kind
of problem is listed by row and column on stderr with exit status 1 and nothing written; real-world
files (semicolons, BOM, Excel dates) go in."""

import io
from pathlib import Path

import openpyxl
import pytest

from pilots import store
from pilots.access import COMMAND_LINE
from pilots.cli import main
from pilots.db import Database

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


@pytest.fixture
def cli_db(tmp_path):
    path = tmp_path / "cli.duckdb"
    db = Database(path)
    for name in ("Retail", "Online", "Claims"):
        store.add_unit(db, COMMAND_LINE, name)
    yield path, db
    db.close()


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", str(path), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path, name, text, encoding="utf-8"):
    target = tmp_path / name
    target.write_bytes(text.encode(encoding))
    return target


def refused(cli_db, kind, file, *extra):
    path, db = cli_db
    before = store.table_counts(db)
    code, out, err = run(path, "import", kind, str(file), *extra)
    assert code == 1 and out == ""
    assert "refused, nothing was written" in err
    assert store.table_counts(db) == before
    return err


HEADER = "unit,metric,date,value\n"


@pytest.mark.parametrize("row, expected", [
    ("Retial,nps,2025-01-06,9", "row 1, column 'unit': unknown unit 'Retial': did you mean 'Retail'?"),
    ("Retail,nsp,2025-01-06,9", "row 1, column 'metric': unknown metric 'nsp': did you mean 'nps'?"),
    ("Retail,nps,2025-13-06,9", "row 1, column 'date': not a date"),
    ("Retail,nps,,9", "row 1, column 'date': the date is missing"),
    ("Retail,nps,2025-01-06,11", "row 1, column 'value': nps answers must be between 0 and 10 (value '11')"),
    ("Retail,csat,2025-01-06,0", "row 1, column 'value': csat answers must be between 1 and 5"),
    ("Retail,ces,2025-01-06,8", "row 1, column 'value': ces answers must be between 1 and 7"),
    ("Retail,fcr,2025-01-06,1.5", "row 1, column 'value': fcr answers must be between 0 and 1"),
    ("Retail,resolution_days,2025-01-06,-2", "row 1, column 'value': resolution_days answers must be at least 0"),
    ("Retail,nps,2025-01-06,8.5", "row 1, column 'value': nps answers are whole numbers (value '8.5')"),
    ("Retail,nps,2025-01-06,high", "row 1, column 'value': not a number (value 'high')"),
])
def test_each_kind_of_bad_observation_is_named(cli_db, tmp_path, row, expected):
    good = "Online,nps,2025-01-06,9\n"
    err = refused(cli_db, "observations", write(tmp_path, "bad.csv", HEADER + good + row.replace("row 1", "") + "\n"))
    assert expected.replace("row 1", "row 2") in err


def test_all_problems_of_a_file_are_listed_together(cli_db):
    err = refused(cli_db, "observations", SAMPLES / "observations_with_problems.csv")
    assert "(5 problems)" in err
    for where in ("row 1, column 'unit'", "row 2, column 'value'", "row 3, column 'value'",
                  "row 4, column 'date'", "row 5, column 'metric'"):
        assert where in err


def test_wrong_header_names_the_missing_columns(cli_db, tmp_path):
    err = refused(cli_db, "observations", write(tmp_path, "h.csv", "unit,metric,when,score\nRetail,nps,2025-01-06,9\n"))
    assert "column 'date': missing column 'date'" in err and "column 'value': missing column 'value'" in err
    assert "found 'unit', 'metric', 'when', 'score'" in err


def test_semicolon_file_with_bom_and_messy_headers_is_imported(cli_db, tmp_path):
    path, db = cli_db
    text = "\ufeff UNIT ; Metric;DATE ;Value \nretail;nps;2025-01-06;9\nONLINE;ces;2025-01-07;6\n\n\n"
    code, out, err = run(path, "import", "observations", str(write(tmp_path, "semi.csv", text)))
    assert code == 0, err
    assert "2 observations" in out and "Online, Retail" in out
    assert store.table_counts(db)["observations"] == 2


def test_bom_comma_file_is_imported(cli_db, tmp_path):
    path, db = cli_db
    bom = write(tmp_path, "bom.csv", "\ufeffunit,metric,date,value\r\nClaims,csat,2025-02-03,4\r\n")
    code, out, err = run(path, "import", "observations", str(bom))
    assert code == 0, err
    with db.cursor() as cur:
        assert cur.execute("SELECT metric_key, obs_date::VARCHAR, value FROM observations").fetchall() == \
            [("csat", "2025-02-03", 4.0)]


def test_xlsx_with_excel_dates_is_imported(cli_db):
    path, db = cli_db
    sheet = openpyxl.load_workbook(SAMPLES / "observations.xlsx").active
    assert sheet.cell(2, 3).is_date  # the sample really holds Excel dates, not text
    code, out, err = run(path, "import", "observations", str(SAMPLES / "observations.xlsx"))
    assert code == 0, err
    assert store.table_counts(db)["observations"] == sheet.max_row - 1


def test_xlsx_problem_rows_count_from_the_first_data_row(cli_db, tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["unit", "metric", "date", "value"])
    book.active.append(["Retail", "nps", "2025-01-06", 9])
    book.active.append(["Retail", "nps", "not yet", 9])
    book.save(tmp_path / "bad.xlsx")
    err = refused(cli_db, "observations", tmp_path / "bad.xlsx")
    assert "row 2, column 'date': not a date" in err and "(value 'not yet')" in err


def test_duplicate_measurements_in_one_file_are_refused(cli_db, tmp_path):
    text = ("unit,metric,period_start,value,n\nRetail,fcr,2025-01-06,0.7,100\nOnline,fcr,2025-01-06,0.7,100\n"
            "Retail,fcr,2025-01-06,0.8,100\n")
    err = refused(cli_db, "measurements", write(tmp_path, "dup.csv", text), "--replace")
    assert "row 3, column 'period_start': Retail, fcr, 2025-01-06 is in the file twice (first in row 1)" in err


def test_bad_n_and_sd_are_named(cli_db, tmp_path):
    text = "unit,metric,period_start,value,n,sd\nRetail,ces,2025-01-06,5,0,1\nRetail,ces,2025-01-13,5,10,minus\n"
    err = refused(cli_db, "measurements", write(tmp_path, "nsd.csv", text))
    assert "row 1, column 'n'" in err and "row 2, column 'sd'" in err


def test_stored_measurements_need_replace_which_is_audited(cli_db, tmp_path):
    path, db = cli_db
    assert run(path, "import", "measurements", str(SAMPLES / "measurements.csv"))[0] == 0
    stored = store.table_counts(db)["measurements"]
    err = refused(cli_db, "measurements", SAMPLES / "measurements.csv")
    assert ("row 1, column 'period_start': a measurement for Retail, resolution_days, 2025-01-06 is stored "
            "already") in err
    assert "choose 'replace'" in err

    code, out, err = run(path, "import", "measurements", str(SAMPLES / "measurements.csv"), "--replace")
    assert code == 0, err
    assert f"replaced {stored} stored measurements" in out
    counts = store.table_counts(db)
    assert counts["measurements"] == stored and counts["import_batches"] == 2
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM audit_log WHERE action = 'replace'").fetchone()[0] == 1


def test_empty_and_missing_files(cli_db, tmp_path):
    err = refused(cli_db, "measurements", write(tmp_path, "empty.csv", ""))
    assert "the file is empty" in err and "column 'unit, metric, period_start, value'" in err
    path, _ = cli_db
    code, _, err = run(path, "import", "observations", str(tmp_path / "nowhere.csv"))
    assert code == 1 and "no file" in err
