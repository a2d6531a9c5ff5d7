"""The case for rollout: the statistics of a pilot, over the cells that `pilots.cells` aggregates in
SQL. Everything below the query functions (`analyze_pilot`, `portfolio_effects`, `weeks_needed`) is
pure: it takes cell summaries (mean, n, variance per answer, degrees of freedom) and returns
numbers, so the same functions serve one pilot, the portfolio (vectorised over pilots) and the
simulation tests.

Method
------
Cells: pilot unit ("treated") and pooled control units ("control") × baseline window ("before") and
pilot window ("after"); see `pilots.cells` for how observations and measurements make a cell (NPS:
each answer scored +100/0/−100, so the variance of the scores is the multinomial variance of
promoters − detractors, times n/(n−1); top-2-box and rates: 0/1 answers, the binomial variance).

Effect: with controls, the difference-in-differences (T_after − T_before) − (C_after − C_before);
without, the plain before/after change T_after − T_before (weaker evidence: it also holds whatever
else changed between the windows). Standard error sqrt(Σ s²/n) over the cells, which are taken as
independent samples (for a saturated treated × after regression this is exactly the HC2 robust
standard error of the interaction; it is larger than a paired standard error when the same
customers or stores answer in both windows). The 95% interval and the p-value use a t distribution
with Welch–Satterthwaite degrees of freedom, df = (Σ v)² / Σ (v²/df_cell), v = s²/n.

Minimum detectable effect (MDE): (t_0.975 + t_0.80) × SE — the true effect this design detects with
80% power in a two-sided test at 5%.

Pre-period trend: the weekly gap (pilot unit − controls; the pilot unit's own level without
controls) over the baseline weeks, regressed on the week number by OLS; the slope is tested with a
t test on k − 2 degrees of freedom. A slope with p < 0.05 means the pilot unit was already drifting
away from its controls, so the difference-in-differences would credit that drift to the pilot.
With fewer than 3 weeks it cannot be checked (said so).

Direction of good: every effect is also read "oriented", g = effect for higher-is-better metrics
and −effect for lower-is-better ones, so g > 0 is always good news (a fall in resolution days is).
Targets are magnitudes in the good direction: a target of 1 (or −1) for resolution days means a
fall of one day.

Verdict rules (deterministic; the first that applies decides; every reason is listed)
-------------------------------------------------------------------------------
With g, [g_low, g_high] the oriented effect and 95% interval of the primary metric and τ = |target|:
1. No estimate of the primary metric (a cell without data)                       → Inconclusive.
2. A blocking check: pre-period trend (p < 0.05); another pilot ran in the pilot
   unit, or a control unit was treated by another pilot or rollout, during the
   windows                                                                        → Inconclusive.
3. A guardrail metric moved significantly in the bad direction (its whole 95%
   interval on the bad side)                                                      → Stop.
4. The primary metric got significantly worse (g_high < 0)                        → Stop.
5. Significantly better (g_low > 0) and g ≥ τ (or no target)                       → Roll out.
6. Significantly better but the whole interval below the target (g_high < τ)       → Stop.
7. Significantly better, below target, but the target still inside the interval    → Extend.
8. Not significant and the interval rules the target out (g_high < τ)             → Stop.
9. Not significant, the target still possible                                     → Extend.
10. Not significant and no target set                                             → Inconclusive.
Cautions (before/after only, fewer than 2 control units, fewer than 4 weeks with data in a cell of
the primary metric, MDE above target, trend not checkable, a secondary metric significantly worse,
an overlapping pilot that is only proposed) do not change the verdict; they are listed with it.

Rollout value: g × realisation × customers of each unit rolled out to × (value per point per
customer + revenue share per point × revenue per customer), a year; the interval is the same with
g_low and g_high. The assumptions are shown with the result and stored with the pilot.

Planning: the usual weekly volume (answers per week) and spread per answer of the pilot unit and its
controls over the last 12 weeks of data; a design with b baseline weeks and w pilot weeks has
Var(DiD) = A/b + A/w with A = s²_T/v_T + s²_C/v_C (A = s²_T/v_T without controls); the target τ is
detectable with 80% power at 5% two-sided when (z_0.975 + z_0.80)² · Var ≤ τ².
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, fields
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import special, stats

from . import cells as cellstore
from . import store
from .access import Actor
from .cells import RolloutAssumptions
from .db import Database
from .model import Metric, Pilot, PilotDraft, Problem, Unit, ValidationError

VERDICTS = ("Roll out", "Extend", "Stop", "Inconclusive")
RANDOMISED = "randomised"
CONTROLLED = "controlled before/after (difference-in-differences)"
BEFORE_AFTER = "before/after only"

CELL_NAMES = ("treated_before", "treated_after", "control_before", "control_after")
_CELL_KEYS = (("treated", "before"), ("treated", "after"), ("control", "before"), ("control", "after"))
DID_WEIGHTS = np.array([-1.0, 1.0, 1.0, -1.0])
BEFORE_AFTER_WEIGHTS = np.array([-1.0, 1.0, 0.0, 0.0])
ALPHA = 0.05
POWER = 0.80
FEW_WEEKS = 4
HISTORY_WEEKS = 12

# What the primary metric's result says, and the verdict it gives when no check overrides it.
SIGNALS = {
    "no_estimate": ("Inconclusive", "there is not enough data to estimate the effect"),
    "worse": ("Stop", "it got significantly worse"),
    "meets_target": ("Roll out", "it improved significantly and by at least the target"),
    "misses_target": ("Stop", "it improved, but the whole 95% interval lies below the target"),
    "below_target": ("Extend", "it improved significantly, but less than the target, which is still "
                               "inside the 95% interval: more data can settle whether it reaches it"),
    "target_ruled_out": ("Stop", "the change is not significant and the 95% interval rules out the target"),
    "unclear": ("Extend", "the change is not significant yet and the target is still possible: more "
                          "data are needed"),
    "unclear_no_target": ("Inconclusive", "the change is not significant and no target is set"),
}


# ---------------------------------------------------------------- cell statistics (pure)

@dataclass(frozen=True)
class Cell:
    """One arm in one window: mean, n (answers, or summed period weights), variance per answer and
    the degrees of freedom of that variance; periods, units and weeks the cell spans."""

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

    @classmethod
    def of(cls, values) -> "Cell":
        """The cell of a sample of answers (or scores)."""
        values = np.asarray(values, dtype=float)
        return cls(float(values.mean()), float(len(values)), float(values.var(ddof=1)), float(len(values) - 1))


@dataclass(frozen=True)
class Estimate:
    effect: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float
    mde: float


def contrast(means, variances, ns, dfs, weights) -> Estimate:
    """The weighted sum Σ w·mean of independent cells with its standard error sqrt(Σ w²·s²/n),
    Welch–Satterthwaite degrees of freedom, 95% interval, two-sided p-value and MDE at 80% power.
    Vectorised: arrays of shape (..., k); weights broadcast. Cells with weight 0 do not count."""
    means, variances, ns, dfs = (np.asarray(a, dtype=float) for a in (means, variances, ns, dfs))
    weights = np.broadcast_to(np.asarray(weights, dtype=float), means.shape)
    used = weights != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        parts = np.where(used, weights ** 2 * variances / ns, 0.0)
        effect = np.sum(np.where(used, weights * means, 0.0), axis=-1)
        var = np.sum(parts, axis=-1)
        se = np.sqrt(var)
        df = var ** 2 / np.sum(np.where(used, parts ** 2 / dfs, 0.0), axis=-1)
        df = np.where(var > 0, df, np.nan)
        # Student's t through its ufuncs (stdtrit: quantile, stdtr: distribution function), the very
        # functions stats.t calls, without its per-call argument handling: a portfolio estimates
        # hundreds of metrics one by one.
        quantile = special.stdtrit(df, 1 - ALPHA / 2)
        t = effect / np.where(se > 0, se, np.nan)
        p = 2 * special.stdtr(df, -np.abs(t))
        mde = (quantile + special.stdtrit(df, POWER)) * se
    return Estimate(effect, se, df, effect - quantile * se, effect + quantile * se, p, mde)


def cells_arrays(cells: dict[str, Cell | None]) -> tuple[np.ndarray, ...]:
    """Means, variances, ns and dfs of the four cells in CELL_NAMES order (missing cells zero-weighted
    by the caller: filled with harmless values)."""
    picked = [cells.get(name) for name in CELL_NAMES]
    return tuple(np.array([getattr(c, attr) if c is not None else fill for c in picked])
                 for attr, fill in (("mean", 0.0), ("variance", 0.0), ("n", 1.0), ("df", 1.0)))


def oriented(direction: str, effect, low, high):
    """Effect and interval turned so that positive is good news."""
    if direction == "higher":
        return effect, low, high
    return -np.asarray(effect), -np.asarray(high), -np.asarray(low)


def primary_signal(g, g_low, g_high, target) -> np.ndarray:
    """Which of SIGNALS the oriented effect and interval of a primary metric give (vectorised)."""
    g, g_low, g_high = (np.asarray(a, dtype=float) for a in (g, g_low, g_high))
    tau = np.abs(np.asarray(np.nan if target is None else target, dtype=float))
    has_target = ~np.isnan(tau)
    with np.errstate(invalid="ignore"):
        conditions = [np.isnan(g) | np.isnan(g_low) | np.isnan(g_high), g_high < 0,
                      (g_low > 0) & (~has_target | (g >= tau)), (g_low > 0) & (g_high < tau), g_low > 0,
                      g_high < tau, has_target]
    return np.select(conditions, ["no_estimate", "worse", "meets_target", "misses_target", "below_target",
                                  "target_ruled_out", "unclear"], "unclear_no_target")


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


# ---------------------------------------------------------------- results of one metric

@dataclass(frozen=True)
class MetricResult(Estimate):
    """One metric of a pilot: its estimate (the fields of Estimate), its four cells, and how it was made."""

    metric: str
    label: str
    unit: str
    role: str
    direction: str
    aggregation: str
    treated_before: Cell | None
    treated_after: Cell | None
    control_before: Cell | None
    control_after: Cell | None
    method: str
    evidence_grade: str
    target: float | None = None
    pre_trend: PreTrend | None = None

    @property
    def has_estimate(self) -> bool:
        return self.effect == self.effect and self.se == self.se and self.se > 0

    @property
    def significant(self) -> bool:
        return self.has_estimate and self.p_value < ALPHA

    @property
    def good(self) -> bool | None:
        """Whether the point estimate is good news given the direction of good (None: no estimate)."""
        if not self.has_estimate:
            return None
        return self.effect > 0 if self.direction == "higher" else self.effect < 0

    @property
    def harmed(self) -> bool:
        """Moved significantly in the bad direction (the whole 95% interval on the bad side)."""
        return self.significant and self.good is False

    @property
    def oriented(self) -> tuple[float, float, float]:
        g, low, high = oriented(self.direction, self.effect, self.ci_low, self.ci_high)
        return float(g), float(low), float(high)

    @property
    def signal(self) -> str:
        return str(primary_signal(*self.oriented, self.target))

    def cell(self, name: str) -> Cell | None:
        return getattr(self, name)


def _method(metric: Metric, controlled: bool, control_names: tuple[str, ...], randomised: bool,
            between_periods: bool) -> str:
    if controlled:
        pooled = (f"the {len(control_names)} control units ({', '.join(control_names)}) are pooled as one "
                  f"control group, every answer weighted equally" if len(control_names) > 1
                  else f"control unit {control_names[0]}")
        text = (f"Difference-in-differences of means, (pilot after − pilot before) − (controls after − "
                f"controls before); {pooled}"
                + (", units assigned at random" if randomised else "") + ". ")
    else:
        text = ("Before/after change of the pilot unit's mean, no control units (weaker evidence: it also "
                "holds whatever else changed between the windows). ")
    text += ("Standard error sqrt(Σ s²/n) of independent cells (Welch-type; equals the HC2 robust standard "
             "error of the interaction in OLS; not a paired standard error), 95% interval and p-value from a "
             "t distribution with Welch–Satterthwaite degrees of freedom.")
    if metric.aggregation == "nps":
        text += (" NPS: every answer scored +100 (9–10), 0 (7–8) or −100 (0–6), so s² is the multinomial "
                 "variance of promoters minus detractors.")
    elif metric.aggregation == "top2box":
        text += " Top-2-box: share of answers in the top two boxes, binomial variance."
    elif metric.aggregation == "rate":
        text += " Rate: a proportion, binomial variance."
    if between_periods:
        text += (" Some periods were given without a standard deviation: their cells' variance per answer is "
                 "estimated from the n-weighted spread between periods (K − 1 degrees of freedom).")
    return text


def _cell_from_row(row) -> Cell:
    return Cell(float(row.mean), float(row.n), float(row.variance) if row.variance == row.variance else math.nan,
                float(row.df), int(row.periods), int(row.units), int(row.weeks))


def estimate_metric(metric: Metric, role: str, cells: dict[str, Cell | None], target: float | None = None,
                    control_names: tuple[str, ...] = ("controls",), randomised: bool = False,
                    between_periods: bool = False, pre: PreTrend | None = None) -> MetricResult:
    """The effect of one metric from its cells: difference-in-differences when both control cells
    exist, else the before/after change of the pilot unit."""
    controlled = cells.get("control_before") is not None and cells.get("control_after") is not None
    if cells.get("treated_before") is None or cells.get("treated_after") is None:
        estimate = Estimate(*([math.nan] * 7))
    else:
        estimate = contrast(*cells_arrays(cells), DID_WEIGHTS if controlled else BEFORE_AFTER_WEIGHTS)
    grade = (RANDOMISED if randomised else CONTROLLED) if controlled else BEFORE_AFTER
    return MetricResult(
        **{f.name: float(getattr(estimate, f.name)) for f in fields(Estimate)},
        metric=metric.key, label=metric.label, unit=metric.unit, role=role, direction=metric.direction,
        aggregation=metric.aggregation, **{name: cells.get(name) for name in CELL_NAMES},
        method=_method(metric, controlled, control_names, randomised, between_periods),
        evidence_grade=grade, target=target, pre_trend=pre)


# ---------------------------------------------------------------- checks and the verdict

@dataclass(frozen=True)
class Check:
    """A warning that guards the verdict. severity: 'blocking' (the design is compromised: the
    verdict is Inconclusive), 'stop' (a guardrail was harmed) or 'caution' (listed with the verdict)."""

    code: str
    severity: str
    message: str
    metric: str | None = None


def p_words(p: float) -> str:
    """A p-value as written in a report: 'p < 0.001' rather than a rounded 'p = 0.000'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _num(x: float) -> str:
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.3f}"


