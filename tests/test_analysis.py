"""The case for rollout through the real database: the effect and its drift-aware interval from rows
imported through the real import path, checked against an independent pandas computation of the
units' changes; Card & Krueger (1994) reproduced; checks that block, stop or cap the verdict;
interim results; the rollout value; planning with the same variance; the portfolio and its cache."""

import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pilots import analysis, cells, formats, inference, ingest, planning, results, store
from pilots.access import COMMAND_LINE, Actor
from pilots.analysis import analyze_pilot
from pilots.model import Metric, PilotDraft

REFERENCE = Path(__file__).resolve().parent / "reference" / "card_krueger_1994_fte.csv"
BASELINE = (dt.date(2025, 1, 6), dt.date(2025, 3, 30))  # 12 weeks
PILOT = (dt.date(2025, 3, 31), dt.date(2025, 6, 22))  # 12 weeks
HISTORY_START = dt.date(2024, 1, 22)  # 50 weeks before the baseline: two earlier periods of 24 weeks
SCORE = Metric("score", "Score", "points", "higher", "mean")
WAIT = Metric("wait_days", "Wait", "days", "lower", "mean", min_value=0)
UNITS = ("Retail", "Online", "Claims", "Mobile")


def import_rows(db, tmp_path, frame: pd.DataFrame, name="rows.csv"):
    """Write rows as an observations file and load it through the real import path."""
    path = tmp_path / name
    frame[["unit", "metric", "date", "value"]].to_csv(path, index=False)
    return ingest.import_file(db, COMMAND_LINE, path, "observations")


def weekly_answers(rng, unit, metric, start, end, per_week, mean, sd, drift_sd=0.0, shift=None):
    """Answers of one unit, `per_week` in every week from start to end, around a level that wanders
    from week to week by drift_sd; `shift(day)` adds a pilot's effect."""
    rows = []
    week = start
    while week <= end:
        level = mean + rng.normal(0, drift_sd)
        days = [week + dt.timedelta(days=int(d)) for d in rng.integers(0, 7, per_week)]
        values = rng.normal(level, sd, per_week) + np.array([shift(d) if shift else 0.0 for d in days])
        rows.append(pd.DataFrame({"unit": unit, "metric": metric, "date": days, "value": np.round(values, 6)}))
        week += dt.timedelta(days=7)
    return pd.concat(rows)


def panel(rng, metric="score", units=UNITS, effect=0.0, per_week=30, mean=50.0, sd=10.0, drift_sd=0.0,
          pilot_unit="Retail", start=HISTORY_START):
    """Every unit's answers from the start of the history to the end of the pilot window; the pilot
    unit moves by `effect` in the pilot window."""
    return pd.concat([weekly_answers(rng, unit, metric, start, PILOT[1], per_week, mean + i, sd, drift_sd,
                                     (lambda d: effect * (d >= PILOT[0])) if unit == pilot_unit else None)
                      for i, unit in enumerate(units)])


def add_pilot(db, unit="Retail", metric="score", controls=("Online", "Claims", "Mobile"), target=None, **more):
    return store.add_pilot(db, COMMAND_LINE, PilotDraft(
        name=more.pop("name", f"Pilot in {unit}"), unit=unit, primary_metric=metric,
        baseline_start=more.pop("baseline_start", BASELINE[0]), baseline_end=BASELINE[1],
        pilot_start=PILOT[0], pilot_end=more.pop("pilot_end", PILOT[1]),
        controls=list(controls), target_effect=target, **more))


@pytest.fixture
def org(db):
    for name, customers in zip(UNITS + ("Branches",), (120_000, 400_000, 80_000, 50_000, 60_000)):
        store.add_unit(db, COMMAND_LINE, name, customers=customers, revenue_per_customer=200.0)
    store.add_metric(db, COMMAND_LINE, SCORE)
    store.add_metric(db, COMMAND_LINE, WAIT)
    return db


