"""The SQL cells of the analysis: observations and period measurements give, per unit and window, the
mean, n and variance per answer an independent pandas computation gives; earlier periods of the
pilot's length are cut like the design; overlaps are found; rollout assumptions are stored, audited
and locked."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pilots import cells, ingest, lifecycle, store
from pilots.access import COMMAND_LINE, AccessDenied, Actor
from pilots.model import Metric, PilotDraft, ValidationError
from pilots.db import _append_audit
from pilots.store import StaleEdit

BASELINE = (dt.date(2025, 1, 6), dt.date(2025, 3, 30))
PILOT = (dt.date(2025, 3, 31), dt.date(2025, 6, 22))
MEASURED = Metric("score_weekly", "Score (weekly figures)", "points", "higher", "mean")


@pytest.fixture
def org(db):
    for name in ("Retail", "Online", "Claims"):
        store.add_unit(db, COMMAND_LINE, name, customers=1000)
    store.add_metric(db, COMMAND_LINE, Metric("score", "Score", "points", "higher", "mean"))
    store.add_metric(db, COMMAND_LINE, MEASURED)
    return db


def answers(seed=1, n=3000):
    """Row-level answers of three units over both windows (and a few outside them)."""
    rng = np.random.default_rng(seed)
    start = BASELINE[0] - dt.timedelta(days=14)
    days = rng.integers(0, (PILOT[1] - start).days + 15, n)
    frame = pd.DataFrame({"unit": rng.choice(["Retail", "Online", "Claims"], n), "metric": "score",
                          "date": [start + dt.timedelta(days=int(d)) for d in days]})
    frame["value"] = np.round(rng.normal(50, 10, n) + 3 * (frame["unit"] == "Online"), 4)
    return frame


def load(db, tmp_path, frame, kind="observations", name="rows.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return ingest.import_file(db, COMMAND_LINE, path, kind)


def add_pilot(db, unit="Retail", metric="score", controls=("Online", "Claims"), **more):
    fields = dict(name="A pilot", unit=unit, primary_metric=metric, baseline_start=BASELINE[0],
                  baseline_end=BASELINE[1], pilot_start=PILOT[0], pilot_end=PILOT[1], controls=list(controls))
    return store.add_pilot(db, COMMAND_LINE, PilotDraft(**{**fields, **more}))


def expected_cells(frame):
    """Cells by pandas: every unit in each window; rows outside dropped."""
    frame = frame.copy()
    day = pd.to_datetime(frame["date"]).dt.date
    frame["phase"] = np.where(day.between(*BASELINE), "before", np.where(day.between(*PILOT), "after", None))
    frame = frame.dropna(subset=["phase"])
    return frame.groupby(["unit", "phase"])["value"].agg(["mean", "count", "var"])


def by_unit(org, found):
    """The real windows' cells (block 0) indexed by unit name and phase."""
    names = {u.unit_id: u.name for u in store.list_units(org, COMMAND_LINE)}
    found = found[found["block"] == 0].assign(unit=lambda f: f["unit_id"].map(names))
    return found.set_index(["unit", "phase"])


def test_cells_of_observations_are_the_pooled_sample_statistics(org, tmp_path):
    frame = answers()
    load(org, tmp_path, frame)
    pilot = store.get_pilot(org, COMMAND_LINE, add_pilot(org))
    found, weekly = cells.pilot_cells(org, COMMAND_LINE, [pilot])
    assert set(found["block"]) == {0, 1}  # the 14 days before the baseline fall in the first earlier period
    found = by_unit(org, found)
    expected = expected_cells(frame)
    for key, row in expected.iterrows():
        assert found.loc[key, "mean"] == pytest.approx(row["mean"], rel=1e-12)
        assert found.loc[key, "n"] == row["count"]
        assert found.loc[key, "variance"] == pytest.approx(row["var"], rel=1e-9)
        assert found.loc[key, "df"] == row["count"] - 1
    assert found.loc[("Online", "before"), "weeks"] == 12

    # weekly cells: the mean of each week of each arm
    frame["week"] = pd.to_datetime(frame["date"]).dt.to_period("W-SUN").dt.start_time.dt.date
    day = pd.to_datetime(frame["date"]).dt.date
    before = frame[(frame["unit"] == "Retail") & day.between(*BASELINE)].groupby("week")["value"].mean()
    got = weekly[(weekly["arm"] == "treated") & (weekly["phase"] == "before")]
    assert dict(zip(pd.to_datetime(got["week"]).dt.date, got["mean"])) == pytest.approx(before.to_dict())