def _change_words(direction: str, size: float, unit: str) -> str:
    word = "lift" if direction == "higher" else "fall"
    return f"a {word} of {_num(abs(size))} {unit}".rstrip()


def describe(result: MetricResult) -> str:
    """One metric's result in one sentence."""
    if not result.has_estimate:
        return f"{result.label}: no estimate (a window or arm has too little data)"
    moved = "rose" if result.effect > 0 else "fell" if result.effect < 0 else "did not move"
    news = "good news" if result.good else "bad news" if result.effect != 0 else "no change"
    return (f"{result.label} {moved} by {_num(abs(result.effect))} {result.unit} ({news}; 95% interval "
            f"{_num(result.ci_low)} to {_num(result.ci_high)}, {p_words(result.p_value)}, {result.evidence_grade})")


def metric_checks(result: MetricResult) -> list[Check]:
    """Checks on one metric's own data: its trend, weeks, power, and harm for guardrails/secondaries."""
    found = []
    key = result.metric
    if result.role == "primary":
        for name in CELL_NAMES:
            cell = result.cell(name)
            if cell is not None and cell.weeks < FEW_WEEKS:
                arm, phase = name.split("_")
                found.append(Check("few_periods", "caution",
                                   f"Only {cell.weeks} week{'s' if cell.weeks != 1 else ''} with {result.label} data for "
                                   f"the {'pilot unit' if arm == 'treated' else 'controls'} in the "
                                   f"{'baseline' if phase == 'before' else 'pilot'} window: week-to-week swings and "
                                   f"trends can hardly be told from the effect.", key))
        tau = result.target
        if tau is not None and result.has_estimate and result.mde > abs(tau):
            found.append(Check("underpowered", "caution",
                               f"This pilot cannot show {_change_words(result.direction, tau, result.unit)} with this "
                               f"data: the smallest effect it can detect (80% power, 5% two-sided) is "
                               f"{_num(result.mde)} {result.unit}.", key))
        pre = result.pre_trend
        if pre is not None and pre.failed:
            found.append(Check("pre_trend", "blocking",
                               f"Before the pilot started, the {pre.compares} in {result.label} was already drifting "
                               f"by {_num(pre.slope)} {result.unit} a week ({p_words(pre.p_value)} over {pre.weeks} "
                               f"baseline weeks), about {_num(pre.drift)} {result.unit} by the pilot window: the "
                               f"effect would credit that drift to the pilot.", key))
        elif pre is not None and not pre.checked:
            found.append(Check("pre_trend_unchecked", "caution",
                               f"The baseline trend of {result.label} could not be checked: {pre.weeks} baseline "
                               f"week{'s' if pre.weeks != 1 else ''} with data (3 needed).", key))
    elif result.harmed:
        if result.role == "guardrail":
            found.append(Check("guardrail_harm", "stop",
                               f"Guardrail {describe(result)}: it moved significantly in the bad direction.", key))
        else:
            found.append(Check("secondary_worse", "caution", f"Secondary metric {describe(result)}.", key))
    return found


