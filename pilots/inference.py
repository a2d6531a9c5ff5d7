"""The statistics of one metric of one pilot, as pure functions over small frames: cells (mean, n,
variance per answer), the effect, and the interval a decision may rest on. No database here: the
same functions serve a pilot's case, the calibration simulation (`bench/calibration.py`) and the
tests.

The unit of evidence is the business unit over time, not the answer
--------------------------------------------------------------------
A unit's level wanders from week to week and quarter to quarter (staffing, a campaign, a storm) far
more than its answers' sampling noise says. So the effect is built from each unit's own change and
its interval from how much units' changes differ when no pilot runs:

- Each unit u (the pilot unit T and every control unit c) has a mean in the baseline and in the pilot
  window; its change is Δ_u = after − before, with sampling variance v_u = s²_before/n_before +
  s²_after/n_after.
- Effect D = Δ_T − (1/J) Σ_c Δ_c: control units weigh equally, whatever their answer counts (without
  controls, D = Δ_T, a plain before/after change).
- Replicates of "no pilot": (a) placebo-in-space, the J controls' changes in the real windows around
  their mean (J − 1 degrees of freedom); (b) placebo-in-time, earlier periods of the same length
  before the baseline (`pilots.cells`: blocks), in which every unit with data, the pilot unit
  included, is untreated: their changes around the block's mean (m_k − 1 degrees of freedom each).
  Without controls the pilot's own earlier changes serve, around zero (one each; for a pilot in
  several units, the mean of its units' changes, since shocks they share do not average out).
- Model Var(Δ_u) = τ² + v_u: τ² the drift of a unit's change beyond sampling. With m units in a
  replicate, E Σ (Δ_u − mean)² = (m − 1) τ² + (m − 1)/m Σ v_u, so τ̂² = (Σ SS − Σ (m−1)/m Σ v) / Σ df.
  Var(D) = τ̂² (1 + 1/J) + v_T + Σ v_c / J². When every unit has the same sampling variance this is
  s² (1 + 1/J), the exact t interval for a new unit's change against J others (t on Σ df degrees of
  freedom); unequal volumes move it by the known sampling variances. A pilot in K units is judged on
  the mean of their changes: Var(D) = τ̂² (1/K + 1/J) + Σ v_T / K² + Σ v_c / J² with controls; without
  them τ̂² is already the drift of that mean, and Var(D) = τ̂² + Σ v_T / K². Periods without a standard
  deviation make v unknown: then v drops out and s² (1 + 1/J) is used as it is.
- The 95% interval and the p-value come from Student's t on Σ df degrees of freedom; sampling
  variance stays in (it is part of every replicate's spread).
- When no replicate exists (one control and no earlier data; a textbook two-by-two), the interval
  falls back to the answers-only one, sqrt(Σ s²/n) with Welch–Satterthwaite degrees of freedom:
  it cannot see drift, so the verdict built on it is capped (see `pilots.analysis`).

Small and degenerate cells: a unit-window needs MIN_ANSWERS answers before it counts (periods
reported without a standard deviation: two periods, the least that shows a spread).
Shares (top-2-box, rates: 0/1 answers) and NPS (+100/0/−100) have a floor on their variance per
answer from pseudo-counts (Agresti–Coull: two successes and two failures added for a share; one
promoter, one passive and one detractor for NPS), so identical answers never give certainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

ALPHA = 0.05
POWER = 0.80
MIN_ANSWERS = 10

DRIFT = "units and earlier periods"
ANSWERS_ONLY = "answers only"


# ---------------------------------------------------------------- cells

@dataclass(frozen=True)
class Cell:
    """One unit (or arm) in one window: mean, n (answers, or summed period weights), variance per
    answer and the degrees of freedom of that variance; periods, units and weeks the cell spans."""

    mean: float
    n: float
    variance: float
    df: float
    periods: int = 0
    units: int = 0
    weeks: int = 0

    @property
    def sd(self) -> float:
        return math.sqrt(self.variance) if self.variance == self.variance else math.nan

    @property
    def sampling_variance(self) -> float:
        """Variance of the cell's mean from its answers alone."""
        return self.variance / self.n

    @classmethod
    def of(cls, values) -> "Cell":
        """The cell of a sample of answers (or scores)."""
        values = np.asarray(values, dtype=float)
        return cls(float(values.mean()), float(len(values)), float(values.var(ddof=1)), float(len(values) - 1))