def test_measurements_with_n_and_sd_give_the_same_cells_as_their_answers(org, tmp_path):
    frame = answers(seed=2)
    load(org, tmp_path, frame)
    # the same answers summed up per unit and week, as a measurements file of another metric
    frame["period_start"] = pd.to_datetime(frame["date"]).dt.to_period("W-SUN").dt.start_time.dt.date
    weekly = frame.groupby(["unit", "period_start"])["value"].agg(["mean", "count", "std"]).reset_index()
    weekly = weekly[weekly["count"] > 1]
    measurements = pd.DataFrame({"unit": weekly["unit"], "metric": MEASURED.key, "period_start": weekly["period_start"],
                                 "value": weekly["mean"], "n": weekly["count"], "sd": weekly["std"]})
    load(org, tmp_path, measurements, "measurements", "weekly.csv")
    kept = frame.merge(weekly[["unit", "period_start"]], on=["unit", "period_start"])
    pilot = store.get_pilot(org, COMMAND_LINE, add_pilot(org, metric=MEASURED.key, guardrail_metrics=["score"]))
    found = cells.pilot_cells(org, COMMAND_LINE, [pilot])[0]
    measured = by_unit(org, found[found["metric_key"] == MEASURED.key])
    # weeks are whole inside both windows, so the weekly figures cover exactly the windows' answers
    for key, row in expected_cells(kept).iterrows():
        assert measured.loc[key, "n"] == row["count"]
        assert measured.loc[key, "mean"] == pytest.approx(row["mean"], rel=1e-9)
        assert measured.loc[key, "variance"] == pytest.approx(row["var"], rel=1e-6)
        assert bool(measured.loc[key, "sd_known"])


def test_measurements_without_sd_use_the_spread_between_periods(org, tmp_path):
    rows = pd.DataFrame({"unit": "Retail", "metric": MEASURED.key,
                         "period_start": [BASELINE[0] + dt.timedelta(weeks=w) for w in range(4)],
                         "value": [50.0, 54.0, 49.0, 53.0], "n": [100, 300, 200, 100]})
    load(org, tmp_path, rows, "measurements")
    pilot = store.get_pilot(org, COMMAND_LINE, add_pilot(org, metric=MEASURED.key, controls=()))
    cell = by_unit(org, cells.pilot_cells(org, COMMAND_LINE, [pilot])[0]).loc[("Retail", "before")]
    mean = np.average(rows["value"], weights=rows["n"])
    between = np.sum(rows["n"] * (rows["value"] - mean) ** 2) / (len(rows) - 1)
    assert (cell["n"], cell["mean"], cell["df"]) == (700, pytest.approx(mean), 3)
    assert cell["variance"] == pytest.approx(between) and not cell["sd_known"]


def test_share_measurements_with_n_and_no_sd_use_the_binomial_spread(org, tmp_path):
    store.add_unit(org, COMMAND_LINE, "Mobile")
    rows = pd.DataFrame({"unit": "Mobile", "metric": "fcr",
                         "period_start": [BASELINE[0], BASELINE[0] + dt.timedelta(weeks=1)],
                         "value": [0.6, 0.7], "n": [50, 150]})
    load(org, tmp_path, rows, "measurements")
    pilot = store.get_pilot(org, COMMAND_LINE, add_pilot(org, unit="Mobile", metric="fcr", controls=()))
    cell = cells.pilot_cells(org, COMMAND_LINE, [pilot])[0].iloc[0]
    # the 0/1 answers these shares stand for: 30 + 105 ones out of 200
    ones = np.r_[np.ones(30), np.zeros(20), np.ones(105), np.zeros(45)]
    assert (cell["n"], cell["mean"]) == (200, pytest.approx(ones.mean()))
    assert cell["variance"] == pytest.approx(ones.var(ddof=1))