def design_checks(pilot: Pilot, primary: MetricResult, overlaps: list) -> list[Check]:
    """Checks on the pilot's design: its controls and other pilots in its units during its windows
    (`overlaps`: the pilot's rows of cellstore.overlapping_pilots)."""
    found = []
    if not pilot.control_unit_ids:
        found.append(Check("before_after_only", "caution",
                           "No control units: the effect is the pilot unit's plain before/after change, weaker "
                           "evidence, since it also holds whatever else changed between the windows."))
    elif primary.control_before is None or primary.control_after is None:
        found.append(Check("no_control_data", "caution",
                           f"The control units have no {primary.label} data in a window: the effect falls back to "
                           f"the pilot unit's before/after change, weaker evidence.", primary.metric))
    if len(pilot.control_unit_ids) == 1:
        found.append(Check("few_controls", "caution",
                           f"Fewer than 2 control units (only {pilot.control_unit_names[0]}): anything that happened "
                           f"to that one unit alone reads as an effect of the pilot."))
    if primary.treated_before is None or primary.treated_after is None:
        found.append(Check("no_data", "blocking",
                           f"No {primary.label} data for {pilot.unit_name} in the "
                           f"{'baseline' if primary.treated_before is None else 'pilot'} window.", primary.metric))
    words = {"same_unit": ("overlap_same_unit", "ran in {unit}, this pilot's own unit, during its windows: its effect "
                                                "cannot be told apart from this one's"),
             "control_treated": ("control_treated", "ran in control unit {unit} during the windows: the control is "
                                                    "no longer untreated"),
             "same_unit_rollout": ("overlap_same_unit", "was rolled out to {unit}, this pilot's own unit, on {start}, "
                                                        "inside its windows"),
             "control_rollout": ("control_treated", "was rolled out to control unit {unit} on {start}, inside the "
                                                    "windows: the control is no longer untreated")}
    for row in overlaps:
        code, text = words[row.kind]
        planned = row.status == "proposed"
        found.append(Check(code, "caution" if planned else "blocking",
                           f"{'A proposed pilot' if planned else 'Another pilot'}, '{row.name}' "
                           f"({row.start} to {row.end}), " + text.format(unit=row.unit, start=row.start) + "."))
    return found


