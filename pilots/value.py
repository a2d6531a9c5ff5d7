"""The value of rolling a pilot out: the pilot's effect, shrunk by what the whole portfolio says about
pilot effects (empirical Bayes: the pilots that look best are partly lucky), times the realisation
share, times the customers of each unit rolled out to (by default the units that are neither the
pilot's nor its controls) and the value of a point per customer, a year; its 95% range holds the
effect's uncertainty, units differing from each other and the realisation share being a judgement.
Pure: the case (`pilots.analysis`) passes the primary metric's result and the assumptions in."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np
from scipy import stats

from .cells import RolloutAssumptions
from .model import Unit

if TYPE_CHECKING:
    from .analysis import MetricResult

Z_95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Shrinkage:
    """What the portfolio says about pilot effects in general, for the winner's curse: pilots' true
    effects, in answer standard deviations, spread around zero with variance `prior_variance`
    (method of moments over `pilots` finished pilots: mean of z² − se_z²). None when fewer than
    MIN_PILOTS_TO_SHRINK pilots have an estimate."""

    pilots: int
    prior_variance: float | None

    def factor(self, result: MetricResult) -> float | None:
        """The share of a pilot's measured effect that is likely real, A / (A + se_z²)."""
        scale = result.treated_before.sd if result.treated_before is not None else math.nan
        if self.prior_variance is None or not (scale > 0) or not result.has_estimate:
            return None
        se_z = result.se / scale
        return self.prior_variance / (self.prior_variance + se_z ** 2)


MIN_PILOTS_TO_SHRINK = 3


def shrinkage(primaries: Iterable[MetricResult]) -> Shrinkage:
    """The portfolio's prior of pilot effects from the primary results of finished pilots."""
    z, se = [], []
    for result in primaries:
        scale = result.treated_before.sd if result.treated_before is not None else math.nan
        if result.has_estimate and scale > 0:
            z.append(result.oriented[0] / scale)
            se.append(result.se / scale)
    if len(z) < MIN_PILOTS_TO_SHRINK:
        return Shrinkage(len(z), None)
    return Shrinkage(len(z), max(0.0, float(np.mean(np.square(z) - np.square(se)))))


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
    """What rolling out would be worth a year, per unit and in total, with a 95% range, and the
    assumptions used. per_customer counts the value per point only (the revenue share differs by unit
    and is in the units' values). `effect_used` is the effect after shrinkage and realisation."""

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
    shrink_factor: float | None = None


def _value_range(point: float, scales: np.ndarray, effect: float, effect_var: float, unit_var: float,
                 realisation: float) -> tuple[float, float]:
    """95% range of r · Σ_u S_u θ_u, θ_u = θ + η_u: θ ~ (effect, effect_var), η_u ~ (0, unit_var) apart
    in every unit, r uniform from half the realisation share to half as much again (at most 1)."""
    low_r, high_r = realisation / 2, min(1.0, realisation * 1.5)
    realisation_var = (high_r - low_r) ** 2 / 12
    total_scale = float(np.sum(scales))
    variance = (realisation ** 2 * (total_scale ** 2 * effect_var + float(np.sum(scales ** 2)) * unit_var)
                + realisation_var * (effect * total_scale) ** 2)
    half = Z_95 * math.sqrt(variance)
    return point - half, point + half


def rollout_value(primary: MetricResult, pilot_unit_ids: tuple[int, ...], control_unit_ids: tuple[int, ...],
                  units: list[Unit], assumptions: RolloutAssumptions, prior: Shrinkage | None = None) -> RolloutValue:
    """The yearly value of rolling the pilot's change out: to the units chosen in the assumptions, by
    default every unit that is neither one of the pilot's nor one of its controls. The measured effect is first
    shrunk towards zero by what the portfolio says about pilot effects (`prior`), since the pilots that
    look best are partly lucky; the range holds the effect's uncertainty, units differing from each
    other as much as their changes differ without a pilot (the drift the interval measured), and the
    realisation share being a judgement (half of it to half as much again)."""
    notes = []
    default_excluded = {*pilot_unit_ids, *control_unit_ids}
    chosen = [u for u in units if u.unit_id not in pilot_unit_ids
              and (u.unit_id not in default_excluded if assumptions.unit_ids is None
                   else u.unit_id in assumptions.unit_ids)]
    per_point = assumptions.value_per_point or 0.0
    if not primary.has_estimate:
        notes.append("No estimate of the effect, so no value.")
    if not per_point and not assumptions.revenue_share_per_point:
        notes.append("Set a value per point (or a share of revenue per point) to see the value of a rollout.")
    if notes:
        return RolloutValue(assumptions, None, None, None, None, (), None, None, None, tuple(notes))
    factor = prior.factor(primary) if prior is not None else None
    g = primary.oriented[0]
    effect_var = primary.se ** 2
    # Another unit's effect differs from the pilot's at least as much as units' changes differ when no
    # pilot runs (the drift the interval measured).
    unit_var = primary.drift_sd ** 2 if primary.drift_sd == primary.drift_sd else 0.0
    if factor is None:
        notes.append("Too few finished pilots to learn how much measured effects overstate true ones: the "
                     "effect is used as measured, which flatters it.")
    else:
        g, effect_var = factor * g, factor * primary.se ** 2
        notes.append(f"The measured effect is shrunk to {factor:.0%} of its size: across {prior.pilots} pilots, "
                     "the ones that look best are partly lucky, so the value counts what is likely real.")
    realisation = assumptions.realisation
    rows, scales = [], []
    for unit in chosen:
        if not unit.customers:
            notes.append(f"{unit.name} has no number of customers, so it is left out.")
            continue
        per_customer = per_point + assumptions.revenue_share_per_point * (unit.revenue_per_customer or 0.0)
        if assumptions.revenue_share_per_point and unit.revenue_per_customer is None:
            notes.append(f"{unit.name} has no revenue per customer: only the value per point counts there.")
        scale = unit.customers * per_customer
        point = realisation * g * scale
        low, high = _value_range(point, np.array([scale]), g, effect_var, unit_var, realisation)
        rows.append(UnitValue(unit.unit_id, unit.name, unit.customers, point, low, high))
        scales.append(scale)
    if not rows:
        notes.append("No unit to roll out to: choose the units in the rollout assumptions.")
        return RolloutValue(assumptions, realisation * g, realisation * g * per_point, None, None, (), None, None,
                            None, tuple(notes), factor)
    total = sum(r.value for r in rows)
    total_low, total_high = _value_range(total, np.array(scales), g, effect_var, unit_var, realisation)
    per_low, per_high = _value_range(realisation * g * per_point, np.array([per_point]), g, effect_var, 0.0,
                                     realisation)
    return RolloutValue(assumptions, realisation * g, realisation * g * per_point, per_low, per_high, tuple(rows),
                        total, total_low, total_high, tuple(notes), factor)


