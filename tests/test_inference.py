"""The statistics of one metric, as pure functions: the drift-aware effect against an independent
regression (statsmodels OLS on the units' changes with a period effect per replicate), the
answers-only fallback against statsmodels' HC2, honest variances of small share and NPS cells against
the Agresti–Coull formula, Holm against statsmodels, the one-sided harm test against scipy, and the
verdict rules."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.multitest import multipletests

from pilots import rules
from pilots.inference import (ANSWERS_ONLY, DRIFT, MIN_ANSWERS, Cell, harm_p_value, holm, honest_variance,
                              unit_effect)


def cells_from(changes: dict[tuple[int, int], tuple[float, float]], n=400, variance=100.0) -> dict:
    """Cells by (unit, block, phase) whose means give each unit's change in each block; every cell
    has the same n and variance, so every unit's sampling variance is the same."""
    found = {}
    for (unit, block), (before, after) in changes.items():
        found[(unit, block, "before")] = Cell(before, n, variance, n - 1, 12, 1, 12)
        found[(unit, block, "after")] = Cell(after, n, variance, n - 1, 12, 1, 12)
    return found


def stacked(changes: dict) -> pd.DataFrame:
    """One row per unit and replicate: its change, whether it is the pilot unit in the real windows."""
    return pd.DataFrame([{"unit": unit, "block": block, "change": after - before,
                          "pilot": int(unit == 0 and block == 0)}
                         for (unit, block), (before, after) in changes.items()])


def random_changes(rng, controls: int, blocks: int, drift=0.4) -> dict:
    changes = {}
    for block in range(blocks + 1):
        shared = rng.normal(0, 1)  # a shift every unit sees in that period: it must cancel
        for unit in range(controls + 1):
            before = 50 + unit + rng.normal(0, drift)
            changes[(unit, block)] = (before, before + shared + rng.normal(0, drift) + 2.0 * (unit == 0 and block == 0))
    return changes


@pytest.mark.parametrize("controls, blocks", [(5, 0), (3, 2), (1, 3), (20, 0)])
def test_equal_volumes_give_exactly_the_regression_on_units_changes(controls, blocks):
    """With equal sampling variances the interval is the OLS one of the units' changes on a pilot dummy
    and a period effect per replicate: the exact t interval for one unit against the others."""
    rng = np.random.default_rng(controls * 10 + blocks)
    changes = random_changes(rng, controls, blocks)
    effect = unit_effect(cells_from(changes), (0,), tuple(range(1, controls + 1)), sd_known=True)
    fit = smf.ols("change ~ pilot + C(block)", data=stacked(changes)).fit()
    assert effect.inference == DRIFT and effect.controls == controls and effect.periods == blocks
    assert effect.estimate.effect == pytest.approx(fit.params["pilot"], rel=1e-9)
    assert effect.estimate.se == pytest.approx(fit.bse["pilot"], rel=1e-9)
    assert effect.estimate.df == fit.df_resid
    assert effect.estimate.p_value == pytest.approx(fit.pvalues["pilot"], rel=1e-7)
    low, high = fit.conf_int().loc["pilot"]
    assert (effect.estimate.ci_low, effect.estimate.ci_high) == (pytest.approx(low), pytest.approx(high))
    # periods without a reported sd: the same regression, sampling variances never used
    assert unit_effect(cells_from(changes), (0,), tuple(range(1, controls + 1)), sd_known=False).estimate.se == \
        pytest.approx(fit.bse["pilot"], rel=1e-9)


def test_control_units_weigh_equally_whatever_their_answer_counts():
    changes = {(0, 0): (50.0, 55.0), (1, 0): (50.0, 51.0), (2, 0): (50.0, 53.0)}
    found = cells_from(changes)
    found[(1, 0, "after")] = Cell(51.0, 40_000, 100.0, 39_999)  # a control unit with a hundred times the answers
    effect = unit_effect(found, (0,), (1, 2), sd_known=True)
    assert effect.estimate.effect == pytest.approx(5.0 - (1.0 + 3.0) / 2)
    assert effect.cells["control_after"].mean == pytest.approx((51.0 + 53.0) / 2)