def decide(primary: MetricResult, checks: list[Check]) -> tuple[str, list[str]]:
    """The verdict and every reason for it, by the rules in the module docstring."""
    signal = primary.signal
    verdict, meaning = SIGNALS[signal]
    headline = f"{describe(primary)}" + (f", against a target of {_change_words(primary.direction, primary.target, primary.unit)}"
                                         if primary.target is not None and primary.has_estimate else "")
    blocking = [c.message for c in checks if c.severity == "blocking"]
    harm = [c.message for c in checks if c.severity == "stop"]
    cautions = [c.message for c in checks if c.severity == "caution"]
    if signal == "no_estimate":
        return "Inconclusive", [f"{primary.label}: {meaning}.", *blocking, *harm, *cautions]
    if blocking:
        return "Inconclusive", [f"{headline}.", "The design is compromised, so the data cannot carry a verdict:",
                                *blocking, *harm, *cautions]
    if harm:
        return "Stop", [f"{headline}.", *harm, *cautions]
    return verdict, [f"{headline}: {meaning}.", *cautions]


# ---------------------------------------------------------------- rollout value

@dataclass(frozen=True)
class UnitValue:
    unit_id: int
    unit: str
    customers: int
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class RolloutValue:
    """What rolling out would be worth a year, per unit and in total, with the interval from the
    effect's 95% interval, and the assumptions used. per_customer counts the value per point only
    (the revenue share differs by unit and is in the units' values)."""

    assumptions: RolloutAssumptions
    effect_used: float | None
    per_customer: float | None
    per_customer_low: float | None
    per_customer_high: float | None
    units: tuple[UnitValue, ...]
    total: float | None
    total_low: float | None
    total_high: float | None
    notes: tuple[str, ...] = ()