def expected_effect(rows: pd.DataFrame, treated: str | list[str], controls: list[str]) -> tuple[float, float, int]:
    """The effect, its standard error and degrees of freedom, computed from the raw rows with pandas:
    each unit's change between its window means in the real windows and in every earlier period of
    the same length (24 weeks: 12 'before' and 12 'after' weeks) ending before the baseline; the
    pilot's units (one or several) against its controls, each side an equal-weight mean of units."""
    pilot_units = [treated] if isinstance(treated, str) else list(treated)
    frame = rows.copy()
    day = pd.to_datetime(frame["date"])
    length = (PILOT[1] - BASELINE[0]).days + 1
    offset = (day - pd.Timestamp(BASELINE[0])).dt.days
    frame["block"] = np.where(offset >= 0, 0, (-offset - 1) // length + 1)
    start_of_block = np.where(frame["block"] == 0, 0, -frame["block"] * length)
    base_days = (BASELINE[1] - BASELINE[0]).days + 1
    frame["phase"] = np.where(offset - start_of_block < base_days, "before", "after")
    frame = frame[(offset <= (PILOT[1] - BASELINE[0]).days) & (frame["block"] <= 6)]
    stats_ = frame.groupby(["unit", "block", "phase"])["value"].agg(["mean", "var", "count"])
    stats_["v"] = stats_["var"] / stats_["count"]
    wide = stats_.unstack("phase").dropna()
    change = (wide[("mean", "after")] - wide[("mean", "before")]).rename("change")
    sampling = (wide[("v", "after")] + wide[("v", "before")]).rename("v")
    units = pd.concat([change, sampling], axis=1).reset_index()
    units = units[units["unit"].isin([*pilot_units, *controls])]
    real = units[units["block"] == 0].set_index("unit")
    effect = real.loc[pilot_units, "change"].mean() - real.loc[controls, "change"].mean()
    squares = noise = dof = 0.0
    for block, group in units.groupby("block"):
        group = group[~group["unit"].isin(pilot_units)] if block == 0 else group
        m = len(group)
        if m >= 2:
            squares += ((group["change"] - group["change"].mean()) ** 2).sum()
            noise += (m - 1) / m * group["v"].sum()
            dof += m - 1
    k, j = len(pilot_units), len(controls)
    variance = ((squares - noise) / dof * (1 / k + 1 / j) + real.loc[pilot_units, "v"].sum() / k ** 2
                + real.loc[controls, "v"].sum() / j ** 2)
    return effect, math.sqrt(variance), int(dof)


# ---------------------------------------------------------------- the effect against independent computations

def test_effect_and_interval_from_imported_rows_match_an_independent_computation(org, tmp_path):
    rng = np.random.default_rng(7)
    rows = panel(rng, effect=4.0, drift_sd=1.5)
    import_rows(org, tmp_path, rows)
    result = analyze_pilot(org, COMMAND_LINE, add_pilot(org, target=3.0)).primary
    effect, se, dof = expected_effect(rows, "Retail", ["Online", "Claims", "Mobile"])
    assert result.effect == pytest.approx(effect, rel=1e-9)
    assert result.se == pytest.approx(se, rel=1e-9)
    assert (result.df, result.controls_used, result.placebo_periods) == (dof, 3, 2)
    quantile = stats.t.ppf(0.975, dof)
    assert (result.ci_low, result.ci_high) == (pytest.approx(effect - quantile * se), pytest.approx(effect + quantile * se))
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(effect / se), dof))
    assert result.inference == inference.DRIFT and result.se > result.se_sampling
    # control cells as shown weigh every control unit equally
    real = rows[pd.to_datetime(rows["date"]).dt.date.between(*PILOT)]
    assert result.control_after.mean == pytest.approx(
        real[real["unit"] != "Retail"].groupby("unit")["value"].mean().mean(), rel=1e-9)
    assert "each control unit weighing the same" in result.method and "earlier period" in result.method