def test_unequal_volumes_move_the_variance_by_the_known_sampling_variances():
    changes = {(u, 0): (50.0, 50.0 + d) for u, d in enumerate([4.0, 1.0, -0.5, 2.0, 0.3])}
    small = cells_from(changes, n=400)
    big_pilot = dict(small)
    for phase in ("before", "after"):
        big_pilot[(0, 0, phase)] = Cell(small[(0, 0, phase)].mean, 100, 100.0, 99)
    j = 4
    diffs = np.array([1.0, -0.5, 2.0, 0.3])
    v_c, v_t = 2 * 100 / 400, 2 * 100 / 100
    tau2 = (np.sum((diffs - diffs.mean()) ** 2) - (j - 1) / j * j * v_c) / (j - 1)
    expected = tau2 * (1 + 1 / j) + v_t + j * v_c / j ** 2
    assert unit_effect(big_pilot, (0,), (1, 2, 3, 4), True).estimate.se == pytest.approx(math.sqrt(expected))
    assert unit_effect(big_pilot, (0,), (1, 2, 3, 4), True).estimate.se > unit_effect(small, (0,), (1, 2, 3, 4), True).estimate.se


def test_without_controls_the_pilot_units_own_earlier_changes_serve():
    changes = {(0, 0): (50.0, 54.0), (0, 1): (50.0, 50.8), (0, 2): (50.0, 48.9), (0, 3): (50.0, 50.4)}
    effect = unit_effect(cells_from(changes, variance=0.0 + 1e-12), (0,), (), sd_known=False)
    earlier = np.array([0.8, -1.1, 0.4])
    assert effect.inference == DRIFT and effect.controls == 0 and effect.replicate_df == 3
    assert effect.estimate.effect == pytest.approx(4.0)
    assert effect.estimate.se == pytest.approx(math.sqrt(np.mean(earlier ** 2)))


def test_one_control_and_no_earlier_data_falls_back_to_the_answers_only_interval_of_ols_hc2():
    rng = np.random.default_rng(4)
    rows = []
    for unit, shift in ((0, 3.0), (1, 0.0)):
        for after, n in ((0, 140), (1, 95)):
            rows += [{"value": v, "treated": int(unit == 0), "after": after}
                     for v in rng.normal(50 + shift * after, 10 + 5 * after, n + 30 * unit)]
    frame = pd.DataFrame(rows)
    cells = {}
    for (treated, after), group in frame.groupby(["treated", "after"]):
        cells[(0 if treated else 1, 0, "after" if after else "before")] = Cell.of(group["value"])
    effect = unit_effect(cells, (0,), (1,), sd_known=True)
    fit = smf.ols("value ~ treated * after", data=frame).fit(cov_type="HC2")
    assert effect.inference == ANSWERS_ONLY and effect.replicate_df == 0
    assert effect.estimate.effect == pytest.approx(fit.params["treated:after"], rel=1e-9)
    assert effect.estimate.se == pytest.approx(fit.bse["treated:after"], rel=1e-9) == effect.se_sampling


def test_a_control_without_data_in_a_window_is_reported_and_left_out():
    changes = {(0, 0): (50.0, 55.0), (1, 0): (50.0, 51.0), (2, 0): (50.0, 52.0), (3, 0): (50.0, 53.0)}
    found = cells_from(changes)
    del found[(3, 0, "after")]
    effect = unit_effect(found, (0,), (1, 2, 3), sd_known=True)
    assert effect.missing_controls == ((3, "after"),) and effect.controls == 2
    assert effect.estimate.effect == pytest.approx(5.0 - 1.5)


def test_small_share_and_nps_cells_keep_an_honest_spread():
    # five answers, all in the top two boxes: the binomial variance would be 0
    assert honest_variance("top2box", [1.0], [0.0], [5])[0] == pytest.approx((7 / 9) * (2 / 9))
    # 40 of 50: the larger of the sample variance and Agresti–Coull's (two successes and two failures added)
    agresti_coull = (42 / 54) * (12 / 54)
    assert agresti_coull > 0.8 * 0.2 * 50 / 49
    assert honest_variance("rate", [0.8], [0.8 * 0.2 * 50 / 49], [50])[0] == pytest.approx(agresti_coull)
    assert honest_variance("rate", [0.8], [0.0], [50])[0] == pytest.approx(agresti_coull)
    # with many answers the sample variance stands
    assert honest_variance("rate", [0.8], [0.8 * 0.2 * 5e4 / (5e4 - 1)], [5e4])[0] == pytest.approx(0.16, rel=1e-3)
    # three identical NPS answers (all promoters): one promoter, passive and detractor added
    p, d = 4 / 6, 1 / 6
    assert honest_variance("nps", [100.0], [0.0], [3])[0] == pytest.approx(1e4 * (p + d - (p - d) ** 2))
    # a large cell keeps its own variance; means are untouched
    assert honest_variance("nps", [20.0], [6400.0], [5000])[0] == pytest.approx(6400.0)
    assert honest_variance("mean", [3.0], [0.0], [3])[0] == 0.0