def rollout_value(primary: MetricResult, pilot_unit_id: int, units: list[Unit],
                  assumptions: RolloutAssumptions) -> RolloutValue:
    """The yearly value of rolling the pilot's change out to other units (see the module docstring)."""
    notes = []
    chosen = [u for u in units if u.unit_id != pilot_unit_id
              and (assumptions.unit_ids is None or u.unit_id in assumptions.unit_ids)]
    per_point = assumptions.value_per_point or 0.0
    if not primary.has_estimate:
        notes.append("No estimate of the effect, so no value.")
    if not per_point and not assumptions.revenue_share_per_point:
        notes.append("Set a value per point (or a share of revenue per point) to see the value of a rollout.")
    if notes:
        return RolloutValue(assumptions, None, None, None, None, (), None, None, None, tuple(notes))
    g, g_low, g_high = (x * assumptions.realisation for x in primary.oriented)
    rows = []
    for unit in chosen:
        if not unit.customers:
            notes.append(f"{unit.name} has no number of customers, so it is left out.")
            continue
        per_customer = per_point + assumptions.revenue_share_per_point * (unit.revenue_per_customer or 0.0)
        if assumptions.revenue_share_per_point and unit.revenue_per_customer is None:
            notes.append(f"{unit.name} has no revenue per customer: only the value per point counts there.")
        scale = unit.customers * per_customer
        rows.append(UnitValue(unit.unit_id, unit.name, unit.customers, g * scale, g_low * scale, g_high * scale))
    return RolloutValue(assumptions, g, g * per_point, g_low * per_point, g_high * per_point, tuple(rows),
                        sum(r.value for r in rows), sum(r.low for r in rows), sum(r.high for r in rows), tuple(notes))


# ---------------------------------------------------------------- the case of one pilot

@dataclass(frozen=True)
class PilotCase:
    pilot_id: int
    pilot: str
    unit: str
    status: str
    baseline: tuple[dt.date, dt.date]
    pilot_window: tuple[dt.date, dt.date]
    target_effect: float | None
    metrics: tuple[MetricResult, ...]
    checks: tuple[Check, ...]
    verdict: str
    reasons: tuple[str, ...]
    evidence_grade: str
    rollout_value: RolloutValue

    @property
    def primary(self) -> MetricResult:
        return self.metrics[0]

    def __str__(self) -> str:
        lines = [f"Pilot {self.pilot_id}: {self.pilot} ({self.unit})", f"Verdict: {self.verdict}",
                 *(f"  - {r}" for r in self.reasons), f"Evidence: {self.evidence_grade}", "Metrics:",
                 *(f"  [{m.role}] {describe(m)}" for m in self.metrics)]
        value = self.rollout_value
        if value.total is not None:
            lines.append(f"Rollout value a year: {value.total:,.0f} ({value.total_low:,.0f} to {value.total_high:,.0f})")
        return "\n".join(lines)


def _weeks_between(pilot: Pilot) -> float:
    middle = lambda a, b: a + (b - a) / 2  # noqa: E731
    return (middle(pilot.pilot_start, pilot.pilot_end) - middle(pilot.baseline_start, pilot.baseline_end)).days / 7


def _pre_trend_of(baseline_weeks: list, pilot: Pilot, controlled: bool) -> PreTrend:
    """The trend check from the weekly cells of the primary metric in the baseline window."""
    means: dict[str, dict] = {"treated": {}, "control": {}}
    for row in baseline_weeks:
        if row.mean == row.mean:
            means[row.arm][pd.Timestamp(row.week)] = row.mean
    treated, control = means["treated"], means["control"]
    if controlled:
        weeks = sorted(w for w in treated if w in control)
        gaps = [treated[w] - control[w] for w in weeks]
        compares = "gap between the pilot unit and its controls"
    else:
        weeks = sorted(treated)
        gaps = [treated[w] for w in weeks]
        compares = "pilot unit's level"
    start = pd.Timestamp(pilot.baseline_start)
    return pre_trend([(w - start).days / 7 for w in weeks], gaps, compares, _weeks_between(pilot))