def test_a_pilot_in_two_units_is_their_mean_change_against_the_controls(org, tmp_path):
    rng = np.random.default_rng(8)
    rows = panel(rng, effect=4.0, drift_sd=1.5)
    in_mobile = (rows["unit"] == "Mobile") & (pd.to_datetime(rows["date"]).dt.date >= PILOT[0])
    rows.loc[in_mobile, "value"] += 4.0
    import_rows(org, tmp_path, rows)
    pilot_id = add_pilot(org, controls=("Online", "Claims"), further_units=["Mobile"], target=3.0)
    case = analyze_pilot(org, COMMAND_LINE, pilot_id)
    effect, se, dof = expected_effect(rows, ["Retail", "Mobile"], ["Online", "Claims"])
    assert case.primary.effect == pytest.approx(effect, rel=1e-9)
    assert case.primary.se == pytest.approx(se, rel=1e-9) and case.primary.df == dof
    assert case.unit == "Retail and Mobile" and case.primary.synthetic is None  # a twin is of one unit
    # The pilot's units weigh the same in the cells shown.
    real = rows[pd.to_datetime(rows["date"]).dt.date.between(*PILOT)]
    assert case.primary.treated_after.mean == pytest.approx(
        real[real["unit"].isin(["Retail", "Mobile"])].groupby("unit")["value"].mean().mean(), rel=1e-9)


def test_card_krueger_through_the_import_path(db, tmp_path):
    store.add_unit(db, COMMAND_LINE, "New Jersey")
    store.add_unit(db, COMMAND_LINE, "Pennsylvania")
    store.add_metric(db, COMMAND_LINE, Metric("fte", "Full-time-equivalent employment", "FTE per store",
                                              "higher", "mean", min_value=0))
    ingest.import_file(db, COMMAND_LINE, REFERENCE, "observations")
    pilot_id = store.add_pilot(db, COMMAND_LINE, PilotDraft(
        name="Minimum wage rise", unit="New Jersey", primary_metric="fte", controls=["Pennsylvania"],
        baseline_start=dt.date(1992, 2, 1), baseline_end=dt.date(1992, 3, 31),
        pilot_start=dt.date(1992, 11, 1), pilot_end=dt.date(1992, 12, 31), target_effect=1.0))

    case = analyze_pilot(db, COMMAND_LINE, pilot_id)
    result = case.primary
    shown = (result.control_before, result.control_after, result.treated_before, result.treated_after)
    means = [round(c.mean, 4) for c in shown]
    assert means == [23.3312, 21.1656, 20.4394, 21.0274]
    assert [c.n for c in shown] == [77, 77, 321, 319]
    assert round(result.effect, 4) == 2.7536
    # The paper's printed digits, at their printed precision: cell means to 2 decimals, and the
    # difference-in-differences within one unit of its last printed digit (the paper prints 2.76).
    assert [round(m, 2) for m in means] == [23.33, 21.17, 20.44, 21.03]
    assert abs(result.effect - 2.76) < 0.01
    assert [round(c.sd / np.sqrt(c.n), 2) for c in shown] == [1.35, 0.94, 0.51, 0.52]
    # One control unit, one survey each side and no earlier data: nothing shows how much states drift,
    # so the interval is the answers-only one (four independent cells, larger than the paper's paired
    # 1.36) and the verdict is capped at Extend, with the reason.
    assert result.inference == inference.ANSWERS_ONLY
    assert result.se == pytest.approx(np.hypot(1.44, 1.07), abs=0.01) and result.se > 1.36
    assert "not a paired standard error" in result.method
    caution = next(c for c in case.checks if c.code == "answers_only")
    assert "capped at Extend" in caution.message and case.verdict == "Extend"


def test_drift_that_answers_cannot_see_widens_the_interval(org, tmp_path):
    """Units whose weekly level wanders: the answers-only interval is far too narrow, the case's is not."""
    rng = np.random.default_rng(8)
    import_rows(org, tmp_path, panel(rng, drift_sd=4.0, per_week=60))
    result = analyze_pilot(org, COMMAND_LINE, add_pilot(org)).primary
    assert result.se > 1.5 * result.se_sampling
    assert result.drift_sd > 0


# ---------------------------------------------------------------- direction of good, checks, verdict

