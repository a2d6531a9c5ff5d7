"""The statistics of the case for rollout, checked against independent computations (statsmodels OLS
with HC2, scipy's Welch test, the multinomial NPS formula), the published Card & Krueger (1994)
example through the real import path, and seeded simulations over the same cell functions."""

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from pilots import analysis, cells, ingest, store
from pilots.access import COMMAND_LINE, Actor
from pilots.analysis import Cell, analyze_pilot, estimate_metric
from pilots.model import Metric, PilotDraft

REFERENCE = Path(__file__).resolve().parent / "reference" / "card_krueger_1994_fte.csv"
BASELINE = (dt.date(2025, 1, 6), dt.date(2025, 3, 30))
PILOT = (dt.date(2025, 3, 31), dt.date(2025, 6, 22))
SCORE = Metric("score", "Score", "points", "higher", "mean")
WAIT = Metric("wait_days", "Wait", "days", "lower", "mean", min_value=0)


def import_rows(db, tmp_path, frame: pd.DataFrame, name="rows.csv"):
    """Write rows as an observations file and load it through the real import path."""
    path = tmp_path / name
    frame[["unit", "metric", "date", "value"]].to_csv(path, index=False)
    return ingest.import_file(db, COMMAND_LINE, path, "observations")


def window_dates(rng, window, n):
    days = (window[1] - window[0]).days + 1
    return [window[0] + dt.timedelta(days=int(d)) for d in rng.integers(0, days, n)]


def sample(rng, unit, metric, window, n, mean, sd):
    return pd.DataFrame({"unit": unit, "metric": metric, "date": window_dates(rng, window, n),
                         "value": np.round(rng.normal(mean, sd, n), 6)})


def add_pilot(db, unit="Retail", metric="score", controls=("Online",), target=None, **more):
    return store.add_pilot(db, COMMAND_LINE, PilotDraft(
        name=more.pop("name", f"Pilot in {unit}"), unit=unit, primary_metric=metric,
        baseline_start=BASELINE[0], baseline_end=BASELINE[1], pilot_start=PILOT[0], pilot_end=PILOT[1],
        controls=list(controls), target_effect=target, **more))


@pytest.fixture
def org(db):
    for name, customers in (("Retail", 120_000), ("Online", 400_000), ("Claims", 80_000), ("Mobile", 50_000)):
        store.add_unit(db, COMMAND_LINE, name, customers=customers, revenue_per_customer=200.0)
    store.add_metric(db, COMMAND_LINE, SCORE)
    store.add_metric(db, COMMAND_LINE, WAIT)
    return db


def cells_frame(frame, treated, controls):
    """The rows as the regression sees them: treated and after dummies over both windows."""
    frame = frame.copy()
    frame["treated"] = (frame["unit"] == treated).astype(int)
    frame["after"] = (pd.to_datetime(frame["date"]).dt.date >= PILOT[0]).astype(int)
    return frame[frame["unit"].isin([treated, *controls])]


# ---------------------------------------------------------------- against independent computations

def test_did_equals_ols_interaction_with_hc2_standard_error(org, tmp_path):
    rng = np.random.default_rng(7)
    rows = pd.concat([
        sample(rng, "Retail", "score", BASELINE, 140, 50, 10), sample(rng, "Retail", "score", PILOT, 95, 56, 15),
        sample(rng, "Online", "score", BASELINE, 210, 47, 9), sample(rng, "Online", "score", PILOT, 180, 48, 11),
        sample(rng, "Claims", "score", BASELINE, 60, 53, 12), sample(rng, "Claims", "score", PILOT, 75, 52, 8),
    ])
    import_rows(org, tmp_path, rows)
    pilot_id = add_pilot(org, controls=("Online", "Claims"))

    result = analyze_pilot(org, COMMAND_LINE, pilot_id).primary
    fit = smf.ols("value ~ treated * after", data=cells_frame(rows, "Retail", ["Online", "Claims"])).fit(cov_type="HC2")

    assert result.effect == pytest.approx(fit.params["treated:after"], rel=1e-9)
    assert result.se == pytest.approx(fit.bse["treated:after"], rel=1e-9)
    assert (result.control_before.n, result.control_after.n, result.control_before.units) == (270, 255, 2)
    assert "pooled as one control group" in result.method and "Claims, Online" in result.method