def honest_variance(aggregation: str, mean, variance, n):
    """Variance per answer, floored for shares and NPS by pseudo-counts (see the module docstring), so
    a small cell of identical answers still has spread. Vectorised."""
    mean, variance, n = (np.asarray(a, dtype=float) for a in (mean, variance, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        if aggregation in ("top2box", "rate"):
            p = (mean * n + 2) / (n + 4)
            floor = p * (1 - p)
        elif aggregation == "nps":
            net = mean / 100
            either = np.clip(np.nan_to_num(variance) * np.maximum(n - 1, 0) / n / 1e4 + net ** 2, 0, 1)
            promoters, detractors = (either + net) / 2 * n, (either - net) / 2 * n
            p, d = (promoters + 1) / (n + 3), (detractors + 1) / (n + 3)
            floor = 1e4 * (p + d - (p - d) ** 2)
        else:
            return variance
    return np.where(np.isnan(variance), variance, np.maximum(variance, floor))


# ---------------------------------------------------------------- estimates

@dataclass(frozen=True)
class Estimate:
    effect: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float
    mde: float


def t_estimate(effect, se, df) -> Estimate:
    """95% interval, two-sided p-value and the minimum detectable effect (80% power, 5% two-sided)
    of an effect with its standard error and degrees of freedom. Vectorised."""
    effect, se, df = (np.asarray(a, dtype=float) for a in (effect, se, df))
    with np.errstate(divide="ignore", invalid="ignore"):
        # Student's t through its ufuncs (stdtrit: quantile, stdtr: distribution function), the very
        # functions stats.t calls, without its per-call argument handling.
        quantile = special.stdtrit(df, 1 - ALPHA / 2)
        t = effect / np.where(se > 0, se, np.nan)
        p = 2 * special.stdtr(df, -np.abs(t))
        mde = (quantile + special.stdtrit(df, POWER)) * se
    return Estimate(effect, se, df, effect - quantile * se, effect + quantile * se, p, mde)


def contrast(means, variances, ns, dfs, weights) -> Estimate:
    """The weighted sum Σ w·mean of independent cells with its standard error sqrt(Σ w²·s²/n) and
    Welch–Satterthwaite degrees of freedom (the answers-only estimate). Vectorised: arrays of shape
    (..., k); weights broadcast. Cells with weight 0 do not count."""
    means, variances, ns, dfs = (np.asarray(a, dtype=float) for a in (means, variances, ns, dfs))
    weights = np.broadcast_to(np.asarray(weights, dtype=float), means.shape)
    used = weights != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        parts = np.where(used, weights ** 2 * variances / ns, 0.0)
        effect = np.sum(np.where(used, weights * means, 0.0), axis=-1)
        var = np.sum(parts, axis=-1)
        df = var ** 2 / np.sum(np.where(used, parts ** 2 / dfs, 0.0), axis=-1)
        df = np.where(var > 0, df, np.nan)
    return t_estimate(effect, np.sqrt(var), df)


def oriented(direction: str, effect, low, high):
    """Effect and interval turned so that positive is good news."""
    if direction == "higher":
        return effect, low, high
    return -np.asarray(effect), -np.asarray(high), -np.asarray(low)


def harm_p_value(direction: str, effect: float, se: float, df: float, margin: float = 0.0) -> float:
    """One-sided p-value of 'the metric moved in the bad direction by more than `margin`'."""
    if not (se > 0 and df > 0):
        return math.nan
    harm = -oriented(direction, effect, effect, effect)[0]
    return float(special.stdtr(df, -(float(harm) - margin) / se))


def holm(p_values: list[float], alpha: float = ALPHA) -> list[bool]:
    """Which hypotheses Holm's step-down procedure rejects at family-wise level alpha (NaN: never)."""
    order = sorted((p, i) for i, p in enumerate(p_values) if p == p)
    rejected = [False] * len(p_values)
    for rank, (p, i) in enumerate(order):
        if p > alpha / (len(order) - rank):
            break
        rejected[i] = True
    return rejected


# ---------------------------------------------------------------- the baseline trend

@dataclass(frozen=True)
class PreTrend:
    """The baseline trend of the gap between pilot unit and controls (or of the pilot unit's own
    level without controls): OLS slope per week, its SE and p-value, weeks used, and the drift the
    slope implies between the middles of the two windows."""

    compares: str
    weeks: int
    slope: float = math.nan
    se: float = math.nan
    p_value: float = math.nan
    drift: float = math.nan

    @property
    def checked(self) -> bool:
        return self.p_value == self.p_value

    @property
    def failed(self) -> bool:
        return self.checked and self.p_value < ALPHA


def pre_trend(week_numbers, gaps, compares: str, weeks_between_windows: float) -> PreTrend:
    """OLS of the weekly gap on the week number; slope tested with t on k − 2 df."""
    x, y = np.asarray(week_numbers, dtype=float), np.asarray(gaps, dtype=float)
    k = len(x)
    if k < 3:
        return PreTrend(compares, k)
    sxx = np.sum((x - x.mean()) ** 2)
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / sxx)
    residuals = y - y.mean() - slope * (x - x.mean())
    se = float(np.sqrt(np.sum(residuals ** 2) / (k - 2) / sxx))
    p = float(2 * special.stdtr(k - 2, -abs(slope / se))) if se > 0 else (0.0 if slope != 0 else 1.0)
    return PreTrend(compares, k, slope, se, p, slope * weeks_between_windows)


# ---------------------------------------------------------------- the drift-aware effect

@dataclass(frozen=True)
class UnitEffect:
    """The effect of one metric of one pilot with its decision interval (fields of Estimate, drift
    included) and what it rests on."""

    estimate: Estimate
    se_sampling: float
    df_sampling: float
    inference: str  # DRIFT or ANSWERS_ONLY
    controls: int  # control units with data in both windows
    periods: int  # earlier periods that served as placebos
    replicate_df: int  # degrees of freedom of the drift estimate (0: none, answers-only)
    drift_sd: float  # estimated sd of a unit's change beyond sampling (τ), NaN when answers-only
    cells: dict  # 'treated_before', 'treated_after', 'control_before', 'control_after' -> Cell | None
    missing_controls: tuple  # (unit id, 'before' | 'after') of control units without data in a window


def window_cells(rows: list, aggregation: str) -> dict[tuple[int, int, str], Cell]:
    """Cells by (unit id, block, phase) from rows (named tuples) of `pilots.cells.pilot_cells` for one
    pilot and metric, with honest variances, leaving out cells below MIN_ANSWERS."""
    if not rows:
        return {}
    variance = honest_variance(aggregation, [r.mean for r in rows], [r.variance for r in rows], [r.n for r in rows])
    found = {}
    for row, var in zip(rows, variance):
        # Periods given without n count one each: they need two for a spread, answers MIN_ANSWERS.
        enough = row.n >= MIN_ANSWERS if row.sd_known else row.periods >= 2
        if enough and var == var:
            found[(int(row.unit_id), int(row.block), row.phase)] = Cell(
                float(row.mean), float(row.n), float(var), float(row.df), int(row.periods), 1, int(row.weeks))
    return found


def _change(cells: dict, unit: int, block: int) -> tuple[float, float] | None:
    before, after = cells.get((unit, block, "before")), cells.get((unit, block, "after"))
    if before is None or after is None:
        return None
    return after.mean - before.mean, before.sampling_variance + after.sampling_variance


def _one_cell(cells: dict, units: tuple[int, ...], phase: str) -> Cell | None:
    """A window's cell of a pilot with some unit lacking data: shown only for a pilot in one unit."""
    return cells.get((units[0], 0, phase)) if len(units) == 1 else None


def _equal_weight_cell(members: list[Cell]) -> Cell | None:
    """The control arm as shown: the equal-weight mean of its units, with the sampling variance of
    that mean expressed per answer of the summed n."""
    if not members:
        return None
    n = sum(c.n for c in members)
    sampling = sum(c.sampling_variance for c in members) / len(members) ** 2
    return Cell(float(np.mean([c.mean for c in members])), n, sampling * n, sum(c.df for c in members),
                sum(c.periods for c in members), len(members), max(c.weeks for c in members))


@dataclass(frozen=True)
class Drift:
    """How much a unit's change between two windows varies when no pilot runs, from the replicates
    (see the module docstring): τ² beyond sampling (`variance`; with `sd_known` False, the whole
    variance of a unit's change), on `dof` degrees of freedom from `periods` earlier periods."""

    variance: float
    dof: int
    periods: int
    sd_known: bool

    def of_effect(self, treated: int, controls: int, sampling: float) -> float:
        """Var(D) for `treated` pilot units against `controls` control units with answers-only variance
        `sampling`. Without controls the drift was measured on the mean of the pilot units' changes."""
        spread = 1 / treated + 1 / controls if controls else 1.0
        return self.variance * spread + (sampling if self.sd_known else 0.0)


def drift(cells: dict[tuple[int, int, str], Cell], treated: tuple[int, ...], controls: list[int],
          sd_known: bool) -> Drift:
    """The drift replicates of a design: the controls' changes in the real windows (block 0) and every
    unit's changes in the earlier periods (blocks 1, 2, ...); without controls, the pilot units' own
    earlier changes around zero."""
    squares = noise = 0.0
    dof = periods = 0

    def add(found: list[tuple[float, float]]) -> None:
        nonlocal squares, noise, dof
        m = len(found)
        mean = np.mean([d for d, _ in found])
        squares += sum((d - mean) ** 2 for d, _ in found)
        noise += (m - 1) / m * sum(v for _, v in found)
        dof += m - 1

    in_windows = [x for x in (_change(cells, c, 0) for c in controls) if x is not None]
    if len(in_windows) >= 2:
        add(in_windows)
    for block in sorted({block for (_, block, _) in cells if block > 0}):
        if not controls:
            own = [x for x in (_change(cells, u, block) for u in treated) if x is not None]
            if len(own) == len(treated):  # the mean of every pilot unit's change: one replicate
                k = len(own)
                squares += (sum(c for c, _ in own) / k) ** 2
                noise += sum(v for _, v in own) / k ** 2
                dof, periods = dof + 1, periods + 1
            continue
        found = [x for x in (_change(cells, u, block) for u in (*treated, *controls)) if x is not None]
        if len(found) >= 2:
            add(found)
            periods += 1
    if dof == 0:
        return Drift(math.nan, 0, 0, sd_known)
    return Drift(((squares - noise) if sd_known else squares) / dof, dof, periods, sd_known)


def unit_effect(cells: dict[tuple[int, int, str], Cell], treated: tuple[int, ...], controls: tuple[int, ...],
                sd_known: bool) -> UnitEffect:
    """The effect of one metric (see the module docstring) from its cells by (unit, block, phase):
    the equal-weight mean of the pilot units' changes minus that of the control units. A pilot unit
    without data in both windows leaves the effect unestimated (a pilot is judged in all its units).
    `sd_known`: every cell's variance per answer comes from answers or reported sds (else the
    sampling variances are not trusted and drop out of the drift model)."""
    missing = tuple((c, phase) for c in controls for phase in ("before", "after") if (c, 0, phase) not in cells)
    used = [c for c in controls if _change(cells, c, 0) is not None]
    complete = all(_change(cells, u, 0) is not None for u in treated)
    shown = {
        "treated_before": _equal_weight_cell([cells[(u, 0, "before")] for u in treated]) if complete
        else _one_cell(cells, treated, "before"),
        "treated_after": _equal_weight_cell([cells[(u, 0, "after")] for u in treated]) if complete
        else _one_cell(cells, treated, "after"),
        "control_before": _equal_weight_cell([cells[(c, 0, "before")] for c in used]),
        "control_after": _equal_weight_cell([cells[(c, 0, "after")] for c in used]),
    }
    nothing = Estimate(*([math.nan] * 7))
    if not complete:
        return UnitEffect(nothing, math.nan, math.nan, ANSWERS_ONLY, len(used), 0, 0, math.nan, shown, missing)
    k, j = len(treated), len(used)
    # The answers-only estimate: the same contrast of the unit-window means, cells taken as independent.
    weighted = [(cells[(u, 0, phase)], sign / k) for u in treated for phase, sign in (("after", 1.0), ("before", -1.0))]
    weighted += [(cells[(c, 0, phase)], sign / j) for c in used for phase, sign in (("after", -1.0), ("before", 1.0))]
    answers = contrast(*(np.array([getattr(cell, attr) for cell, _ in weighted]) for attr in ("mean", "variance", "n", "df")),
                       np.array([w for _, w in weighted]))
    effect, sampling, df_sampling = float(answers.effect), float(answers.se) ** 2, float(answers.df)
    units_drift = drift(cells, treated, used, sd_known)
    variance = units_drift.of_effect(k, j, sampling)
    if units_drift.dof == 0:
        return UnitEffect(answers, math.sqrt(sampling), df_sampling, ANSWERS_ONLY, j, 0, 0, math.nan, shown, missing)
    if not variance > 0:  # unequal volumes can push the moment estimate below zero: answers only then
        variance = sampling
    return UnitEffect(t_estimate(effect, math.sqrt(variance), units_drift.dof), math.sqrt(sampling), df_sampling,
                      DRIFT, j, units_drift.periods, units_drift.dof, math.sqrt(max(units_drift.variance, 0.0)),
                      shown, missing)