def test_a_fall_in_wait_is_good_news_and_rolls_out(org, tmp_path):
    rng = np.random.default_rng(13)
    import_rows(org, tmp_path, panel(rng, metric="wait_days", mean=10, sd=2, effect=-1.5))
    pilot_id = add_pilot(org, metric="wait_days", target=1.0)
    case = analyze_pilot(org, COMMAND_LINE, pilot_id)
    assert case.primary.effect < 0 and case.primary.good is True
    assert case.verdict == "Roll out", case.reasons
    assert "fell by" in case.reasons[0] and "good news" in case.reasons[0]
    row = analysis.portfolio_effects(org, COMMAND_LINE).set_index("pilot_id").loc[pilot_id]
    assert bool(row["good"]) is True and row["verdict"] == "Roll out"


def test_a_guardrail_harmed_beyond_its_margin_stops_the_pilot(org, tmp_path):
    rng = np.random.default_rng(14)
    import_rows(org, tmp_path, pd.concat([panel(rng, effect=6.0),
                                          panel(rng, metric="wait_days", mean=5, sd=1, effect=1.0)]))
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, target=3.0, guardrail_metrics=["wait_days"]))
    guardrail = case.metrics[1]
    assert (guardrail.role, guardrail.harmed, guardrail.good) == ("guardrail", True, False)
    assert guardrail.harm_margin == pytest.approx(0.01 * guardrail.treated_before.mean)
    assert case.primary.signal == "meets_target" and case.verdict == "Stop"
    assert any("Guardrail Wait rose" in r and "Holm" in r for r in case.reasons)


def test_a_guardrail_that_held_does_not_stop(org, tmp_path):
    rng = np.random.default_rng(15)
    import_rows(org, tmp_path, pd.concat([panel(rng, effect=6.0), panel(rng, metric="wait_days", mean=5, sd=1)]))
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, target=3.0, guardrail_metrics=["wait_days"]))
    assert not case.metrics[1].harmed and case.verdict == "Roll out", case.reasons


def test_a_guardrail_without_data_blocks_the_verdict(org, tmp_path):
    rng = np.random.default_rng(16)
    import_rows(org, tmp_path, panel(rng, effect=6.0))
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, target=3.0, guardrail_metrics=["wait_days"]))
    check = next(c for c in case.checks if c.code == "guardrail_not_measured")
    assert check.severity == "blocking" and check.message.startswith("Guardrail not measured")
    assert case.verdict == "Inconclusive" and not case.metrics[1].harmed


def test_a_control_unit_without_data_in_a_window_blocks_the_verdict(org, tmp_path):
    rng = np.random.default_rng(17)
    rows = panel(rng, effect=6.0)
    quiet = (rows["unit"] == "Mobile") & (pd.to_datetime(rows["date"]).dt.date >= PILOT[0])
    import_rows(org, tmp_path, rows[~quiet])
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, target=3.0))
    check = next(c for c in case.checks if c.code == "control_without_data")
    assert check.severity == "blocking" and "Mobile (pilot window)" in check.message
    assert case.verdict == "Inconclusive" and case.primary.controls_used == 2


def test_before_after_without_controls_is_at_most_extend(org, tmp_path):
    rng = np.random.default_rng(18)
    import_rows(org, tmp_path, panel(rng, units=("Retail",), effect=8.0))
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, controls=(), target=3.0))
    assert case.primary.significant and case.primary.evidence_grade == results.BEFORE_AFTER
    assert case.primary.inference == inference.DRIFT and case.primary.placebo_periods == 2
    assert case.verdict == "Extend" and "before_after_only" in {c.code for c in case.checks}