def test_before_after_without_controls_equals_welch_test(org, tmp_path):
    rng = np.random.default_rng(11)
    before = sample(rng, "Retail", "score", BASELINE, 80, 50, 6)
    after = sample(rng, "Retail", "score", PILOT, 45, 53, 14)
    import_rows(org, tmp_path, pd.concat([before, after]))
    pilot_id = add_pilot(org, controls=())

    case = analyze_pilot(org, COMMAND_LINE, pilot_id)
    welch = stats.ttest_ind(after["value"], before["value"], equal_var=False)
    interval = welch.confidence_interval(0.95)
    primary = case.primary
    assert primary.effect == pytest.approx(after["value"].mean() - before["value"].mean(), rel=1e-9)
    assert primary.p_value == pytest.approx(welch.pvalue, rel=1e-7)
    assert primary.df == pytest.approx(welch.df, rel=1e-9)
    assert (primary.ci_low, primary.ci_high) == (pytest.approx(interval.low, rel=1e-7),
                                                 pytest.approx(interval.high, rel=1e-7))
    assert primary.control_before is None and primary.evidence_grade == analysis.BEFORE_AFTER
    assert case.evidence_grade == "before/after only"
    assert "before_after_only" in {c.code for c in case.checks}
    assert "weaker evidence" in primary.method


def test_nps_standard_error_is_the_multinomial_one(org, tmp_path):
    rng = np.random.default_rng(3)
    shares = {"Retail": ([0.3, 0.3, 0.4], [0.2, 0.3, 0.5]), "Online": ([0.25, 0.35, 0.4], [0.25, 0.35, 0.4])}
    frames = []
    for unit, (before_p, after_p) in shares.items():
        for window, p in ((BASELINE, before_p), (PILOT, after_p)):
            n = int(rng.integers(150, 400))
            # detractor 0-6, passive 7-8, promoter 9-10, each answer a whole score
            group = rng.choice(3, size=n, p=p)
            answer = np.choose(group, [rng.integers(0, 7, n), rng.integers(7, 9, n), rng.integers(9, 11, n)])
            frames.append(pd.DataFrame({"unit": unit, "metric": "nps", "date": window_dates(rng, window, n),
                                        "value": answer}))
    rows = pd.concat(frames)
    import_rows(org, tmp_path, rows)
    pilot_id = add_pilot(org, metric="nps")

    result = analyze_pilot(org, COMMAND_LINE, pilot_id).primary
    variance, nps = 0.0, {}
    for (unit, after), group in cells_frame(rows, "Retail", ["Online"]).groupby(["unit", "after"]):
        n = len(group)
        promoters, detractors = (group["value"] >= 9).mean(), (group["value"] <= 6).mean()
        nps[(unit, after)] = 100 * (promoters - detractors)
        # multinomial variance of promoters - detractors, with the unbiased n/(n-1) correction
        variance += 100 ** 2 * (promoters + detractors - (promoters - detractors) ** 2) / (n - 1)
    expected = (nps[("Retail", 1)] - nps[("Retail", 0)]) - (nps[("Online", 1)] - nps[("Online", 0)])
    assert result.effect == pytest.approx(expected, rel=1e-9)
    assert result.se == pytest.approx(np.sqrt(variance), rel=1e-9)
    assert "multinomial" in result.method


