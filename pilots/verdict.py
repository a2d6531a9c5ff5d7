"""The checks that guard a pilot's verdict and the verdict itself: a control unit or guardrail
without data, another pilot in the pilot's units during its windows (blocking); a guardrail harmed
beyond its margin, one-sided and Holm-corrected across the pilot's guardrails (stopping); and the
cautions listed with the verdict (an interval that cannot see drift, few controls or weeks, low power,
a baseline trend, a secondary metric worse). The rules that turn them into a verdict are in
`pilots.rules`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


from . import rules
from .formats import amount, chance_words
from .inference import (MIN_ANSWERS)
from .model import Pilot
from .rules import SIGNALS
from .results import BEFORE_AFTER, CELL_NAMES, MetricResult

FEW_WEEKS = 4
FEW_REPLICATES = 5
# A guardrail counts as harmed when it worsened by more than this share of the pilot unit's baseline level
# (a 1% rise in cost to serve is within what a committee tolerates; stated in every guardrail's reason).
GUARDRAIL_MARGIN_SHARE = 0.01


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
                           f"No {primary.label} data for {pilot.units_label} in the "
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