def test_a_running_pilot_is_interim_with_no_roll_out(org, tmp_path, monkeypatch):
    rng = np.random.default_rng(19)
    import_rows(org, tmp_path, panel(rng, effect=8.0))
    pilot_id = add_pilot(org, target=3.0)
    assert analyze_pilot(org, COMMAND_LINE, pilot_id).verdict == "Roll out"
    monkeypatch.setattr(analysis, "today", lambda: dt.date(2025, 5, 1))
    case = analyze_pilot(org, COMMAND_LINE, pilot_id)
    assert case.verdict == "Interim" and case.interim == "week 5 of 12"
    assert case.reasons[0].startswith("Interim result, week 5 of 12")
    monkeypatch.setattr(analysis, "today", lambda: dt.date(2025, 3, 1))
    assert analyze_pilot(org, COMMAND_LINE, pilot_id).interim.startswith("the pilot window starts on 31 Mar 2025")


def test_overlapping_pilots_and_treated_controls_are_warned_and_block_the_verdict(org, tmp_path, monkeypatch):
    rng = np.random.default_rng(20)
    import_rows(org, tmp_path, panel(rng, effect=8.0))
    pilot_id = add_pilot(org, target=3.0)
    assert analyze_pilot(org, COMMAND_LINE, pilot_id).verdict == "Roll out"

    def other(unit, status):
        return store.add_pilot(org, COMMAND_LINE, PilotDraft(
            name=f"Other in {unit}", unit=unit, primary_metric="score", status=status,
            baseline_start=dt.date(2025, 1, 1), baseline_end=dt.date(2025, 1, 31),
            pilot_start=dt.date(2025, 4, 14), pilot_end=dt.date(2025, 5, 31)))

    other("Claims", "running")
    case = analyze_pilot(org, COMMAND_LINE, pilot_id)
    treated = next(c for c in case.checks if c.code == "control_treated")
    assert treated.severity == "blocking" and "'Other in Claims' (2025-04-14 to 2025-05-31)" in treated.message
    assert "ran in control unit Claims" in treated.message and case.verdict == "Inconclusive"

    other("Retail", "proposed")
    codes = {c.code: c.severity for c in analyze_pilot(org, COMMAND_LINE, pilot_id).checks}
    assert codes["overlap_same_unit"] == "caution"  # only proposed: it may never run

    # a head of Retail sees the warning about Claims, but not the name of a pilot they may not see
    head = Actor("rita@example.com", "unit_head", frozenset({store.get_pilot(org, COMMAND_LINE, pilot_id).unit_id}))
    message = next(c for c in analyze_pilot(org, head, pilot_id).checks if c.code == "control_treated").message
    assert "Other in Claims" not in message and "not visible to you" in message
    together = {case.pilot: case for case in analysis.analyze_pilots(org, COMMAND_LINE)}
    assert together["Pilot in Retail"].checks == analyze_pilot(org, COMMAND_LINE, pilot_id).checks
    # the tense follows the dates: read before the other pilot started, it will run
    for on, words in ((dt.date(2025, 4, 1), "will run in control unit Claims"),
                      (dt.date(2025, 5, 1), "has been running in control unit Claims")):
        monkeypatch.setattr(analysis, "today", lambda on=on: on)
        assert words in next(c.message for c in analyze_pilot(org, COMMAND_LINE, pilot_id).checks
                             if c.code == "control_treated")


def test_few_units_and_weeks_are_warned(org, tmp_path):
    rng = np.random.default_rng(21)
    rows = panel(rng, units=("Retail", "Online"), start=BASELINE[0])
    short = (rows["unit"] == "Retail") & (pd.to_datetime(rows["date"]).dt.date > PILOT[0] + dt.timedelta(days=13))
    import_rows(org, tmp_path, rows[~short])
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, controls=("Online",)))
    codes = {c.code for c in case.checks}
    assert {"few_controls", "answers_only", "few_periods"} <= codes
    assert [c.message for c in case.checks if c.code == "few_periods"] == [
        "Only 2 weeks with Score data for the pilot unit in the pilot window: week-to-week swings and trends can "
        "hardly be told from the effect."]


