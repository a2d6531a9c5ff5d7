"""The case for rollout of a pilot: its metrics' effects (statistics in `pilots.inference`), the
checks that guard the verdict, the verdict (rules in `pilots.rules`) and the rollout value
(`pilots.value`), assembled from the cells that `pilots.cells` aggregates in SQL, cached per data
version and actor; and the case as JSON for the command line.

Method in short (details in `pilots.inference`): every unit's change between the baseline and the
pilot window; the effect is the pilot unit's change minus the equal-weight mean of its control units'
changes (without controls, its plain before/after change); the 95% interval comes from how much
units' changes differ when no pilot runs (the controls in the same windows, and every unit in earlier
periods of the same length), so week-to-week and window-to-window drift of a unit is in it.

Checks: a control unit or guardrail without data in a window, or another pilot in the pilot's units
during its windows, block the verdict; a guardrail harmed (Holm-corrected, one-sided) stops it;
cautions (an interval that cannot see drift, no or few controls, few weeks, low power, a baseline
trend, a secondary metric worse) are listed with it. The verdict rules are in `pilots.rules`. A
guardrail is harmed when a one-sided t test finds it worse by more than its margin (1% of the pilot
unit's baseline level), Holm-corrected across the pilot's guardrails; one without data blocks.

Direction of good: every effect is also read "oriented", g = effect for higher-is-better metrics
and −effect for lower-is-better ones, so g > 0 is always good news (a fall in resolution days is).
Targets are magnitudes in the good direction: a target of 1 (or −1) for resolution days means a
fall of one day.

The rollout value is in `pilots.value`, planning in `pilots.planning`.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields, replace
from typing import Iterable

import numpy as np
import pandas as pd

from . import cells as cellstore
from . import rules, store, synth
from .access import COMMAND_LINE, Actor
from .cells import RolloutAssumptions
from .db import Database
from .formats import amount, chance_words, p_words  # noqa: F401  (p_words: read by pages)
from .inference import (ALPHA, ANSWERS_ONLY, DRIFT, MIN_ANSWERS, Cell, Estimate, PreTrend, UnitEffect, harm_p_value,
                        holm, oriented, pre_trend, unit_effect, window_cells)
from .model import Metric, Pilot, Unit
from .rules import SIGNALS, VERDICTS, primary_signal  # noqa: F401  (VERDICTS: the vocabulary, read by callers)
from .value import RolloutValue, Shrinkage, rollout_value, shrinkage

RANDOMISED = "randomised"
CONTROLLED = "controlled before/after (difference-in-differences)"
BEFORE_AFTER = "before/after only"

CELL_NAMES = ("treated_before", "treated_after", "control_before", "control_after")
FEW_WEEKS = 4
FEW_REPLICATES = 5
# A guardrail counts as harmed when it worsened by more than this share of the pilot unit's baseline level
# (a 1% rise in cost to serve is within what a committee tolerates; stated in every guardrail's reason).
GUARDRAIL_MARGIN_SHARE = 0.01


def today() -> dt.date:
    """The date results are read on: a pilot whose window ends later is interim."""
    return dt.date.today()


# ---------------------------------------------------------------- results of one metric

@dataclass(frozen=True)
class MetricResult(Estimate):
    """One metric of a pilot: its decision estimate (the fields of Estimate, drift included), its four
    cells as shown (the control cells are equal-weight means over control units), and how it was made."""

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
    se_sampling: float = math.nan
    inference: str = ANSWERS_ONLY
    controls_used: int = 0
    placebo_periods: int = 0
    replicate_df: int = 0
    drift_sd: float = math.nan
    missing_controls: tuple[str, ...] = ()  # "Unit (baseline|pilot window)" without data
    harm_p_value: float = math.nan  # guardrails: one-sided p of harm beyond harm_margin
    harm_margin: float = math.nan  # guardrails: harm up to this size (metric's units) is tolerated
    harmed: bool = False  # guardrails: harm beyond the margin, by Holm across the pilot's guardrails
    synthetic: object | None = None  # pilots.synth.SyntheticControl of the primary metric, when fitted

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
    def worse(self) -> bool:
        """Moved significantly in the bad direction (the whole 95% interval on the bad side)."""
        return self.significant and self.good is False

    @property
    def drift_aware(self) -> bool:
        return self.inference == DRIFT

    @property
    def oriented(self) -> tuple[float, float, float]:
        g, low, high = oriented(self.direction, self.effect, self.ci_low, self.ci_high)
        return float(g), float(low), float(high)

    @property
    def signal(self) -> str:
        return str(primary_signal(*self.oriented, self.target))

    def cell(self, name: str) -> Cell | None:
        return getattr(self, name)


def _method(metric: Metric, effect: UnitEffect, control_names: tuple[str, ...], randomised: bool,
            between_periods: bool) -> str:
    if effect.controls:
        text = ("Difference-in-differences of unit means: the pilot unit's change (pilot window − baseline) "
                f"minus the mean change of its {effect.controls} control unit{'s' if effect.controls != 1 else ''} "
                f"({', '.join(control_names)}), each control unit weighing the same"
                + (", units assigned at random" if randomised else "") + ". ")
    else:
        text = ("Before/after change of the pilot unit's mean, no control units (weaker evidence: it also "
                "holds whatever else changed between the windows). ")
    if effect.inference == DRIFT:
        sources = []
        if effect.controls >= 2:
            sources.append(f"the {effect.controls} control units' changes in the same windows")
        if effect.periods:
            sources.append(f"every unit's changes in {effect.periods} earlier period"
                           f"{'s' if effect.periods != 1 else ''} of the same length before the baseline")
        text += ("The 95% interval and p-value hold the units' own drift: the standard error comes from how much "
                 f"units' changes differ when no pilot runs ({' and '.join(sources)}; {effect.replicate_df} "
                 "degrees of freedom, Student's t), with the sampling variance of the answers in it. ")
    else:
        text += ("No earlier period and too few control units to see how much units drift on their own: the "
                 "interval uses the answers alone, sqrt(Σ s²/n) of independent cells with Welch–Satterthwaite "
                 "degrees of freedom (not a paired standard error), which is too narrow when units drift, so the "
                 "verdict is capped at Extend. ")
    text += f"Standard error from the answers alone: {effect.se_sampling:.4g}."
    if metric.aggregation == "nps":
        text += (" NPS: every answer scored +100 (9–10), 0 (7–8) or −100 (0–6), so s² is the multinomial "
                 "variance of promoters minus detractors (at least that of one added promoter, passive and "
                 "detractor).")
    elif metric.aggregation == "top2box":
        text += " Top-2-box: share of answers in the top two boxes, binomial variance (two successes and two failures added)."
    elif metric.aggregation == "rate":
        text += " Rate: a proportion, binomial variance (two successes and two failures added)."
    if between_periods:
        text += (" Some periods were given without a standard deviation: their cells' variance per answer is "
                 "estimated from the n-weighted spread between periods (K − 1 degrees of freedom).")
    return text


def estimate_metric(metric: Metric, role: str, effect: UnitEffect, target: float | None = None,
                    control_names: tuple[str, ...] = ("controls",), randomised: bool = False,
                    between_periods: bool = False, pre: PreTrend | None = None,
                    missing_controls: tuple[str, ...] = ()) -> MetricResult:
    """One metric's result from its unit effect (`pilots.inference.unit_effect`)."""
    estimate = effect.estimate
    controlled = effect.controls > 0
    grade = (RANDOMISED if randomised else CONTROLLED) if controlled else BEFORE_AFTER
    return MetricResult(
        **{f.name: float(getattr(estimate, f.name)) for f in fields(Estimate)},
        metric=metric.key, label=metric.label, unit=metric.unit, role=role, direction=metric.direction,
        aggregation=metric.aggregation, **{name: effect.cells.get(name) for name in CELL_NAMES},
        method=_method(metric, effect, control_names, randomised, between_periods),
        evidence_grade=grade, target=target, pre_trend=pre, se_sampling=effect.se_sampling,
        inference=effect.inference, controls_used=effect.controls, placebo_periods=effect.periods,
        replicate_df=effect.replicate_df, drift_sd=effect.drift_sd, missing_controls=missing_controls)