def test_cells_below_the_minimum_of_answers_give_no_estimate():
    from types import SimpleNamespace

    from pilots.inference import window_cells
    rows = [SimpleNamespace(unit_id=u, block=0, phase=phase, n=n, mean=9.0, variance=0.0, df=n - 1, periods=1,
                            weeks=1, sd_known=True)
            for u, n in ((0, MIN_ANSWERS - 1), (1, 50)) for phase in ("before", "after")]
    found = window_cells(rows, "nps")
    assert set(found) == {(1, 0, "before"), (1, 0, "after")}
    assert not unit_effect(found, (0,), (1,), True).estimate.effect == unit_effect(found, (0,), (1,), True).estimate.effect


def test_holm_matches_statsmodels():
    for p in ([0.01, 0.04, 0.03], [0.001, 0.2, 0.012, 0.013], [0.06, 0.07], [0.02, float("nan"), 0.04]):
        finite = [x for x in p if x == x]
        expected = iter(multipletests(finite, alpha=0.05, method="holm")[0])
        assert holm(p) == [bool(next(expected)) if x == x else False for x in p]


def test_harm_is_a_one_sided_t_test_beyond_the_margin():
    # lower is better: a rise of 0.3 with se 0.1, margin 0.1
    assert harm_p_value("lower", 0.3, 0.1, 12, margin=0.1) == pytest.approx(stats.t.sf(2.0, 12))
    assert harm_p_value("higher", 0.3, 0.1, 12) == pytest.approx(stats.t.sf(-3.0, 12))
    assert math.isnan(harm_p_value("higher", 0.3, float("nan"), 12))


@pytest.mark.parametrize("signal, kwargs, expected", [
    ("meets_target", {}, "Roll out"),
    ("below_target", {}, "Roll out"),
    ("meets_target", {"interim": True}, "Interim"),
    ("worse", {"interim": True}, "Interim"),
    ("meets_target", {"capped": True}, "Extend"),
    ("worse", {"capped": True}, "Extend"),
    ("unclear", {"capped": True}, "Extend"),
    ("meets_target", {"blocking": True}, "Inconclusive"),
    ("meets_target", {"harmed": True}, "Stop"),
    ("misses_target", {}, "Stop"),
    ("target_ruled_out", {}, "Stop"),
    ("unclear", {}, "Extend"),
    ("unclear_no_target", {}, "Inconclusive"),
    ("no_estimate", {"harmed": True}, "Inconclusive"),
])
def test_verdict_rules(signal, kwargs, expected):
    assert rules.verdict(signal, **kwargs)[0] == expected


def test_the_signal_rolls_out_when_significant_and_the_target_not_ruled_out():
    # interval (0.5, 3.5) around 2 against a target of 3: significant, target inside -> Roll out as planned
    assert str(rules.primary_signal(2.0, 0.5, 3.5, 3.0)) == "below_target"
    assert str(rules.primary_signal(2.0, 0.5, 2.9, 3.0)) == "misses_target"
    assert str(rules.primary_signal(2.0, -0.5, 2.9, 3.0)) == "target_ruled_out"
    assert str(rules.primary_signal(2.0, -0.5, 3.5, None)) == "unclear_no_target"


def test_a_pilot_in_two_units_without_controls_takes_the_drift_of_their_mean_change():
    """Without controls each earlier period gives one replicate, the mean of the pilot units' changes
    (shocks they share do not average out), and the effect's variance is that drift, not half of it."""
    rng = np.random.default_rng(4)
    cells = {}
    for unit in (0, 1):
        for block in range(4):
            shared = [1.0, -2.0, 0.5, 3.0][block]  # a shock both units share in each period
            for phase, level in (("before", 50.0), ("after", 50.0 + shared + rng.normal(0, 0.3))):
                cells[(unit, block, phase)] = Cell(level, 400.0, 1.0, 399.0, 1, 1, 12)
    effect = unit_effect(cells, (0, 1), (), sd_known=True)
    means = [np.mean([cells[(u, b, "after")].mean - cells[(u, b, "before")].mean for u in (0, 1)]) for b in (1, 2, 3)]
    noise = 3 * 2 * (1 / 400 + 1 / 400) / 4  # each replicate's sampling variance: the mean of two changes
    sampling = 2 * (1 / 400 + 1 / 400) / 4
    assert effect.replicate_df == 3
    assert effect.estimate.se == pytest.approx(math.sqrt((sum(m ** 2 for m in means) - noise) / 3 + sampling))