def test_minimum_detectable_effect_above_target_is_warned(org, tmp_path):
    rng = np.random.default_rng(22)
    import_rows(org, tmp_path, panel(rng, per_week=3, sd=20))
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, target=3.0))
    warning = next(c for c in case.checks if c.code == "underpowered")
    assert warning.message.startswith("This pilot is too small to show a lift of 3.00 points")
    assert f"reliably detect is {formats.number(case.primary.mde)} points" in warning.message
    expected = (stats.t.ppf(0.975, case.primary.df) + stats.t.ppf(0.8, case.primary.df)) * case.primary.se
    assert case.primary.mde == pytest.approx(expected) and case.primary.mde > 3


# ---------------------------------------------------------------- rollout value

def test_rollout_value_goes_to_the_units_chosen_with_a_range_that_holds_its_doubts(org, tmp_path):
    rng = np.random.default_rng(23)
    import_rows(org, tmp_path, panel(rng, metric="wait_days", mean=10, sd=2, effect=-2.0))
    pilot_id = add_pilot(org, metric="wait_days", target=1.0, controls=("Online", "Claims"))
    assumptions = cells.RolloutAssumptions(value_per_point=4.0, revenue_share_per_point=0.01, realisation=0.5)
    case = analyze_pilot(org, COMMAND_LINE, pilot_id, assumptions)
    value, primary = case.rollout_value, case.primary
    per_customer = 4.0 + 0.01 * 200.0
    # by default neither the pilot unit nor its controls: Mobile and Branches
    expected = {u: -primary.effect * 0.5 * c * per_customer for u, c in (("Branches", 60_000), ("Mobile", 50_000))}
    assert value.shrink_factor is None  # one pilot: nothing to learn the winner's curse from
    assert {u.unit: u.value for u in value.units} == pytest.approx(expected)
    assert value.total == pytest.approx(sum(expected.values()))
    assert value.total_low < value.total < value.total_high
    # the range is wider than the effect's interval alone: realisation and unit differences count too
    effect_only = (primary.oriented[0] - primary.oriented[1]) * 0.5 * 110_000 * per_customer
    assert value.total - value.total_low > effect_only

    version = store.get_pilot(org, COMMAND_LINE, pilot_id).version
    online = store.unit_lookup(store.list_units(org, COMMAND_LINE))["online"].unit_id
    cells.save_assumptions(org, COMMAND_LINE, pilot_id, dataclasses.replace(assumptions, unit_ids=(online,)),
                           expected_version=version)
    stored = analyze_pilot(org, COMMAND_LINE, pilot_id).rollout_value
    assert [u.unit for u in stored.units] == ["Online"]  # a control unit, when chosen
    assert stored.total == pytest.approx(-primary.effect * 0.5 * 400_000 * per_customer)


def test_the_value_shrinks_a_pilot_by_what_the_portfolio_says():
    from pilots.analysis import MetricResult
    from pilots.value import Shrinkage, rollout_value, shrinkage
    from pilots.inference import Cell
    base = Cell(10.0, 400, 4.0, 399)
    result = MetricResult(2.0, 0.5, 20, 1.0, 3.0, 0.001, 1.4, "m", "M", "pts", "primary", "higher", "mean",
                          base, base, base, base, "", results.CONTROLLED, target=1.0, inference=inference.DRIFT)
    prior = shrinkage([result, dataclasses.replace(result, effect=0.1),
                                dataclasses.replace(result, effect=-0.2), dataclasses.replace(result, effect=0.3)])
    z = np.array([2.0, 0.1, -0.2, 0.3]) / 2.0
    assert prior.prior_variance == pytest.approx(np.mean(z ** 2 - 0.25 ** 2))
    factor = prior.prior_variance / (prior.prior_variance + 0.25 ** 2)
    assert prior.factor(result) == pytest.approx(factor) and 0 < factor < 1
    from pilots.model import Unit
    value = rollout_value(result, (1,), (), [Unit(1, "A"), Unit(2, "B", customers=1000)],
                          cells.RolloutAssumptions(value_per_point=1.0, realisation=1.0), prior)
    assert value.total == pytest.approx(2.0 * factor * 1000)
    assert value.shrink_factor == pytest.approx(factor)
    assert shrinkage([result, result]) == Shrinkage(2, None)