def test_card_krueger_through_the_import_path(db, tmp_path):
    store.add_unit(db, COMMAND_LINE, "New Jersey")
    store.add_unit(db, COMMAND_LINE, "Pennsylvania")
    store.add_metric(db, COMMAND_LINE, Metric("fte", "Full-time-equivalent employment", "FTE per store",
                                              "higher", "mean", min_value=0))
    ingest.import_file(db, COMMAND_LINE, REFERENCE, "observations")
    pilot_id = store.add_pilot(db, COMMAND_LINE, PilotDraft(
        name="Minimum wage rise", unit="New Jersey", primary_metric="fte", controls=["Pennsylvania"],
        baseline_start=dt.date(1992, 2, 1), baseline_end=dt.date(1992, 3, 31),
        pilot_start=dt.date(1992, 11, 1), pilot_end=dt.date(1992, 12, 31)))

    result = analyze_pilot(db, COMMAND_LINE, pilot_id).primary
    means = [round(c.mean, 4) for c in (result.control_before, result.control_after,
                                        result.treated_before, result.treated_after)]
    assert means == [23.3312, 21.1656, 20.4394, 21.0274]
    assert [c.n for c in (result.control_before, result.control_after,
                          result.treated_before, result.treated_after)] == [77, 77, 321, 319]
    assert round(result.effect, 4) == 2.7536
    # The paper's printed digits, at their printed precision: cell means to 2 decimals, and the
    # difference-in-differences within one unit of its last printed digit (the paper prints 2.76).
    assert [round(m, 2) for m in means] == [23.33, 21.17, 20.44, 21.03]
    assert abs(result.effect - 2.76) < 0.01
    ses = [round(c.sd / np.sqrt(c.n), 2) for c in (result.control_before, result.control_after,
                                                   result.treated_before, result.treated_after)]
    assert ses == [1.35, 0.94, 0.51, 0.52]
    # the four-independent-cells SE: sqrt of the two printed NJ - PA variances, larger than the paired 1.36
    assert result.se == pytest.approx(np.hypot(1.44, 1.07), abs=0.01) and result.se > 1.36
    assert "independent cells" in result.method and "not a paired standard error" in result.method


# ---------------------------------------------------------------- simulations over the cell functions

def simulated_case(rng, effect, metric=SCORE, target=3.0, n=40, sd=10.0):
    """One pilot's four cells from normal answers, the pilot unit moving by `effect` in the pilot window."""
    shifts = {"treated_before": 0.0, "treated_after": effect, "control_before": 0.0, "control_after": 0.0}
    cells_ = {name: Cell.of(rng.normal(50 + shift, sd, n)) for name, shift in shifts.items()}
    result = estimate_metric(metric, "primary", cells_, target=target)
    return result, analysis.decide(result, analysis.metric_checks(result))[0]


def test_no_effect_interval_covers_zero_about_95_percent_and_rarely_says_roll_out():
    rng = np.random.default_rng(2024)
    runs = [simulated_case(rng, 0.0) for _ in range(400)]
    covered = np.mean([r.ci_low <= 0 <= r.ci_high for r, _ in runs])
    roll_out = np.mean([v == "Roll out" for _, v in runs])
    tolerance = 3 * np.sqrt(0.95 * 0.05 / len(runs))
    assert abs(covered - 0.95) <= tolerance
    assert roll_out <= 0.05


def test_large_effect_says_roll_out():
    rng = np.random.default_rng(5)
    verdicts = [simulated_case(rng, 20.0)[1] for _ in range(200)]
    assert np.mean([v == "Roll out" for v in verdicts]) >= 0.95


def test_swapping_pilot_and_control_flips_the_sign():
    rng = np.random.default_rng(8)
    cells_ = {name: Cell.of(rng.normal(50 + 4 * (name == "treated_after"), 10, 60))
              for name in analysis.CELL_NAMES}
    swapped = {"treated_before": cells_["control_before"], "treated_after": cells_["control_after"],
               "control_before": cells_["treated_before"], "control_after": cells_["treated_after"]}
    one, other = estimate_metric(SCORE, "primary", cells_), estimate_metric(SCORE, "primary", swapped)
    assert other.effect == pytest.approx(-one.effect) and other.se == pytest.approx(one.se)
    assert (other.ci_low, other.ci_high) == (pytest.approx(-one.ci_high), pytest.approx(-one.ci_low))