def analyze_pilot(db: Database, actor: Actor, pilot_id: int,
                  assumptions: RolloutAssumptions | None = None) -> PilotCase:
    """The full case for rollout of one pilot the actor may see, cached until the data change.
    `assumptions` overrides the rollout assumptions stored with the pilot (to preview an edit);
    nothing is written."""
    pilot = store.get_pilot(db, actor, pilot_id)
    if assumptions is not None:
        return _cases(db, actor, [pilot], {pilot.pilot_id: assumptions})[0]
    return _cached(("case", pilot_id), db, actor, lambda: _cases(db, actor, [pilot], {})[0])


def analyze_pilots(db: Database, actor: Actor, unit_ids: Iterable[int] | None = None) -> list[PilotCase]:
    """The full case of every pilot the actor may see (only those of `unit_ids`, if given), as
    analyze_pilot gives it: one query per kind of data for all of them (cells, overlaps,
    assumptions), then the statistics and rules pilot by pilot. Cached until the data change."""
    units = None if unit_ids is None else tuple(sorted(unit_ids))
    return list(_cached(("cases", units), db, actor, lambda: tuple(
        _cases(db, actor, store.list_pilots(db, actor, unit_ids=units), {}))))


def _cases(db: Database, actor: Actor, pilots: list[Pilot],
           assumptions: dict[int, RolloutAssumptions]) -> list[PilotCase]:
    if not pilots:
        return []
    metrics = store.metric_lookup(db)
    units = store.list_units(db, actor)
    cell_rows, weekly = cellstore.pilot_cells(db, pilots)
    # Rows are grouped once here: slicing data frames pilot by pilot costs more than the SQL.
    rows_of: dict[tuple[int, str], list] = {}
    for row in cell_rows.itertuples(index=False):
        rows_of.setdefault((row.pilot_id, row.metric_key), []).append(row)
    baseline_of: dict[tuple[int, str], list] = {}
    for row in weekly[weekly["phase"] == "before"].itertuples(index=False):
        baseline_of.setdefault((row.pilot_id, row.metric_key), []).append(row)
    overlaps_of: dict[int, list] = {}
    for row in cellstore.overlapping_pilots(db, actor, pilots).itertuples(index=False):
        overlaps_of.setdefault(row.for_pilot, []).append(row)
    stored = cellstore.load_assumptions(db, pilots)
    return [_case(pilot, metrics, units, rows_of, baseline_of.get((pilot.pilot_id, pilot.primary_metric), []),
                  overlaps_of.get(pilot.pilot_id, []),
                  assumptions.get(pilot.pilot_id) or stored[pilot.pilot_id])
            for pilot in pilots]


def _case(pilot: Pilot, metrics: dict[str, Metric], units: list[Unit], rows_of: dict[tuple[int, str], list],
          baseline_weeks: list, overlaps: list, assumptions: RolloutAssumptions) -> PilotCase:
    """One pilot's case from the rows of cellstore.pilot_cells (its cells by pilot and metric, and the
    weekly cells of its primary metric's baseline) and of cellstore.overlapping_pilots."""
    results = []
    for key, role in pilot.metric_roles():
        rows = rows_of.get((pilot.pilot_id, key), [])
        found = {f"{r.arm}_{r.phase}": _cell_from_row(r) for r in rows}
        cells = {name: found.get(name) for name in CELL_NAMES}
        controlled = cells["control_before"] is not None and cells["control_after"] is not None
        pre = _pre_trend_of(baseline_weeks, pilot, controlled) if role == "primary" else None
        results.append(estimate_metric(
            metrics[key], role, cells, pilot.target_effect if role == "primary" else None,
            pilot.control_unit_names, pilot.randomised, not all(r.sd_known for r in rows), pre))
    primary = results[0]
    checks = design_checks(pilot, primary, overlaps)
    for result in results:
        checks += metric_checks(result)
    verdict, reasons = decide(primary, checks)
    value = rollout_value(primary, pilot.unit_id, units, assumptions)
    return PilotCase(pilot.pilot_id, pilot.name, pilot.unit_name, pilot.status, (pilot.baseline_start, pilot.baseline_end),
                     (pilot.pilot_start, pilot.pilot_end), pilot.target_effect, tuple(results), tuple(checks),
                     verdict, tuple(reasons), primary.evidence_grade, value)