def test_no_value_per_point_gives_no_value_and_says_why(org, tmp_path):
    rng = np.random.default_rng(24)
    import_rows(org, tmp_path, panel(rng, units=("Retail", "Online"), start=BASELINE[0]))
    value = analyze_pilot(org, COMMAND_LINE, add_pilot(org, controls=("Online",))).rollout_value
    assert value.total is None and "Set a value per point" in value.notes[0]


# ---------------------------------------------------------------- planning

def test_weeks_needed_uses_the_variance_the_case_will_have(org, tmp_path):
    rng = np.random.default_rng(25)
    import_rows(org, tmp_path, panel(rng, drift_sd=1.0))
    draft = PilotDraft(name="Plan", unit="Retail", primary_metric="score", controls=["Online", "Claims", "Mobile"],
                       baseline_start=dt.date(2025, 7, 7), baseline_end=dt.date(2025, 9, 28),
                       pilot_start=dt.date(2025, 9, 29), pilot_end=dt.date(2025, 12, 21), target_effect=3.0)
    plan = planning.weeks_needed(org, COMMAND_LINE, draft)
    assert plan.drift_df > 0 and plan.weekly_n_treated == pytest.approx(30, rel=0.01)

    def mde(b, w):
        sampling = 100 / 30 * (1 / b + 1 / w) * (1 + 1 / 3)  # equal volumes and spread in every unit
        variance = plan.drift_sd ** 2 * (1 + 1 / 3) + sampling
        return (stats.t.ppf(0.975, plan.drift_df) + stats.t.ppf(0.8, plan.drift_df)) * math.sqrt(variance)

    k = plan.weeks_each_window
    assert mde(k, k) == pytest.approx(3.0, rel=0.25) or mde(k, k) < 3.0
    # the smallest whole number of weeks that is enough, with the units' own spread (within 10%)
    assert mde(k * 0.9, k * 0.9) > 3.0 * 0.9 and mde(k * 1.1, k * 1.1) < 3.0 * 1.1
    # a smaller target takes longer; a larger drift can make it undetectable
    assert planning.weeks_needed(org, COMMAND_LINE, draft, target=2.0).weeks_each_window > k


def test_weeks_needed_names_unknown_units_and_needs_a_target(org):
    draft = PilotDraft(name="Plan", unit="Retial", primary_metric="score", baseline_start=BASELINE[0],
                       baseline_end=BASELINE[1], pilot_start=PILOT[0], pilot_end=PILOT[1], target_effect=2.0)
    with pytest.raises(Exception, match="did you mean 'Retail'"):
        planning.weeks_needed(org, COMMAND_LINE, draft)
    with pytest.raises(Exception, match="needs a target"):
        planning.weeks_needed(org, COMMAND_LINE, dataclasses.replace(draft, unit="Retail", target_effect=None))


# ---------------------------------------------------------------- portfolio and cache

def test_portfolio_reads_each_pilots_case(org, tmp_path):
    rng = np.random.default_rng(26)
    import_rows(org, tmp_path, pd.concat([panel(rng, effect=5.0), panel(rng, metric="wait_days", mean=10, sd=2)]))
    ids = [add_pilot(org, "Retail", target=2.0, name="a"),
           add_pilot(org, "Online", metric="wait_days", controls=("Claims", "Mobile"), target=1.0, name="b"),
           add_pilot(org, "Claims", controls=(), name="c"),
           add_pilot(org, "Branches", controls=("Online",), name="no data")]
    frame = analysis.portfolio_effects(org, COMMAND_LINE).set_index("pilot_id")
    assert list(frame.index) == ids
    for pilot_id in ids:
        case = analyze_pilot(org, COMMAND_LINE, pilot_id)
        row = frame.loc[pilot_id]
        for column in ("effect", "se", "se_sampling", "ci_low", "ci_high", "p_value", "mde"):
            expected = getattr(case.primary, column)
            assert (np.isnan(row[column]) and np.isnan(expected)) or row[column] == pytest.approx(expected), column
        assert (row["verdict"], row["evidence_grade"]) == (case.verdict, case.primary.evidence_grade)
    assert frame.loc[ids[3], "signal"] == "no_estimate"
    retail = store.unit_lookup(store.list_units(org, COMMAND_LINE))["retail"].unit_id
    head = Actor("rita@example.com", "unit_head", frozenset({retail}))
    assert list(analysis.portfolio_effects(org, head)["pilot_id"]) == [ids[0]]


