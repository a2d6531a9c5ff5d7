"""`python -m pilots analyze PILOT --json` end to end on a temporary database: units, a metric, the
Card & Krueger file imported, a pilot registered, all through the command line."""

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from pilots.cli import main
from pilots.db import Database

REFERENCE = Path(__file__).resolve().parent / "reference" / "card_krueger_1994_fte.csv"
SPEC_FIELDS = {"metric", "treated_before", "treated_after", "control_before", "control_after", "effect", "ci_low",
               "ci_high", "p_value", "n_treated_before", "n_treated_after", "n_control_before", "n_control_after",
               "method"}


def run(db_path, *args):
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", str(db_path), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def setup(path, *pilot_options):
    for args in (("units", "add", "New Jersey", "--customers", "1000"),
                 ("units", "add", "Pennsylvania", "--customers", "3000"),
                 ("metrics", "add", "fte", "--label", "FTE per store", "--direction", "higher",
                  "--aggregation", "mean", "--min", "0", "--max", "200"),
                 ("import", "observations", str(REFERENCE))):
        code, _, err = run(path, *args)
        assert code == 0, err
    code, out, err = run(path, "pilots", "add", "--name", "Minimum wage", "--unit", "New Jersey", "--metric", "fte",
                         "--baseline", "1992-02-01", "1992-03-31", "--pilot", "1992-11-01", "1992-12-31",
                         *pilot_options)
    assert code == 0, err
    return int(out)


def test_analyze_json_prints_the_spec_fields_for_every_metric(tmp_path):
    path = tmp_path / "cli.duckdb"
    pilot_id = setup(path, "--control", "Pennsylvania", "--target", "2")
    code, out, err = run(path, "analyze", str(pilot_id), "--json")
    assert code == 0, err
    case = json.loads(out)
    assert case["pilot_id"] == pilot_id
    assert case["verdict"] in ("Roll out", "Extend", "Stop", "Inconclusive") and case["reasons"]
    assert {"checks", "evidence_grade", "rollout_value"} <= set(case)
    [metric] = case["metrics"]
    assert SPEC_FIELDS <= set(metric)
    rows = pd.read_csv(REFERENCE)
    means = rows.groupby(["unit", pd.to_datetime(rows["date"]).dt.month > 6])["value"].agg(["mean", "count"])
    assert metric["treated_before"] == pytest.approx(means.loc[("New Jersey", False), "mean"], rel=1e-12)
    assert metric["control_after"] == pytest.approx(means.loc[("Pennsylvania", True), "mean"], rel=1e-12)
    assert metric["n_control_before"] == means.loc[("Pennsylvania", False), "count"]
    assert round(metric["effect"], 4) == 2.7536 and metric["ci_low"] < metric["effect"] < metric["ci_high"]
    assert case["evidence_grade"] == "controlled before/after (difference-in-differences)"
    assert {c["code"] for c in case["checks"]} >= {"few_controls", "few_periods", "pre_trend_unchecked"}
    Database(path).close()


def test_analyze_without_controls_gives_null_control_cells(tmp_path):
    path = tmp_path / "cli.duckdb"
    pilot_id = setup(path)
    code, out, err = run(path, "analyze", str(pilot_id), "--json")
    assert code == 0, err
    [metric] = json.loads(out)["metrics"]
    assert metric["control_before"] is None and metric["control_after"] is None
    assert metric["n_control_before"] is None
    assert metric["effect"] == pytest.approx(metric["treated_after"] - metric["treated_before"], rel=1e-12)
    assert json.loads(out)["evidence_grade"] == "before/after only"
    code, out, _ = run(path, "analyze", str(pilot_id))
    assert code == 0 and "Verdict:" in out
    Database(path).close()


def test_analyze_an_unknown_pilot_is_refused(tmp_path):
    code, out, err = run(tmp_path / "cli.duckdb", "analyze", "42", "--json")
    assert code == 1 and out == "" and "no pilot with id 42" in err
    Database(tmp_path / "cli.duckdb").close()