def test_earlier_periods_are_cut_like_the_design(org, tmp_path):
    """Days before the baseline fall into blocks of the pilot's length counted back from the baseline,
    each split into a part as long as the baseline ('before') and one as long as the pilot window."""
    rng = np.random.default_rng(4)
    length = (PILOT[1] - BASELINE[0]).days + 1
    start = BASELINE[0] - dt.timedelta(days=3 * length)
    days = [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 3 * length, 4000)]
    frame = pd.DataFrame({"unit": rng.choice(["Retail", "Online"], 4000), "metric": "score", "date": days,
                          "value": np.round(rng.normal(50, 10, 4000), 4)})
    load(org, tmp_path, frame)
    pilot = store.get_pilot(org, COMMAND_LINE, add_pilot(org, controls=("Online",)))
    found, weekly = cells.pilot_cells(org, COMMAND_LINE, [pilot])
    names = {u.unit_id: u.name for u in store.list_units(org, COMMAND_LINE)}
    found = found.assign(unit=found["unit_id"].map(names)).set_index(["unit", "block", "phase"])
    offset = np.array([(d - BASELINE[0]).days for d in days])
    block = (-offset - 1) // length + 1
    block_start = -block * length
    frame["block"] = block
    frame["phase"] = np.where(offset - block_start < (BASELINE[1] - BASELINE[0]).days + 1, "before", "after")
    expected = frame.groupby(["unit", "block", "phase"])["value"].agg(["mean", "count"])
    assert set(found.index) == set(expected.index)
    for key, row in expected.iterrows():
        assert found.loc[key, "n"] == row["count"] and found.loc[key, "mean"] == pytest.approx(row["mean"])
    assert weekly.empty  # weekly cells only in the real windows


def test_overlapping_pilots_and_rollouts_are_found(org):
    pilot = store.get_pilot(org, COMMAND_LINE, add_pilot(org, name="main"))
    inside = add_pilot(org, unit="Claims", controls=(), name="in a control, during the windows")
    add_pilot(org, unit="Retail", controls=(), name="earlier", baseline_start=dt.date(2024, 1, 1),
              baseline_end=dt.date(2024, 1, 31), pilot_start=dt.date(2024, 2, 1), pilot_end=dt.date(2024, 3, 1))
    lifecycle.record_decision(org, COMMAND_LINE, inside, "roll_out", "worked", "board", dt.date(2025, 6, 1))
    lifecycle.record_rollout(org, COMMAND_LINE, inside, ["Retail"], dt.date(2025, 5, 1))
    found = cells.overlapping_pilots(org, COMMAND_LINE, [pilot])
    assert sorted(zip(found["kind"], found["name"])) == [
        ("control_treated", "in a control, during the windows"),
        ("same_unit_rollout", "in a control, during the windows")]


def test_assumptions_are_saved_audited_and_guarded(org):
    pilot_id = add_pilot(org)
    pilot = store.get_pilot(org, COMMAND_LINE, pilot_id)
    assert cells.load_assumptions(org, COMMAND_LINE, [pilot]) == {pilot_id: cells.RolloutAssumptions()}
    wanted = cells.RolloutAssumptions(value_per_point=2.5, revenue_share_per_point=0.001, realisation=0.8,
                                      unit_ids=(pilot.control_unit_ids[0],))
    cells.save_assumptions(org, COMMAND_LINE, pilot_id, wanted, expected_version=pilot.version)
    saved = store.get_pilot(org, COMMAND_LINE, pilot_id)
    assert cells.load_assumptions(org, COMMAND_LINE, [saved])[pilot_id] == wanted and saved.version == pilot.version + 1
    with org.cursor() as cur:
        entry = cur.execute("SELECT actor, action, after FROM audit_log WHERE entity = 'pilot' "
                            "ORDER BY audit_id DESC LIMIT 1").fetchone()
    assert entry[:2] == ("command-line", "assumptions") and '"realisation": 0.8' in entry[2]

    before = store.table_counts(org)
    with pytest.raises(StaleEdit):
        cells.save_assumptions(org, COMMAND_LINE, pilot_id, cells.RolloutAssumptions(1.0), expected_version=pilot.version)
    with pytest.raises(ValidationError, match="realisation"):
        cells.save_assumptions(org, COMMAND_LINE, pilot_id, cells.RolloutAssumptions(1.0, realisation=1.5))
    with pytest.raises(AccessDenied):
        cells.save_assumptions(org, Actor("board@example.com", "steering"), pilot_id, wanted)
    assert store.table_counts(org) == {**before, "audit_log": before["audit_log"] + 1}  # the refusal, logged
    assert cells.load_assumptions(org, COMMAND_LINE, [store.get_pilot(org, COMMAND_LINE, pilot_id)])[pilot_id] == wanted


def test_data_version_changes_when_saves_commit_out_of_the_order_of_their_audit_ids(org):
    slow, quick = org._handle.cursor(), org._handle.cursor()  # two sessions' transactions
    try:
        slow.begin()
        _append_audit(slow, "x@example.com", "x", "update", "unit", 1, None, {"customers": 10})  # takes id N
        quick.begin()
        _append_audit(quick, "x@example.com", "x", "comment", "pilot", 1, None, {"body": "hi"})  # takes id N + 1
        quick.commit()
        between = cells.data_version(org)
        slow.commit()
        assert cells.data_version(org) != between
    finally:
        slow.close()
        quick.close()