# ---------------------------------------------------------------- checks and the verdict

@dataclass(frozen=True)
class Check:
    """A warning that guards the verdict. severity: 'blocking' (the design is compromised: the
    verdict is Inconclusive), 'stop' (a guardrail was harmed) or 'caution' (listed with the verdict)."""

    code: str
    severity: str
    message: str
    metric: str | None = None


def change_words(direction: str, size: float, unit: str, aggregation: str | None = None) -> str:
    """A change in the good direction of a metric, in words: 'a fall of 1.5 days'."""
    word = "lift" if direction == "higher" else "fall"
    return f"a {word} of {amount(abs(size), unit, aggregation)}"


def describe(result: MetricResult) -> str:
    """One metric's result in one plain sentence (the p-value and method sit in the case's detail)."""
    if not result.has_estimate:
        return f"{result.label}: no estimate (a window or arm has too little data)"
    moved = "rose" if result.effect > 0 else "fell" if result.effect < 0 else "did not move"
    news = "good news" if result.good else "bad news" if result.effect != 0 else "no change"
    unit, aggregation = result.unit, result.aggregation
    return (f"{result.label} {moved} by {amount(abs(result.effect), unit, aggregation)} ({news}; most likely "
            f"between {amount(result.ci_low, unit, aggregation, signed=True)} and "
            f"{amount(result.ci_high, unit, aggregation, signed=True)}; {chance_words(result.p_value)})")


