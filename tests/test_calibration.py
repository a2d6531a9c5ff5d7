"""Calibration of the pilot statistics at a small, fixed-seed scale (`bench/calibration.py`): with no
true effect the drift-aware 95% interval covers about 95% and the verdict rarely says Roll out;
at the planned target about 80% Roll out; guardrails without harm rarely stop a pilot under Holm.
The same runs show that the answers-only interval would fail on drifting units, so the test tells
the method from its predecessor. Also: the simulation's vectorised cells combine weeks as the app
does (the simulation then runs them through the app's own `window_cells` and `unit_effect`)."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import calibration as cal  # noqa: E402
from pilots.inference import Cell, unit_effect  # noqa: E402

SEED = 7
REPS = 1500
SIZING = 10000
ROLL_OUT_LIMIT = 0.05
# Two Monte-Carlo standard errors of a share of 5% at REPS: a true rate at the limit passes, the
# estimate may exceed it by noise only this far.
TOLERANCE = 2 * math.sqrt(ROLL_OUT_LIMIT * (1 - ROLL_OUT_LIMIT) / REPS)


@pytest.fixture(scope="module")
def results():
    keys = ("1v5-drift-nohist", "1v1-drift", "nps-1v5-drift-nohist", "guard-1v5-drift-hist", "1v1-drift-nohist")
    return {key: cal.simulate_design(key, REPS, SEED, SIZING) for key in keys}


@pytest.mark.parametrize("key", ["1v5-drift-nohist", "1v1-drift", "nps-1v5-drift-nohist", "guard-1v5-drift-hist"])
def test_drift_aware_interval_covers_and_rarely_rolls_out_a_null_pilot(results, key):
    for row in results[key]:
        assert row["inference"] == "units and earlier periods"
        assert 0.93 <= row["coverage"] <= 0.97, row
        assert row["false_roll_out"] <= ROLL_OUT_LIMIT + TOLERANCE, row
        # The test can fail: the answers-only interval on the same drifting units would not cover.
        assert row["coverage_answers_only"] < 0.85, row


@pytest.mark.parametrize("key", ["1v5-drift-nohist", "1v1-drift", "nps-1v5-drift-nohist"])
def test_a_pilot_sized_for_its_target_rolls_out_about_80_percent(results, key):
    (row,) = results[key]
    assert 0.72 <= row["power"] <= 0.88, row
    assert row["false_stop"] <= ROLL_OUT_LIMIT + TOLERANCE, row


def test_holm_keeps_false_stops_from_harmless_guardrails_rare(results):
    holm, uncorrected = results["guard-1v5-drift-hist"]
    assert holm["variant"] == "guardrails, Holm"
    assert holm["guardrail_stop"] <= ROLL_OUT_LIMIT + TOLERANCE, holm
    assert 0.72 <= holm["power"] <= 0.88, holm
    # Without the correction three guardrails stop about 1 - 0.95³ ≈ 14% of harmless pilots: the test
    # would catch a lost correction.
    assert uncorrected["guardrail_stop"] > 0.09, uncorrected


def test_answers_only_fallback_covers_badly_but_is_capped(results):
    (row,) = results["1v1-drift-nohist"]
    assert row["inference"] == "answers only"
    assert row["coverage"] < 0.85
    assert row["false_roll_out"] == 0 and row["power"] == 0 and row["false_stop"] == 0


@pytest.mark.parametrize("key", ["nps-1v5-drift-hist", "nosd-1v5-drift-hist", "sd-1v5-drift-hist"])
def test_simulated_cells_combine_weeks_as_the_app_does(key):
    """The vectorised cells (before `window_cells`) are the sample of all answers (NPS: rebuilt as
    +100/0/-100 scores), the pooled weekly rows with n and sd, or the spread of weekly means; and the
    vectorised effect used to size the target is `unit_effect`'s."""
    design = cal.DESIGNS[key]
    n, mean, ss, _ = cal.simulate_panel(np.random.default_rng(3), design, 3,
                                        0.5 if design.metric == "mean" else 20.0)
    _, groups = cal.week_groups(design)
    d = cal.effect_from_means(design, n, mean, ss)
    for (block, phase), idx in groups.items():
        a = cal.cell_arrays(design, n, mean, ss, idx)
        for r, u in ((0, 0), (1, 3), (2, design.controls)):
            w = [i for i in idx if n[r, u, i] > 0]
            if design.metric == "nps":
                scores = []
                for i in w:
                    net = round(mean[r, u, i] * n[r, u, i] / 100)
                    either = round((ss[r, u, i] + n[r, u, i] * mean[r, u, i] ** 2) / 1e4)
                    promoters, detractors = (either + net) // 2, (either - net) // 2
                    scores += [100] * promoters + [-100] * detractors + [0] * int(n[r, u, i] - either)
                expected = Cell.of(scores)
                expected = (expected.n, expected.mean, expected.variance, expected.df)
            elif design.data == "no_sd":
                values = [mean[r, u, i] for i in w]
                expected = (len(values), np.mean(values), np.var(values, ddof=1), len(values) - 1)
            else:
                total = sum(n[r, u, i] for i in w)
                m = sum(n[r, u, i] * mean[r, u, i] for i in w) / total
                pooled = sum(ss[r, u, i] + n[r, u, i] * (mean[r, u, i] - m) ** 2 for i in w) / (total - 1)
                expected = (total, m, pooled, total - 1)
            got = (a["n"][r, u], a["mean"][r, u], a["variance"][r, u], a["df"][r, u])
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-9), (block, phase, r, u)
    for r in range(3):
        cells = cal.rep_cells(design, {k: cal.cell_arrays(design, n, mean, ss, idx) for k, idx in groups.items()}, r)
        effect = unit_effect(cells, (0,), tuple(range(1, design.controls + 1)), design.sd_known)
        assert effect.inference == "units and earlier periods"
        assert float(effect.estimate.effect) == pytest.approx(d[r], abs=1e-9)
