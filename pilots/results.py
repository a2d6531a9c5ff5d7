"""The result of one metric of one pilot: its four cells, the effect with its 95% interval and
p-value (statistics in `pilots.inference`), the smallest effect the design can detect, and how the
evidence was gathered (randomised, controlled, before/after only), said in words for the method line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


from .inference import (ALPHA, ANSWERS_ONLY, DRIFT, Cell, Estimate, PreTrend, UnitEffect, oriented)
from .model import Metric
from .rules import primary_signal

RANDOMISED = "randomised"
CONTROLLED = "controlled before/after (difference-in-differences)"
BEFORE_AFTER = "before/after only"

CELL_NAMES = ("treated_before", "treated_after", "control_before", "control_after")


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