def guardrail_margin(result: MetricResult) -> float:
    """How much worse a guardrail may get before it counts as harmed: GUARDRAIL_MARGIN_SHARE of the pilot
    unit's baseline level."""
    base = result.treated_before
    return GUARDRAIL_MARGIN_SHARE * abs(base.mean) if base is not None else 0.0


def metric_checks(result: MetricResult) -> list[Check]:
    """Checks on one metric's own data: missing control data, its interval, trend, weeks, power, and
    harm for guardrails/secondaries."""
    found = []
    key = result.metric
    if result.missing_controls and (result.role == "primary" or result.has_estimate):
        found.append(Check("control_without_data", "blocking",
                           f"{result.label}: no data (or fewer than {MIN_ANSWERS} answers) for control unit "
                           f"{', '.join(result.missing_controls)}: the comparison would silently change which units "
                           "it compares against.", key))
    if result.role == "guardrail" and not result.has_estimate:
        found.append(Check("guardrail_not_measured", "blocking",
                           f"Guardrail not measured: {result.label} has too little data in a window to show whether "
                           "the pilot harmed it, so it cannot count as held.", key))
    if result.role == "primary":
        if result.has_estimate and not result.drift_aware:
            found.append(Check("answers_only", "caution",
                               f"The interval of {result.label} rests on the answers alone: with "
                               f"{result.controls_used} control unit{'s' if result.controls_used != 1 else ''} and no "
                               "earlier data of the same length, the data cannot show how much units drift on their "
                               "own, so the interval is too narrow when they do. The verdict is capped at Extend.", key))
        elif result.has_estimate and result.replicate_df < FEW_REPLICATES:
            found.append(Check("few_replicates", "caution",
                               f"The interval of {result.label} rests on only {result.replicate_df} comparison"
                               f"{'s' if result.replicate_df != 1 else ''} of units and earlier periods, so it is wide: "
                               "more control units or a longer history before the baseline would narrow it.", key))
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
                               f"This pilot is too small to show {change_words(result.direction, tau, result.unit, result.aggregation)}: "
                               f"the smallest change it can reliably detect is {amount(result.mde, result.unit, result.aggregation)}.",
                               key))
        pre = result.pre_trend
        if pre is not None and pre.failed:
            # A caution, not a block: with weekly drift a slope test on a few baseline weeks raises false
            # alarms, and a drift that persists shows in the earlier periods the interval already holds.
            found.append(Check("pre_trend", "caution",
                               f"Before the pilot started, the {pre.compares} in {result.label} was already drifting "
                               f"by {amount(pre.slope, result.unit, result.aggregation)} a week over {pre.weeks} baseline "
                               f"weeks, about {amount(pre.drift, result.unit, result.aggregation)} by the pilot window if "
                               "it went on: part of the effect may be that drift.", key))
        elif pre is not None and not pre.checked:
            found.append(Check("pre_trend_unchecked", "caution",
                               f"The baseline trend of {result.label} could not be checked: {pre.weeks} baseline "
                               f"week{'s' if pre.weeks != 1 else ''} with data (3 needed).", key))
    elif result.role == "guardrail" and result.harmed:
        found.append(Check("guardrail_harm", "stop",
                           f"Guardrail {describe(result)}: it got worse by more than the "
                           f"{amount(result.harm_margin, result.unit, result.aggregation)} it may (1% of its level), "
                           "beyond what chance explains even allowing for checking several guardrails (Holm's "
                           "correction).", key))
    elif result.role == "secondary" and result.worse:
        found.append(Check("secondary_worse", "caution", f"Secondary metric {describe(result)}.", key))
    return found