def test_swapping_pilot_and_control_in_the_database_flips_the_sign(org, tmp_path):
    rng = np.random.default_rng(9)
    import_rows(org, tmp_path, pd.concat([
        sample(rng, "Retail", "score", BASELINE, 90, 50, 10), sample(rng, "Retail", "score", PILOT, 90, 58, 10),
        sample(rng, "Online", "score", BASELINE, 90, 49, 10), sample(rng, "Online", "score", PILOT, 90, 50, 10)]))
    forward = analyze_pilot(org, COMMAND_LINE, add_pilot(org, "Retail", controls=("Online",))).primary
    backward = analyze_pilot(org, COMMAND_LINE, add_pilot(org, "Online", controls=("Retail",))).primary
    assert forward.effect > 0 and backward.effect == pytest.approx(-forward.effect)
    assert backward.se == pytest.approx(forward.se)


# ---------------------------------------------------------------- direction of good, checks, verdict

def test_a_fall_in_resolution_days_is_good_news_and_a_rise_is_bad():
    rng = np.random.default_rng(12)
    for shift, good, verdict in ((-3.0, True, "Roll out"), (3.0, False, "Stop")):
        cells_ = {name: Cell.of(rng.normal(10 + shift * (name == "treated_after"), 2, 200))
                  for name in analysis.CELL_NAMES}
        # a target of one day, written either way, is a fall of one day
        for target in (1.0, -1.0):
            result = estimate_metric(WAIT, "primary", cells_, target=target)
            assert result.good is good and result.significant
            assert analysis.decide(result, analysis.metric_checks(result))[0] == verdict
            g, low, high = result.oriented
            assert np.sign(g) == (1 if good else -1) and low <= g <= high


def test_direction_of_good_reaches_the_portfolio_and_the_case(org, tmp_path):
    rng = np.random.default_rng(13)
    import_rows(org, tmp_path, pd.concat([
        sample(rng, "Retail", "wait_days", BASELINE, 150, 10, 2), sample(rng, "Retail", "wait_days", PILOT, 150, 7, 2),
        sample(rng, "Online", "wait_days", BASELINE, 150, 10, 2), sample(rng, "Online", "wait_days", PILOT, 150, 10, 2),
        sample(rng, "Claims", "wait_days", BASELINE, 150, 9, 2), sample(rng, "Claims", "wait_days", PILOT, 150, 9, 2)]))
    pilot_id = add_pilot(org, metric="wait_days", controls=("Online", "Claims"), target=1.0)
    case = analyze_pilot(org, COMMAND_LINE, pilot_id)
    assert case.primary.effect < 0 and case.primary.good is True
    assert case.verdict == "Roll out", case.reasons
    assert "fell by" in case.reasons[0] and "good news" in case.reasons[0]
    row = analysis.portfolio_effects(org, COMMAND_LINE).set_index("pilot_id").loc[pilot_id]
    assert row["good"] is True and row["provisional_verdict"] == "Roll out"


def test_guardrail_that_moved_significantly_the_bad_way_stops_the_pilot(org, tmp_path):
    rng = np.random.default_rng(14)
    import_rows(org, tmp_path, pd.concat([
        sample(rng, "Retail", "score", BASELINE, 200, 50, 8), sample(rng, "Retail", "score", PILOT, 200, 60, 8),
        sample(rng, "Online", "score", BASELINE, 200, 50, 8), sample(rng, "Online", "score", PILOT, 200, 50, 8),
        # waits rise in the pilot unit only: bad news for a lower-is-better guardrail
        sample(rng, "Retail", "wait_days", BASELINE, 200, 5, 1), sample(rng, "Retail", "wait_days", PILOT, 200, 6, 1),
        sample(rng, "Online", "wait_days", BASELINE, 200, 5, 1), sample(rng, "Online", "wait_days", PILOT, 200, 5, 1)]))
    pilot_id = add_pilot(org, target=3.0, guardrail_metrics=["wait_days"])
    case = analyze_pilot(org, COMMAND_LINE, pilot_id)
    guardrail = case.metrics[1]
    assert (guardrail.role, guardrail.harmed, guardrail.good) == ("guardrail", True, False)
    assert case.primary.signal == "meets_target"
    assert case.verdict == "Stop"
    assert any("Guardrail Wait rose" in r for r in case.reasons)
    assert "guardrail_harm" in {c.code for c in case.checks}


