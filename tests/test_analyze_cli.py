"""`python -m pilots analyze PILOT --json` end to end on a temporary database: units, a metric, the
Card & Krueger file imported, a pilot registered, all through the command line."""

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pilots.cli import main
from pilots.db import Database

REFERENCE = Path(__file__).resolve().parent / "reference" / "card_krueger_1994_fte.csv"
SPEC_FIELDS = {"metric", "treated_before", "treated_after", "control_before", "control_after", "effect", "ci_low",
               "ci_high", "p_value", "n_treated_before", "n_treated_after", "n_control_before", "n_control_after",
               "method", "se", "se_sampling", "inference", "synthetic_control"}


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
    assert {c["code"] for c in case["checks"]} >= {"few_controls", "few_periods", "pre_trend_unchecked", "answers_only"}
    # one control state, one survey each side: the answers-only interval, said so, no synthetic control
    assert metric["inference"] == "answers only" and metric["se"] == pytest.approx(metric["se_sampling"])
    assert metric["synthetic_control"] is None
    Database(path).close()


def weekly_rows(units, weeks=40, start="2025-01-06", effect=6.0, seed=3):
    """Answers of every unit in every week; the first unit gains `effect` in the last 12 weeks."""
    rng = np.random.default_rng(seed)
    rows = []
    for u, unit in enumerate(units):
        for week in range(weeks):
            day = pd.Timestamp(start) + pd.Timedelta(weeks=week)
            level = 50 + 3 * u + 2 * np.sin(week / 5) + (effect if u == 0 and week >= weeks - 12 else 0)
            rows += [(unit, "score", (day + pd.Timedelta(days=int(d))).date(), round(float(v), 3))
                     for d, v in zip(rng.integers(0, 7, 25), rng.normal(level, 8, 25), strict=True)]
    return pd.DataFrame(rows, columns=["unit", "metric", "date", "value"])


def test_controls_in_either_form_and_the_drift_aware_case_with_its_synthetic_twin(tmp_path):
    path = tmp_path / "cli.duckdb"
    units = ["Retail", "Online", "Claims", "Mobile", "Branches"]
    for unit in units:
        assert run(path, "units", "add", unit)[0] == 0
    assert run(path, "metrics", "add", "score", "--label", "Score", "--direction", "higher",
               "--aggregation", "mean")[0] == 0
    weekly_rows(units).to_csv(tmp_path / "rows.csv", index=False)
    assert run(path, "import", "observations", str(tmp_path / "rows.csv"))[0] == 0
    window = ("--baseline", "2025-06-02", "2025-07-27", "--pilot", "2025-07-28", "2025-10-19", "--target", "3")
    ids = []
    for controls in (["--control", "Online", "Claims", "Mobile", "Branches"],
                     ["--control", "Online", "--control", "Claims", "--control", "Mobile", "--control", "Branches"]):
        code, out, err = run(path, "pilots", "add", "--name", f"P{len(ids)}", "--unit", "Retail", "--metric", "score",
                             *window, *controls)
        assert code == 0, err
        ids.append(int(out))
    cases = [json.loads(run(path, "analyze", str(i), "--json")[1]) for i in ids]
    assert cases[0]["metrics"][0]["effect"] == pytest.approx(cases[1]["metrics"][0]["effect"])
    metric = cases[0]["metrics"][0]
    assert metric["inference"] == "units and earlier periods" and metric["control_units_used"] == 4
    assert metric["placebo_periods"] >= 1 and metric["se"] > 0 and metric["se_sampling"] > 0
    twin = metric["synthetic_control"]
    assert set(twin["weights"]) == {"Online", "Claims", "Mobile", "Branches"}
    assert sum(twin["weights"].values()) == pytest.approx(1.0, abs=1e-9)
    assert twin["placebo_units"] == 5 and 1 <= twin["placebo_rank"] <= 5 and twin["pre_rmspe"] >= 0
    assert twin["effect"] == pytest.approx(6.0, abs=3.0)
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


@pytest.mark.slow
def test_rollout_waves_through_the_command_line_and_in_the_json(demo_file, tmp_path):
    """`pilots rollout` records a wave; `analyze --json` lists the waves (the pilot first) and the
    rollout effect as the SPEC says; a unit that cannot adopt is refused with its reason."""
    path = tmp_path / "demo.duckdb"
    path.write_bytes(Path(demo_file).read_bytes())
    code, _, err = run(path, "pilots", "rollout", "1", "--unit", "Contact Centre", "--start", "2026-06-01")
    assert code == 1 and "units" in err and "is one of the pilot's own units" in err
    code, out, err = run(path, "pilots", "rollout", "1", "--unit", "Business Banking", "--start", "2026-06-01")
    assert code == 0 and "Business Banking" in out, err
    code, out, err = run(path, "analyze", "1", "--json")
    assert code == 0, err
    case = json.loads(out)
    waves = case["waves"]
    assert waves[0]["units"] == ["Contact Centre"] and waves[0]["effect"] == case["metrics"][0]["effect"]
    assert waves[-1]["units"] == ["Business Banking"] and waves[-1]["start"] == "2026-06-01"
    assert all({"units", "start", "effect", "ci_low", "ci_high"} <= set(w) for w in waves)
    rollout = case["rollout_effect"]
    assert {"simple", "simple_se", "group", "group_se", "control_group"} <= set(rollout)
    assert rollout["control_group"] in ("not_yet_treated", "never_treated") and rollout["simple_se"] > 0
    # Business Banking is no longer a comparison unit once it adopted.
    assert "Business Banking" not in rollout["comparison_units"]


def test_a_pilot_in_two_units_from_the_command_line(tmp_path):
    path = tmp_path / "pilots.duckdb"
    for args in (("units", "add", "A"), ("units", "add", "B"), ("units", "add", "C"),
                 ("metrics", "add", "fte", "--label", "FTE", "--direction", "higher", "--aggregation", "mean")):
        code, _, err = run(path, *args)
        assert code == 0, err
    code, out, err = run(path, "pilots", "add", "--name", "Both", "--unit", "A", "B", "--metric", "fte",
                         "--baseline", "2026-01-05", "2026-03-29", "--pilot", "2026-03-30", "2026-06-28",
                         "--control", "C")
    assert code == 0, err
    code, listed, err = run(path, "pilots", "list")
    assert f"{int(out)}\tBoth\tA and B\t" in listed
    code, _, err = run(path, "pilots", "add", "--name", "Clash", "--unit", "A", "--unit", "C", "--metric", "fte",
                       "--baseline", "2026-01-05", "2026-03-29", "--pilot", "2026-03-30", "2026-06-28",
                       "--control", "C")
    assert code == 1 and "control unit must differ from the pilot's units" in err