def design_checks(pilot: Pilot, primary: MetricResult, overlaps: list, on: dt.date) -> list[Check]:
    """Checks on the pilot's design: its controls and other pilots in its units during its windows
    (`overlaps`: the pilot's rows of cellstore.overlapping_pilots), worded as of the date `on`."""
    found = []
    if not pilot.control_unit_ids:
        found.append(Check("before_after_only", "caution",
                           "No control units: the effect is the pilot unit's plain before/after change, weaker "
                           "evidence, since it also holds whatever else changed between the windows. The verdict "
                           "is capped at Extend."))
    if len(pilot.control_unit_ids) == 1:
        found.append(Check("few_controls", "caution",
                           f"Fewer than 2 control units (only {pilot.control_unit_names[0]}): anything that happened "
                           f"to that one unit alone reads as an effect of the pilot."))
    if primary.treated_before is None or primary.treated_after is None:
        found.append(Check("no_data", "blocking",
                           f"No {primary.label} data for {pilot.unit_name} in the "
                           f"{'baseline' if primary.treated_before is None else 'pilot'} window.", primary.metric))
    words = {"same_unit": ("overlap_same_unit", "{runs} in {unit}, this pilot's own unit, during its windows: its "
                                                "effect cannot be told apart from this one's"),
             "control_treated": ("control_treated", "{runs} in control unit {unit} during the windows: the control "
                                                    "is no longer untreated"),
             "same_unit_rollout": ("overlap_same_unit", "{rolled} to {unit}, this pilot's own unit, on {start}, inside "
                                                        "its windows"),
             "control_rollout": ("control_treated", "{rolled} to control unit {unit} on {start}, inside the windows: "
                                                    "the control is no longer untreated")}
    for row in overlaps:
        code, text = words[row.kind]
        planned = row.status == "proposed"
        # The tense follows the dates: what ran, what runs now, what is still to come.
        runs = "will run" if on < row.start else "has been running" if on <= row.end else "ran"
        rolled = "will be rolled out" if on < row.start else "was rolled out"
        found.append(Check(code, "caution" if planned else "blocking",
                           f"{'A proposed pilot' if planned else 'Another pilot'}, '{row.name}' "
                           f"({row.start} to {row.end}), "
                           + text.format(unit=row.unit, start=row.start, runs=runs, rolled=rolled) + "."))
    return found