def test_minimum_detectable_effect_above_target_is_warned(org, tmp_path):
    rng = np.random.default_rng(15)
    import_rows(org, tmp_path, pd.concat([sample(rng, unit, "score", window, 25, 50, 20)
                                          for unit in ("Retail", "Online") for window in (BASELINE, PILOT)]))
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, target=3.0))
    warning = next(c for c in case.checks if c.code == "underpowered")
    assert "this pilot cannot show a lift of 3.00 points with this data" in warning.message.lower()
    mde = case.primary.mde
    expected = (stats.t.ppf(0.975, case.primary.df) + stats.t.ppf(0.8, case.primary.df)) * case.primary.se
    assert mde == pytest.approx(expected) and mde > 3
    assert f"{mde:,.2f}" in warning.message


def test_enough_data_has_no_power_warning(org, tmp_path):
    rng = np.random.default_rng(16)
    import_rows(org, tmp_path, pd.concat([sample(rng, unit, "score", window, 2000, 50, 5)
                                          for unit in ("Retail", "Online") for window in (BASELINE, PILOT)]))
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, target=3.0))
    assert case.primary.mde < 3 and "underpowered" not in {c.code for c in case.checks}


def test_overlapping_pilots_and_treated_controls_are_warned_and_block_the_verdict(org, tmp_path):
    rng = np.random.default_rng(17)
    import_rows(org, tmp_path, pd.concat([
        sample(rng, unit, "score", window, 150, 50 + 8 * (unit == "Retail" and window == PILOT), 8)
        for unit in ("Retail", "Online", "Claims") for window in (BASELINE, PILOT)]))
    pilot_id = add_pilot(org, controls=("Online", "Claims"), target=3.0)
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
    assert "ran in control unit Claims" in treated.message
    assert case.verdict == "Inconclusive"

    other("Retail", "proposed")
    codes = {c.code: c.severity for c in analyze_pilot(org, COMMAND_LINE, pilot_id).checks}
    assert codes["overlap_same_unit"] == "caution"  # only proposed: it may never run

    # a head of Retail sees the warning about Claims, but not the name of a pilot they may not see
    head = Actor("rita@example.com", "unit_head", frozenset({store.get_pilot(org, COMMAND_LINE, pilot_id).unit_id}))
    message = next(c for c in analyze_pilot(org, head, pilot_id).checks if c.code == "control_treated").message
    assert "Other in Claims" not in message and "not visible to you" in message

    # analysed together, each pilot gets its own overlaps: the proposed one in Retail overlaps the main pilot
    together = {case.pilot: case for case in analysis.analyze_pilots(org, COMMAND_LINE)}
    assert not [c for c in together["Other in Claims"].checks if c.code in ("overlap_same_unit", "control_treated")]
    own_unit = [c.message for c in together["Other in Retail"].checks if c.code == "overlap_same_unit"]
    assert len(own_unit) == 1 and "'Pilot in Retail'" in own_unit[0]
    assert together["Pilot in Retail"].checks == analyze_pilot(org, COMMAND_LINE, pilot_id).checks

def test_one_control_unit_and_few_weeks_are_warned(org, tmp_path):
    rng = np.random.default_rng(18)
    short = (PILOT[0], PILOT[0] + dt.timedelta(days=13))
    import_rows(org, tmp_path, pd.concat([sample(rng, "Retail", "score", BASELINE, 100, 50, 8),
                                          sample(rng, "Retail", "score", short, 100, 50, 8),
                                          sample(rng, "Online", "score", BASELINE, 100, 50, 8),
                                          sample(rng, "Online", "score", PILOT, 100, 50, 8)]))
    checks = analyze_pilot(org, COMMAND_LINE, add_pilot(org)).checks
    assert "Fewer than 2 control units (only Online)" in next(c for c in checks if c.code == "few_controls").message
    few = [c.message for c in checks if c.code == "few_periods"]
    assert few == ["Only 2 weeks with Score data for the pilot unit in the pilot window: week-to-week swings and "
                   "trends can hardly be told from the effect."]