def _plain(value):
    """JSON-ready: NaN and infinities become null, dates ISO text, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _metric_dict(m: MetricResult) -> dict:
    row = {"metric": m.metric, "label": m.label, "unit": m.unit, "role": m.role, "direction": m.direction,
           "aggregation": m.aggregation}
    for name in CELL_NAMES:
        row[name] = m.cell(name).mean if m.cell(name) is not None else None
    for name in CELL_NAMES:
        row[f"n_{name}"] = int(round(m.cell(name).n)) if m.cell(name) is not None else None
    for name in CELL_NAMES:
        row[f"sd_{name}"] = m.cell(name).sd if m.cell(name) is not None else None
    row.update({"effect": m.effect, "ci_low": m.ci_low, "ci_high": m.ci_high, "p_value": m.p_value, "se": m.se,
                "df": m.df, "mde": m.mde, "target": m.target, "good": m.good, "significant": m.significant,
                "harmed": m.harmed, "method": m.method, "evidence_grade": m.evidence_grade,
                "pre_trend": None if m.pre_trend is None else {
                    "compares": m.pre_trend.compares, "weeks": m.pre_trend.weeks,
                    "slope_per_week": m.pre_trend.slope, "se": m.pre_trend.se, "p_value": m.pre_trend.p_value,
                    "drift_by_pilot_window": m.pre_trend.drift, "checked": m.pre_trend.checked,
                    "failed": m.pre_trend.failed}})
    return row


def case_as_dict(case: PilotCase) -> dict:
    """The case as JSON-ready data: the SPEC's fields for `analyze --json`, plus checks, evidence grade
    and rollout value."""
    value = case.rollout_value
    return _plain({
        "pilot_id": case.pilot_id, "pilot": case.pilot, "unit": case.unit, "status": case.status,
        "baseline": list(case.baseline), "pilot_window": list(case.pilot_window),
        "target_effect": case.target_effect,
        "verdict": case.verdict, "reasons": list(case.reasons), "evidence_grade": case.evidence_grade,
        "checks": [asdict(c) for c in case.checks],
        "metrics": [_metric_dict(m) for m in case.metrics],
        "rollout_value": {
            "effect_used": value.effect_used, "per_customer": value.per_customer,
            "per_customer_low": value.per_customer_low, "per_customer_high": value.per_customer_high,
            "total": value.total, "total_low": value.total_low, "total_high": value.total_high,
            "units": [asdict(u) for u in value.units], "notes": list(value.notes),
            "assumptions": asdict(value.assumptions)},
    })


# ---------------------------------------------------------------- portfolio

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()


def _cached(what, db: Database, actor: Actor, compute):
    """compute(), remembered per `what`, database contents (see cells.data_version) and what the
    actor may see (everyone who sees all units shares one entry; a unit head's depends on their units)."""
    if db.in_transaction():  # what it reads may yet be rolled back
        return compute()
    sees = "all units" if actor.sees_all_units() else actor.unit_ids
    key = (what, str(db.path), cellstore.data_version(db), sees)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = compute()
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def portfolio_effects(db: Database, actor: Actor) -> pd.DataFrame:
    """The primary metric's effect of every pilot the actor may see, one row per pilot: cells, effect,
    SE, 95% interval, p-value, MDE, the signal and its provisional verdict (from the primary metric
    alone: the full verdict also weighs design checks and guardrails, see analyze_pilots).
    Cells come from one set-based query over all pilots; the statistics are vectorised over pilots.
    Cached until the data change."""
    return _cached("portfolio_effects", db, actor, lambda: _portfolio(db, actor)).copy()


def _portfolio(db: Database, actor: Actor) -> pd.DataFrame:
    pilots = store.list_pilots(db, actor)
    metrics = store.metric_lookup(db)
    found = cellstore.portfolio_cells(db, actor)
    found["cell"] = found["arm"] + "_" + found["phase"]
    wide = found.pivot_table(index="pilot_id", columns="cell", values=["mean", "variance", "n", "df"],
                             aggfunc="first")
    ids = [p.pilot_id for p in pilots]
    wide = wide.reindex(index=ids, columns=pd.MultiIndex.from_product([["mean", "variance", "n", "df"], CELL_NAMES]))
    means, variances, ns, dfs = (wide[attr].to_numpy(dtype=float) for attr in ("mean", "variance", "n", "df"))
    present = ~np.isnan(ns)
    controlled = present[:, 2] & present[:, 3]
    weights = np.where(controlled[:, None], DID_WEIGHTS, BEFORE_AFTER_WEIGHTS)
    treated = present[:, 0] & present[:, 1]
    estimate = contrast(np.nan_to_num(means), np.where(present, variances, 0.0), np.where(present, ns, 1.0),
                        np.where(present, dfs, 1.0), weights)
    effect = np.where(treated, estimate.effect, np.nan)
    low, high = np.where(treated, estimate.ci_low, np.nan), np.where(treated, estimate.ci_high, np.nan)
    higher = np.array([metrics[p.primary_metric].direction == "higher" for p in pilots], dtype=bool)
    g = np.where(higher, effect, -effect)
    g_low, g_high = np.where(higher, low, -high), np.where(higher, high, -low)
    targets = np.array([np.nan if p.target_effect is None else p.target_effect for p in pilots], dtype=float)
    signal = primary_signal(g, g_low, g_high, targets) if pilots else np.array([], dtype=str)
    out = pd.DataFrame({
        "pilot_id": ids, "pilot": [p.name for p in pilots], "unit": [p.unit_name for p in pilots],
        "status": [p.status for p in pilots], "metric": [p.primary_metric for p in pilots],
        "direction": ["higher" if h else "lower" for h in higher],
        "evidence_grade": np.where(controlled, np.where([p.randomised for p in pilots], RANDOMISED, CONTROLLED),
                                   BEFORE_AFTER),
        **{name: means[:, i] for i, name in enumerate(CELL_NAMES)},
        **{f"n_{name}": ns[:, i] for i, name in enumerate(CELL_NAMES)},
        "effect": effect, "se": np.where(treated, estimate.se, np.nan), "ci_low": low, "ci_high": high,
        "p_value": np.where(treated, estimate.p_value, np.nan), "mde": np.where(treated, estimate.mde, np.nan),
        "target": targets, "good": np.where(np.isnan(g), None, g > 0),
        "signal": signal, "provisional_verdict": [SIGNALS[s][0] for s in signal],
    })
    return out


# ---------------------------------------------------------------- planning

@dataclass(frozen=True)
class Plan:
    """How many weeks of data a pilot needs to detect its target (80% power, 5% two-sided)."""

    metric: str
    target: float
    unit: str
    controls: tuple[str, ...]
    history: tuple[dt.date, dt.date] | None
    weekly_n_treated: float | None
    weekly_n_control: float | None
    sd_treated: float | None
    sd_control: float | None
    weeks_each_window: int | None
    baseline_weeks: float | None
    pilot_weeks: int | None
    method: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def weeks_for(target: float, spread_per_week: float, baseline_weeks: float | None) -> tuple[int | None, int | None]:
    """(Weeks each of equally long baseline and pilot windows, pilot weeks given the baseline's
    length) for Var = A/b + A/w, A = spread_per_week, to detect |target| with 80% power at 5%."""
    k = (stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)) ** 2
    allowed = target ** 2 / k
    each = math.ceil(2 * spread_per_week / allowed)
    pilot = None
    if baseline_weeks:
        room = allowed - spread_per_week / baseline_weeks
        pilot = math.ceil(spread_per_week / room) if room > 0 else None
    return each, pilot