def decide(primary: MetricResult, checks: list[Check], interim: str | None = None) -> tuple[str, str, list[str]]:
    """The verdict, the rule that gave it and every reason for it, by the rules of `pilots.rules`.
    `interim`: how far the pilot window has run ("week 5 of 12"), while it runs."""
    signal = primary.signal
    meaning = SIGNALS[signal][1]
    headline = f"{describe(primary)}" + (f", against a target of {change_words(primary.direction, primary.target, primary.unit, primary.aggregation)}"
                                         if primary.target is not None and primary.has_estimate else "")
    blocking = [c.message for c in checks if c.severity == "blocking"]
    harm = [c.message for c in checks if c.severity == "stop"]
    cautions = [c.message for c in checks if c.severity == "caution"]
    capped = primary.has_estimate and (not primary.drift_aware or primary.evidence_grade == BEFORE_AFTER)
    verdict, rule = rules.verdict(signal, interim=interim is not None, blocking=bool(blocking), harmed=bool(harm),
                                  capped=capped)
    if rule == "interim":
        so_far = (f"So far: {headline}." if primary.has_estimate else f"So far: {primary.label}: {meaning}.")
        return verdict, rule, [f"Interim result, {interim}: no Roll out or Stop until the pilot window has ended, because "
                         "looking every week and acting on the first good-looking week would roll out pilots that do "
                         "nothing.", so_far, *blocking, *harm, *cautions]
    if rule == "no_estimate":
        return verdict, rule, [f"{primary.label}: {meaning}.", *blocking, *harm, *cautions]
    if rule == "blocking":
        return verdict, rule, [f"{headline}.", "The design is compromised, so the data cannot carry a verdict:",
                         *blocking, *harm, *cautions]
    if rule == "capped":
        why = (f"{headline}: {meaning}." if not harm else f"{headline}.")
        return verdict, rule, [why, *harm, "Capped at Extend: this evidence cannot tell the pilot's effect from the units' "
                                     "own drift (see the cautions), so it can neither roll out nor stop the pilot.",
                         *cautions]
    if rule == "guardrail":
        return verdict, rule, [f"{headline}.", *harm, *cautions]
    return verdict, rule, [f"{headline}: {meaning}.", *cautions]


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
    interim: str | None = None  # while the pilot window runs: how far ("week 5 of 12")
    rule: str = ""  # which rule of pilots.rules gave the verdict
    decision: str | None = None  # what the steering committee decided (model.DECISIONS), if it has
    decided_on: dt.date | None = None
    as_of: dt.date | None = None  # the date the case was read on

    @property
    def started(self) -> bool:
        """Whether the pilot window had started when the case was read."""
        return self.as_of is None or self.as_of >= self.pilot_window[0]

    @property
    def primary(self) -> MetricResult:
        return self.metrics[0]

    def __str__(self) -> str:
        lines = [f"Pilot {self.pilot_id}: {self.pilot} ({self.unit})",
                 *([f"Decision: {self.decision.replace('_', ' ')} on {self.decided_on}"] if self.decision else []),
                 f"Verdict: {self.verdict}" + (f" ({self.interim})" if self.interim else ""),
                 *(f"  - {r}" for r in self.reasons), f"Evidence: {self.evidence_grade}", "Metrics:",
                 *(f"  [{m.role}] {describe(m)}" for m in self.metrics)]
        value = self.rollout_value
        if value.total is not None:
            lines.append(f"Rollout value a year: {value.total:,.0f} ({value.total_low:,.0f} to {value.total_high:,.0f})")
        return "\n".join(lines)


def _weeks_between(pilot: Pilot) -> float:
    middle = lambda a, b: a + (b - a) / 2  # noqa: E731
    return (middle(pilot.pilot_start, pilot.pilot_end) - middle(pilot.baseline_start, pilot.baseline_end)).days / 7


def _pre_trend_of(weeks_rows: list, pilot: Pilot, controlled: bool) -> PreTrend:
    """The trend check from the weekly cells of the primary metric in the baseline window: the pilot
    unit against the equal-weight mean of its control units, week by week."""
    treated: dict = {}
    control: dict = {}
    for row in weeks_rows:
        if row.phase == "before" and row.mean == row.mean:
            if row.arm == "treated":
                treated[pd.Timestamp(row.week)] = row.mean
            else:
                control.setdefault(pd.Timestamp(row.week), []).append(row.mean)
    if controlled:
        weeks = sorted(w for w in treated if w in control)
        gaps = [treated[w] - float(np.mean(control[w])) for w in weeks]
        compares = "gap between the pilot unit and its controls"
    else:
        weeks = sorted(treated)
        gaps = [treated[w] for w in weeks]
        compares = "pilot unit's level"
    start = pd.Timestamp(pilot.baseline_start)
    return pre_trend([(w - start).days / 7 for w in weeks], gaps, compares, _weeks_between(pilot))