def test_pilot_unit_drifting_away_in_the_baseline_fails_the_trend_check(org, tmp_path):
    rng = np.random.default_rng(19)
    frames = []
    for unit, slope in (("Retail", 1.0), ("Online", 0.0)):
        for window in (BASELINE, PILOT):
            part = sample(rng, unit, "score", window, 1200, 50, 5)
            weeks = (pd.to_datetime(part["date"]) - pd.Timestamp(BASELINE[0])).dt.days / 7
            part["value"] = np.round(part["value"] + slope * weeks, 6)
            frames.append(part)
    import_rows(org, tmp_path, pd.concat(frames))
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, target=3.0))
    pre = case.primary.pre_trend
    assert pre.failed and pre.weeks == 12 and pre.slope == pytest.approx(1.0, abs=0.2)
    assert case.verdict == "Inconclusive"
    assert any("already drifting" in r for r in case.reasons)


def test_rollout_value_applies_the_effect_to_each_other_units_customers(org, tmp_path):
    rng = np.random.default_rng(20)
    import_rows(org, tmp_path, pd.concat([
        sample(rng, unit, "wait_days", window, 300, 10 - 2 * (unit == "Retail" and window == PILOT), 2)
        for unit in ("Retail", "Online") for window in (BASELINE, PILOT)]))
    pilot_id = add_pilot(org, metric="wait_days", target=1.0)
    assumptions = cells.RolloutAssumptions(value_per_point=4.0, revenue_share_per_point=0.01, realisation=0.5)
    case = analyze_pilot(org, COMMAND_LINE, pilot_id, assumptions)
    value, primary = case.rollout_value, case.primary
    per_customer = 4.0 + 0.01 * 200.0
    expected = {u: -primary.effect * 0.5 * c * per_customer for u, c in
                (("Online", 400_000), ("Claims", 80_000), ("Mobile", 50_000))}
    assert {u.unit: u.value for u in value.units} == pytest.approx(expected)
    assert value.total == pytest.approx(sum(expected.values()))
    assert value.total_low == pytest.approx(-primary.ci_high * 0.5 * 530_000 * per_customer)
    assert value.total_low < value.total < value.total_high

    # stored with the pilot, audited; the case then uses them without being told
    version = store.get_pilot(org, COMMAND_LINE, pilot_id).version
    chosen = dataclasses.replace(assumptions, unit_ids=(store.unit_lookup(store.list_units(org, COMMAND_LINE))["mobile"].unit_id,))
    cells.save_assumptions(org, COMMAND_LINE, pilot_id, chosen, expected_version=version)
    stored = analyze_pilot(org, COMMAND_LINE, pilot_id).rollout_value
    assert [u.unit for u in stored.units] == ["Mobile"] and stored.total == pytest.approx(expected["Mobile"])


def test_no_value_per_point_gives_no_value_and_says_why(org, tmp_path):
    rng = np.random.default_rng(21)
    import_rows(org, tmp_path, pd.concat([sample(rng, unit, "score", window, 100, 50, 8)
                                          for unit in ("Retail", "Online") for window in (BASELINE, PILOT)]))
    value = analyze_pilot(org, COMMAND_LINE, add_pilot(org)).rollout_value
    assert value.total is None and "Set a value per point" in value.notes[0]


# ---------------------------------------------------------------- portfolio and planning