def weeks_needed(db: Database, actor: Actor, pilot: int | PilotDraft, target: float | None = None) -> Plan:
    """Weeks of data, at the units' usual weekly volumes, that a pilot (registered, by id, or a draft)
    needs to detect its target effect (or `target`) with 80% power at 5% two-sided."""
    units = store.unit_lookup(store.list_units(db, actor))
    if isinstance(pilot, PilotDraft):
        problems = [store.unknown_unit_problem(name, units.values(), column=column)
                    for column, name in [("unit", pilot.unit), *(("control", c) for c in pilot.controls)]
                    if name.strip().casefold() not in units]
        if problems:
            raise ValidationError(problems)
        treated = units[pilot.unit.strip().casefold()]
        controls = [units[c.strip().casefold()] for c in pilot.controls]
        metric_key, target = pilot.primary_metric, pilot.target_effect if target is None else target
    else:
        registered = store.get_pilot(db, actor, pilot)
        treated = next(u for u in units.values() if u.unit_id == registered.unit_id)
        controls = [u for u in units.values() if u.unit_id in registered.control_unit_ids]
        metric_key, target = registered.primary_metric, registered.target_effect if target is None else target
        pilot = registered
    if not target:
        raise ValidationError([Problem("a plan needs a target effect on the primary metric", column="target")])
    metric = store.metric_lookup(db).get(metric_key)
    if metric is None:
        raise ValidationError([Problem(f"no metric '{metric_key}' is defined", column="primary_metric",
                                       value=metric_key)])
    baseline_weeks = ((pilot.baseline_end - pilot.baseline_start).days + 1) / 7
    method = ("Usual weekly volume and spread per answer of the pilot unit and its pooled controls over the last "
              f"{HISTORY_WEEKS} weeks of data before the pilot window; Var(effect) = A/b + A/w with A = s²_T/v_T "
              "+ s²_C/v_C (without controls A = s²_T/v_T); detectable when (z_0.975 + z_0.80)² · Var ≤ target².")
    names = tuple(c.name for c in controls)
    last = cellstore.last_data_date(db, metric_key, treated.unit_id, pilot.pilot_start - dt.timedelta(days=1)) \
        or cellstore.last_data_date(db, metric_key, treated.unit_id, dt.date.max)
    empty = Plan(metric_key, target, treated.name, names, None, None, None, None, None, None, baseline_weeks, None,
                 method, (f"{treated.name} has no {metric.label} data yet to size the plan from.",))
    if last is None:
        return empty
    start = last - dt.timedelta(days=7 * HISTORY_WEEKS - 1)
    history = cellstore.history_cells(db, metric_key, treated.unit_id, [c.unit_id for c in controls], start, last)
    arms = {r.arm: r for r in history.itertuples(index=False)}
    treated_row, control_row = arms.get("treated"), arms.get("control")
    if treated_row is None or not treated_row.variance == treated_row.variance:
        return empty
    notes = []
    volume_t = treated_row.n / HISTORY_WEEKS
    spread = treated_row.variance / volume_t
    volume_c = sd_c = None
    if control_row is not None and control_row.variance == control_row.variance:
        volume_c, sd_c = control_row.n / HISTORY_WEEKS, math.sqrt(control_row.variance)
        spread += control_row.variance / volume_c
    elif controls:
        notes.append("The control units have no recent data: sized as a before/after pilot.")
    each, pilot_weeks = weeks_for(target, spread, baseline_weeks)
    if pilot_weeks is None:
        notes.append(f"The baseline window ({baseline_weeks:.1f} weeks) is too short: even an endless pilot window "
                     f"could not detect {_change_words(metric.direction, target, metric.unit)}; lengthen it.")
    return Plan(metric_key, target, treated.name, names, (start, last), volume_t, volume_c,
                math.sqrt(treated_row.variance), sd_c, each, baseline_weeks, pilot_weeks, method, tuple(notes))