def _synthetic_of(weeks: list, pilot: Pilot) -> synth.SyntheticControl | None:
    """The synthetic twin of the pilot unit from the weekly cells of its primary metric (units by
    name); weeks that straddle the go-live are left out. Built with plain dicts: it runs for every
    pilot with three or more controls, and a pandas pivot per pilot cost more than the fit."""
    names = {pilot.unit_id: pilot.unit_name, **dict(zip(pilot.control_unit_ids, pilot.control_unit_names))}
    means: dict = {}
    phases: dict = {}
    for row in weeks:
        if row.unit_id in names and row.mean == row.mean:
            means.setdefault(row.week, {})[names[row.unit_id]] = row.mean
            phases.setdefault(row.week, set()).add(row.phase == "after")
    kept = sorted(week for week, seen in phases.items() if len(seen) == 1)
    present = {name for week in kept for name in means[week]}
    donors = [name for name in pilot.control_unit_names if name in present]
    if pilot.unit_name not in present or len(donors) < synth.MIN_DONORS:
        return None
    columns = [pilot.unit_name, *donors]
    wide = pd.DataFrame([[means[week].get(name, math.nan) for name in columns] for week in kept],
                        index=pd.DatetimeIndex(kept), columns=columns)
    return synth.synthetic_control(wide, pilot.unit_name, donors, np.array([phases[week].pop() for week in kept]))


def interim_words(pilot: Pilot, on: dt.date) -> str | None:
    """How far the pilot window has run on a date ("week 5 of 12"), or None once it has ended."""
    if on > pilot.pilot_end:
        return None
    total = math.ceil(((pilot.pilot_end - pilot.pilot_start).days + 1) / 7)
    if on < pilot.pilot_start:
        return f"the pilot window starts on {pilot.pilot_start:%d %b %Y} ({total} weeks)"
    return f"week {(on - pilot.pilot_start).days // 7 + 1} of {total}"


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
    analyze_pilot gives it. Cached until the data change."""
    units = None if unit_ids is None else tuple(sorted(unit_ids))
    return list(_cached(("cases", units), db, actor, lambda: tuple(
        _cases(db, actor, store.list_pilots(db, actor, unit_ids=units), {}))))


@dataclass(frozen=True)
class _Evidence:
    """The metric results of every pilot (by id) and the portfolio's shrinkage: what the data say,
    the same whoever asks (checks that depend on who asks are added per case)."""

    results: dict[int, tuple[MetricResult, ...]]
    prior: Shrinkage


def _evidence(db: Database) -> _Evidence:
    """Every pilot's metric results, from one query for all of them (cells), cached until the data
    change: the shrinkage of one pilot's value needs the whole portfolio anyway."""
    return _cached("evidence", db, COMMAND_LINE, lambda: _all_evidence(db))


def _all_evidence(db: Database) -> _Evidence:
    pilots = store.list_pilots(db, COMMAND_LINE)
    metrics = store.metric_lookup(db)
    cell_rows, weekly = cellstore.pilot_cells(db, COMMAND_LINE, pilots)
    # Rows are grouped once here: slicing data frames pilot by pilot costs more than the SQL.
    rows_of: dict[tuple[int, str], list] = {}
    for row in cell_rows.itertuples(index=False):
        rows_of.setdefault((row.pilot_id, row.metric_key), []).append(row)
    weeks_of: dict[int, list] = {}
    for row in weekly.itertuples(index=False):
        weeks_of.setdefault(row.pilot_id, []).append(row)
    results = {p.pilot_id: _metric_results(p, metrics, rows_of, weeks_of.get(p.pilot_id, [])) for p in pilots}
    on = today()
    prior = shrinkage(results[p.pilot_id][0] for p in pilots if interim_words(p, on) is None)
    return _Evidence(results, prior)