def test_portfolio_matches_each_pilots_case(org, tmp_path):
    rng = np.random.default_rng(22)
    import_rows(org, tmp_path, pd.concat([
        sample(rng, unit, metric, window, 120, 50 + 5 * (unit == "Retail" and window == PILOT), 8)
        for unit in ("Retail", "Online", "Claims") for metric in ("score", "wait_days") for window in (BASELINE, PILOT)]))
    ids = [add_pilot(org, "Retail", controls=("Online", "Claims"), target=2.0, name="a"),
           add_pilot(org, "Online", metric="wait_days", controls=("Claims",), target=1.0, name="b"),
           add_pilot(org, "Claims", controls=(), name="c"),
           add_pilot(org, "Mobile", controls=("Online",), name="no data")]
    frame = analysis.portfolio_effects(org, COMMAND_LINE).set_index("pilot_id")
    assert list(frame.index) == ids
    for pilot_id in ids:
        case = analyze_pilot(org, COMMAND_LINE, pilot_id)
        row = frame.loc[pilot_id]
        primary = case.primary
        for column in ("effect", "se", "ci_low", "ci_high", "p_value", "mde"):
            expected = getattr(primary, column)
            assert (np.isnan(row[column]) and np.isnan(expected)) or row[column] == pytest.approx(expected), column
        assert row["evidence_grade"] == primary.evidence_grade
        assert row["provisional_verdict"] == analysis.SIGNALS[primary.signal][0]
    assert frame.loc[ids[3], "signal"] == "no_estimate"

    # a unit head sees only their unit's pilots
    retail = store.unit_lookup(store.list_units(org, COMMAND_LINE))["retail"].unit_id
    head = Actor("rita@example.com", "unit_head", frozenset({retail}))
    assert list(analysis.portfolio_effects(org, head)["pilot_id"]) == [ids[0]]


def test_portfolio_cache_follows_the_data(org, tmp_path):
    rng = np.random.default_rng(23)
    pilot_id = add_pilot(org)
    first = analysis.portfolio_effects(org, COMMAND_LINE)
    assert first.loc[0, "signal"] == "no_estimate"
    assert not analysis.analyze_pilots(org, COMMAND_LINE)[0].primary.has_estimate
    import_rows(org, tmp_path, pd.concat([sample(rng, unit, "score", window, 100, 50, 8)
                                          for unit in ("Retail", "Online") for window in (BASELINE, PILOT)]))
    again = analysis.portfolio_effects(org, COMMAND_LINE)
    assert again.loc[0, "pilot_id"] == pilot_id and not np.isnan(again.loc[0, "effect"])
    case = analysis.analyze_pilots(org, COMMAND_LINE)[0]
    assert case.primary.has_estimate and case.primary.effect == pytest.approx(again.loc[0, "effect"])
    # a change of assumptions is a change of data too: the cached value follows it
    pilot = store.get_pilot(org, COMMAND_LINE, pilot_id)
    cells.save_assumptions(org, COMMAND_LINE, pilot_id, cells.RolloutAssumptions(value_per_point=3.0),
                           expected_version=pilot.version)
    assert analysis.analyze_pilots(org, COMMAND_LINE)[0].rollout_value.assumptions.value_per_point == 3.0


def test_weeks_needed_from_the_units_usual_volumes(org, tmp_path):
    rng = np.random.default_rng(24)
    history = (dt.date(2024, 10, 7), dt.date(2024, 12, 29))  # the 12 weeks before the draft's pilot window
    rows = pd.concat([sample(rng, "Retail", "score", history, 600, 50, 10),
                      sample(rng, "Online", "score", history, 1800, 50, 14),
                      sample(rng, "Claims", "score", history, 600, 50, 14)])
    import_rows(org, tmp_path, rows)
    draft = PilotDraft(name="Plan", unit="Retail", primary_metric="score", controls=["Online", "Claims"],
                       baseline_start=dt.date(2024, 10, 7), baseline_end=dt.date(2024, 12, 29),
                       pilot_start=dt.date(2025, 1, 6), pilot_end=dt.date(2025, 3, 30), target_effect=2.0)
    plan = analysis.weeks_needed(org, COMMAND_LINE, draft)

    treated = rows[rows["unit"] == "Retail"]["value"]
    control = rows[rows["unit"] != "Retail"]["value"]
    spread = treated.var() / (len(treated) / 12) + control.var() / (len(control) / 12)
    k = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2
    assert plan.weekly_n_treated == pytest.approx(50) and plan.weekly_n_control == pytest.approx(200)
    assert plan.weeks_each_window == int(np.ceil(2 * k * spread / 4))
    assert plan.pilot_weeks == int(np.ceil(spread / (4 / k - spread / 12)))
    # detecting half the target takes about four times as long
    assert analysis.weeks_needed(org, COMMAND_LINE, draft, target=1.0).weeks_each_window == \
        int(np.ceil(2 * k * spread / 1))