def test_portfolio_cache_follows_the_data(org, tmp_path):
    rng = np.random.default_rng(27)
    pilot_id = add_pilot(org)
    first = analysis.portfolio_effects(org, COMMAND_LINE)
    assert first.loc[0, "signal"] == "no_estimate"
    import_rows(org, tmp_path, panel(rng))
    again = analysis.portfolio_effects(org, COMMAND_LINE)
    assert again.loc[0, "pilot_id"] == pilot_id and not np.isnan(again.loc[0, "effect"])
    pilot = store.get_pilot(org, COMMAND_LINE, pilot_id)
    cells.save_assumptions(org, COMMAND_LINE, pilot_id, cells.RolloutAssumptions(value_per_point=3.0),
                           expected_version=pilot.version)
    assert analysis.analyze_pilots(org, COMMAND_LINE)[0].rollout_value.assumptions.value_per_point == 3.0


def test_empty_portfolio_is_an_empty_table(org):
    frame = analysis.portfolio_effects(org, COMMAND_LINE)
    assert frame.empty and {"pilot_id", "effect", "ci_low", "ci_high", "verdict"} <= set(frame.columns)


def test_randomised_pilot_is_graded_randomised(org, tmp_path):
    rng = np.random.default_rng(28)
    import_rows(org, tmp_path, panel(rng, units=("Retail", "Online"), start=BASELINE[0]))
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, controls=("Online",), randomised=True))
    assert case.evidence_grade == results.RANDOMISED and "assigned at random" in case.primary.method


def test_pilots_analysed_together_give_each_pilots_own_case(demo):
    together = analysis.analyze_pilots(demo, COMMAND_LINE)
    assert [c.pilot_id for c in together] == [p.pilot_id for p in store.list_pilots(demo, COMMAND_LINE)]
    for case in together:
        alone = analyze_pilot(demo, COMMAND_LINE, case.pilot_id)
        assert (case.verdict, case.reasons, case.checks) == (alone.verdict, alone.reasons, alone.checks)
        for mine, theirs in zip(case.metrics, alone.metrics, strict=True):
            assert (mine.effect, mine.se) == pytest.approx((theirs.effect, theirs.se), nan_ok=True)
        assert case.rollout_value.total == pytest.approx(alone.rollout_value.total)
    assert {c.verdict for c in together} >= {"Roll out", "Stop", "Extend", "Interim"}
    contact_centre = store.get_pilot(demo, COMMAND_LINE, 1)
    head = Actor("head@example.com", "unit_head", frozenset({contact_centre.unit_id}))
    assert {c.unit for c in analysis.analyze_pilots(demo, head)} == {contact_centre.unit_name}


def test_p_values_are_written_for_people_and_for_statisticians(demo):
    # for the statistician (How we know, appendix): never a rounded 'p = 0.000'
    assert analysis.p_words(0.0004) == "p < 0.001"
    assert analysis.p_words(0.001) == "p = 0.001" and analysis.p_words(0.04567) == "p = 0.046"
    # for the committee: how often such a change shows up when a pilot does nothing
    assert formats.chance_words(0.0004).startswith("a change this large would show up less than 1 time in 1,000")
    assert formats.chance_words(0.32) == "a change this large shows up about 1 time in 3 even when a pilot does nothing"
    case = next(c for c in analysis.analyze_pilots(demo, COMMAND_LINE) if c.primary.p_value < 0.001)
    assert any("less than 1 time in 1,000" in reason for reason in case.reasons)
    assert not any("p = " in reason or "p < " in reason for reason in case.reasons)