def _metric_results(pilot: Pilot, metrics: dict[str, Metric], rows_of: dict[tuple[int, str], list],
                    weeks: list) -> tuple[MetricResult, ...]:
    """Every metric of one pilot from its rows of cellstore.pilot_cells (cells by metric, unit, block
    and phase; the weekly cells of its primary metric), guardrails tested together (Holm)."""
    names = dict(zip(pilot.control_unit_ids, pilot.control_unit_names))
    results = []
    for key, role in pilot.metric_roles():
        metric = metrics[key]
        rows = rows_of.get((pilot.pilot_id, key), [])
        found = window_cells(rows, metric.aggregation)
        effect = unit_effect(found, pilot.unit_id, pilot.control_unit_ids, all(r.sd_known for r in rows))
        missing = tuple(f"{names.get(unit_id, unit_id)} ({'baseline' if phase == 'before' else 'pilot window'})"
                        for unit_id, phase in effect.missing_controls)
        pre = _pre_trend_of(weeks, pilot, effect.controls > 0) if role == "primary" else None
        result = estimate_metric(
            metric, role, effect, pilot.target_effect if role == "primary" else None,
            pilot.control_unit_names, pilot.randomised, not all(r.sd_known for r in rows), pre, missing)
        if role == "primary" and effect.controls >= synth.MIN_DONORS and effect.estimate.effect == effect.estimate.effect:
            result = replace(result, synthetic=_synthetic_of(weeks, pilot))
        results.append(result)
    guardrails = [i for i, r in enumerate(results) if r.role == "guardrail"]
    margins = [guardrail_margin(results[i]) for i in guardrails]
    p_harm = [harm_p_value(results[i].direction, results[i].effect, results[i].se, results[i].df, margin)
              for i, margin in zip(guardrails, margins)]
    for i, p, margin, harmed in zip(guardrails, p_harm, margins, holm(p_harm)):
        results[i] = replace(results[i], harm_p_value=p, harm_margin=margin, harmed=harmed)
    return tuple(results)


def _cases(db: Database, actor: Actor, pilots: list[Pilot],
           assumptions: dict[int, RolloutAssumptions]) -> list[PilotCase]:
    if not pilots:
        return []
    evidence = _evidence(db)
    units = store.list_units(db, COMMAND_LINE)  # every unit's figures: the value of a rollout is computed from them
    overlaps_of: dict[int, list] = {}
    for row in cellstore.overlapping_pilots(db, actor, pilots).itertuples(index=False):
        overlaps_of.setdefault(row.for_pilot, []).append(row)
    stored = cellstore.load_assumptions(db, actor, pilots)
    decided = cellstore.decision_dates(db, actor, pilots)
    on = today()
    return [_case(pilot, evidence.results[pilot.pilot_id], units, overlaps_of.get(pilot.pilot_id, []),
                  assumptions.get(pilot.pilot_id) or stored[pilot.pilot_id], evidence.prior, on,
                  decided.get(pilot.pilot_id))
            for pilot in pilots]