def test_weeks_needed_names_unknown_units_and_needs_a_target(org):
    draft = PilotDraft(name="Plan", unit="Retial", primary_metric="score", baseline_start=BASELINE[0],
                       baseline_end=BASELINE[1], pilot_start=PILOT[0], pilot_end=PILOT[1], target_effect=2.0)
    with pytest.raises(Exception, match="did you mean 'Retail'"):
        analysis.weeks_needed(org, COMMAND_LINE, draft)
    with pytest.raises(Exception, match="needs a target"):
        analysis.weeks_needed(org, COMMAND_LINE, dataclasses.replace(draft, unit="Retail", target_effect=None))


def test_empty_portfolio_is_an_empty_table(org):
    frame = analysis.portfolio_effects(org, COMMAND_LINE)
    assert frame.empty and {"pilot_id", "effect", "ci_low", "ci_high", "provisional_verdict"} <= set(frame.columns)


def test_randomised_pilot_is_graded_randomised(org, tmp_path):
    rng = np.random.default_rng(25)
    import_rows(org, tmp_path, pd.concat([sample(rng, unit, "score", window, 100, 50, 8)
                                          for unit in ("Retail", "Online") for window in (BASELINE, PILOT)]))
    case = analyze_pilot(org, COMMAND_LINE, add_pilot(org, randomised=True))
    assert case.evidence_grade == analysis.RANDOMISED and "assigned at random" in case.primary.method
    assert analysis.portfolio_effects(org, COMMAND_LINE).loc[0, "evidence_grade"] == analysis.RANDOMISED


def test_pilots_analysed_together_give_each_pilots_own_case(demo):
    together = analysis.analyze_pilots(demo, COMMAND_LINE)
    assert [c.pilot_id for c in together] == [p.pilot_id for p in store.list_pilots(demo, COMMAND_LINE)]
    for case in together:
        alone = analyze_pilot(demo, COMMAND_LINE, case.pilot_id)
        assert (case.verdict, case.reasons, case.checks) == (alone.verdict, alone.reasons, alone.checks)
        for mine, theirs in zip(case.metrics, alone.metrics, strict=True):
            assert mine.metric == theirs.metric
            assert (mine.effect, mine.se) == pytest.approx((theirs.effect, theirs.se), nan_ok=True)
        assert case.rollout_value.total == pytest.approx(alone.rollout_value.total)
    assert {c.verdict for c in together} >= {"Roll out", "Stop", "Inconclusive"}
    contact_centre = store.get_pilot(demo, COMMAND_LINE, 1)
    head = Actor("head@example.com", "unit_head", frozenset({contact_centre.unit_id}))
    assert {c.unit for c in analysis.analyze_pilots(demo, head)} == {contact_centre.unit_name}
    assert [c.pilot_id for c in analysis.analyze_pilots(demo, COMMAND_LINE, unit_ids=[contact_centre.unit_id])] == \
        [p.pilot_id for p in store.list_pilots(demo, COMMAND_LINE, unit_ids=[contact_centre.unit_id])]


def test_p_values_are_written_as_in_a_report(demo):
    assert analysis.p_words(0.0004) == "p < 0.001"
    assert analysis.p_words(0.001) == "p = 0.001" and analysis.p_words(0.04567) == "p = 0.046"
    case = analyze_pilot(demo, COMMAND_LINE, 1)
    assert case.primary.p_value < 0.001
    assert any("p < 0.001" in reason for reason in case.reasons)
    assert not any("p = 0.000" in reason for reason in case.reasons)
