import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pilots import store
from pilots.access import COMMAND_LINE
from pilots.cli import main
from pilots.db import Database

REPO = Path(__file__).resolve().parents[1]


def run(db_path, *args):
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", str(db_path), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_init_then_units_metrics_and_pilot(tmp_path):
    path = tmp_path / "cli.duckdb"
    assert run(path, "init")[0] == 0
    assert run(path, "units", "add", "Retail", "--head", "Rita")[0] == 0
    assert run(path, "units", "add", "Online")[0] == 0
    code, out, _ = run(path, "metrics", "add", "nps_store", "--label", "Store NPS", "--direction", "higher",
                       "--aggregation", "nps", "--min", "0", "--max", "10")
    assert code == 0
    code, out, err = run(path, "pilots", "add", "--name", "Greeter", "--unit", "retail", "--metric", "nps_store",
                         "--baseline", "2025-01-01", "2025-03-31", "--pilot", "2025-04-01", "2025-06-30",
                         "--control", "Online", "--target", "5")
    assert code == 0, err
    pilot_id = int(out.strip())
    db = Database(path)
    pilot = store.get_pilot(db, COMMAND_LINE, pilot_id)
    assert (pilot.name, pilot.unit_name, pilot.control_unit_names, pilot.target_effect) == \
        ("Greeter", "Retail", ("Online",), 5.0)
    db.close()


def test_refused_pilot_names_field_and_reason_and_exits_non_zero(tmp_path):
    path = tmp_path / "cli.duckdb"
    run(path, "units", "add", "Retail")
    code, out, err = run(path, "pilots", "add", "--name", "X", "--unit", "Retial", "--metric", "nps",
                         "--baseline", "2025-01-01", "2025-03-31", "--pilot", "2025-03-01", "2025-06-30")
    assert code == 1 and out == ""
    assert "nothing was written" in err
    assert "column 'unit': unknown unit 'Retial': did you mean 'Retail'?" in err
    assert "column 'baseline'" in err
    db = Database(path)
    assert store.table_counts(db)["pilots"] == 0
    db.close()


def test_metric_with_inverted_range_is_refused(tmp_path):
    code, _, err = run(tmp_path / "cli.duckdb", "metrics", "add", "wait", "--label", "Wait", "--direction",
                       "lower", "--aggregation", "mean", "--min", "10", "--max", "1")
    assert code == 1 and "min must be below max" in err


def test_bad_date_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--db", str(tmp_path / "x.duckdb"), "pilots", "add", "--name", "X", "--unit", "R", "--metric", "nps",
              "--baseline", "2025-13-01", "2025-03-31", "--pilot", "2025-04-01", "2025-06-30"])
    assert exit_.value.code == 2
    assert "'2025-13-01' is not a date as YYYY-MM-DD" in capsys.readouterr().err


def test_module_entry_point_and_environment_database(tmp_path):
    env_db = tmp_path / "env.duckdb"
    env = dict(os.environ, PILOTS_DB=str(env_db), PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "pilots", "units", "add", "Claims"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    db = Database(env_db)
    assert [u.name for u in store.list_units(db, COMMAND_LINE)] == ["Claims"]
    db.close()


def test_a_database_held_by_another_process_is_refused_with_a_message(tmp_path):
    path = tmp_path / "busy.duckdb"
    Database(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('held', flush=True); "
                               "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        out, err = io.StringIO(), io.StringIO()
        started = time.monotonic()
        assert main(["--db", str(path), "--wait", "1.5", "units", "add", "Retail"], out=out, err=err) == 1
        assert time.monotonic() - started >= 1.5  # it waited its turn before giving up
        assert "stayed open in another process for the 1.5 s" in err.getvalue() and "--wait" in err.getvalue()
        assert "Traceback" not in err.getvalue()
    finally:
        holder.communicate("")
    db = Database(path)
    try:
        assert store.list_units(db, COMMAND_LINE) == []  # nothing was written
    finally:
        db.close()


def test_units_set_corrects_a_unit_and_refuses_bad_figures(tmp_path):
    path = str(tmp_path / "units.duckdb")
    out, err = io.StringIO(), io.StringIO()
    assert main(["--db", path, "units", "add", "Retail", "--customers", "1000"], out=out, err=err) == 0
    assert main(["--db", path, "units", "set", "retail", "--customers", "120000", "--head", "Rita",
                 "--name", "Retail Stores"], out=out, err=err) == 0
    err = io.StringIO()
    assert main(["--db", path, "units", "set", "Retial Stores", "--customers", "5"], out=out, err=err) == 1
    assert "unknown unit 'Retial Stores': did you mean 'Retail Stores'?" in err.getvalue()
    err = io.StringIO()
    assert main(["--db", path, "units", "set", "Retail Stores", "--customers", "-5"], out=out, err=err) == 1
    assert "column 'customers': must not be negative" in err.getvalue()
    db = Database(path)
    try:
        [unit] = store.list_units(db, COMMAND_LINE)
        assert (unit.name, unit.head, unit.customers) == ("Retail Stores", "Rita", 120_000)
    finally:
        db.close()


# The libraries of charts, decks and statistics take seconds to load: only the commands that use them may.
HEAVY = {"altair", "vl_convert", "pptx", "reportlab", "scipy", "statsmodels"}


def loaded_by(*argv) -> set[str]:
    """The top-level modules a fresh interpreter has loaded once the command line has run `argv`."""
    script = ("import sys\nfrom pilots.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
              "print('\\nloaded:', *sorted({name.split('.')[0] for name in sys.modules}))")
    result = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=str(REPO)), check=False)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.splitlines()[-1].removeprefix("loaded:").split())


def test_an_import_loads_no_chart_deck_or_statistics_library(tmp_path):
    path = tmp_path / "import.duckdb"
    db = Database(path)
    store.add_unit(db, COMMAND_LINE, "Retail")
    db.close()
    answers = tmp_path / "answers.csv"
    answers.write_text("unit,metric,date,value\nRetail,nps,2025-01-06,9\nRetail,nps,2025-01-07,7\n", encoding="utf-8")
    loaded = loaded_by("--db", str(path), "import", "observations", str(answers))
    assert "duckdb" in loaded and not loaded & {"pandas", *HEAVY}  # a clean file never needs pandas
    db = Database(path)
    try:
        assert store.table_counts(db)["observations"] == 2
    finally:
        db.close()


@pytest.mark.parametrize("argv", [["--help"], ["units", "add", "--help"], ["pilots"]], ids=" ".join)
def test_help_and_usage_errors_load_no_data_library(argv):
    loaded = loaded_by(*argv)
    assert "pilots" in loaded and not loaded & {"pandas", "duckdb", "numpy", *HEAVY}


def test_a_file_that_is_not_a_database_is_refused_with_a_message(tmp_path):
    path = tmp_path / "damaged.duckdb"
    path.write_bytes(b"not a database, whatever its name says" * 100)
    code, out, err = run(path, "units", "list")
    assert code == 1 and out == ""
    assert err.startswith(f"refused: {path} cannot be opened as a database")