def _case(pilot: Pilot, results: tuple[MetricResult, ...], units: list[Unit], overlaps: list,
          assumptions: RolloutAssumptions, prior: Shrinkage, on: dt.date, decided_on: dt.date | None) -> PilotCase:
    """One pilot's case: its metric results, the checks (overlaps as the actor may see them), the
    verdict and the rollout value."""
    primary = results[0]
    checks = design_checks(pilot, primary, overlaps, on)
    for result in results:
        checks += metric_checks(result)
    interim = interim_words(pilot, on)
    verdict, rule, reasons = decide(primary, checks, interim)
    value = rollout_value(primary, pilot.unit_id, pilot.control_unit_ids, units, assumptions, prior)
    return PilotCase(pilot.pilot_id, pilot.name, pilot.unit_name, pilot.status, (pilot.baseline_start, pilot.baseline_end),
                     (pilot.pilot_start, pilot.pilot_end), pilot.target_effect, results, tuple(checks),
                     verdict, tuple(reasons), primary.evidence_grade, value, interim, rule, pilot.decision,
                     decided_on, on)


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
                "se_sampling": m.se_sampling, "inference": m.inference, "df": m.df, "mde": m.mde,
                "control_units_used": m.controls_used, "placebo_periods": m.placebo_periods,
                "drift_sd": m.drift_sd, "target": m.target, "good": m.good, "significant": m.significant,
                "harm_p_value": m.harm_p_value, "harmed": m.harmed, "method": m.method,
                "evidence_grade": m.evidence_grade, "synthetic_control": _synthetic_dict(m.synthetic),
                "pre_trend": None if m.pre_trend is None else {
                    "compares": m.pre_trend.compares, "weeks": m.pre_trend.weeks,
                    "slope_per_week": m.pre_trend.slope, "se": m.pre_trend.se, "p_value": m.pre_trend.p_value,
                    "drift_by_pilot_window": m.pre_trend.drift, "checked": m.pre_trend.checked,
                    "failed": m.pre_trend.failed}})
    return row


def _synthetic_dict(sc) -> dict | None:
    if sc is None:
        return None
    return {"effect": sc.effect, "weights": dict(sc.weights), "pre_rmspe": sc.pre_rmspe,
            "placebo_rank": sc.placebo_rank, "placebo_units": sc.placebo_units}


def case_as_dict(case: PilotCase) -> dict:
    """The case as JSON-ready data: the SPEC's fields for `analyze --json`, plus checks, evidence grade
    and rollout value."""
    value = case.rollout_value
    return _plain({
        "pilot_id": case.pilot_id, "pilot": case.pilot, "unit": case.unit, "status": case.status,
        "baseline": list(case.baseline), "pilot_window": list(case.pilot_window),
        "target_effect": case.target_effect,
        "verdict": case.verdict, "interim": case.interim, "decision": case.decision,
        "decided_on": case.decided_on, "reasons": list(case.reasons),
        "evidence_grade": case.evidence_grade,
        "checks": [asdict(c) for c in case.checks],
        "metrics": [_metric_dict(m) for m in case.metrics],
        "rollout_value": {
            "effect_used": value.effect_used, "per_customer": value.per_customer,
            "per_customer_low": value.per_customer_low, "per_customer_high": value.per_customer_high,
            "total": value.total, "total_low": value.total_low, "total_high": value.total_high,
            "shrink_factor": value.shrink_factor,
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
    key = (what, str(db.path), cellstore.data_version(db), sees, today())
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
    """The primary metric's effect of every pilot the actor may see, one row per pilot, read from
    the pilots' full cases (analyze_pilots, cached): cells, effect, SE (drift included) and the
    answers-only SE, 95% interval, p-value, MDE, the signal and the verdict."""
    rows = []
    for case in analyze_pilots(db, actor):
        m = case.primary
        rows.append({
            "pilot_id": case.pilot_id, "pilot": case.pilot, "unit": case.unit, "status": case.status,
            "metric": m.metric, "direction": m.direction, "evidence_grade": m.evidence_grade,
            **{name: m.cell(name).mean if m.cell(name) is not None else np.nan for name in CELL_NAMES},
            **{f"n_{name}": m.cell(name).n if m.cell(name) is not None else np.nan for name in CELL_NAMES},
            "effect": m.effect, "se": m.se, "se_sampling": m.se_sampling, "inference": m.inference,
            "ci_low": m.ci_low, "ci_high": m.ci_high, "p_value": m.p_value, "mde": m.mde,
            "target": np.nan if m.target is None else m.target, "good": m.good, "signal": m.signal,
            "verdict": case.verdict})
    columns = ["pilot_id", "pilot", "unit", "status", "metric", "direction", "evidence_grade", *CELL_NAMES,
               *(f"n_{name}" for name in CELL_NAMES), "effect", "se", "se_sampling", "inference", "ci_low",
               "ci_high", "p_value", "mde", "target", "good", "signal", "verdict"]
    return pd.DataFrame(rows, columns=columns)


