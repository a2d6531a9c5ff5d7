"""Planning a pilot: how many weeks of data it needs to detect its target with 80% power at 5%
two-sided, with the variance its case will have (`pilots.inference`): the units' usual weekly
volumes and spread per answer, and how much their changes drift beyond sampling, measured on
windows of the pilot's lengths placed on the latest data before its pilot window and on earlier
periods of the same length. Var(effect) = τ²(1 + 1/J) + S/b + S/w, detectable when
(t_0.975 + t_0.80) · sqrt(Var) ≤ target, t on the drift estimate's degrees of freedom; so a pilot
planned this way and truly hitting its target is called Roll out about 80% of the time."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from scipy import stats

from . import cells as cellstore
from . import store
from .access import Actor
from .verdict import change_words
from .db import Database
from .inference import ALPHA, POWER, Cell, drift, window_cells
from .model import PilotDraft, Problem, ValidationError


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
    drift_sd: float | None = None  # sd of a unit's change beyond sampling, at the planned lengths
    drift_df: int = 0


def _mde(variance: float, dof: float) -> float:
    """Smallest effect detected with 80% power in a two-sided 5% t test on dof degrees of freedom."""
    if not dof or dof != dof:
        return (stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)) * math.sqrt(variance)
    return (stats.t.ppf(1 - ALPHA / 2, dof) + stats.t.ppf(POWER, dof)) * math.sqrt(variance)


MAX_PLAN_WEEKS = 104


def weeks_for(target: float, sampling_per_week: float, drift_variance: float, dof: float,
              baseline_weeks: float | None) -> tuple[int | None, int | None]:
    """(Weeks each of equally long baseline and pilot windows, pilot weeks given the baseline's
    length) for Var = drift_variance + S/b + S/w (S = sampling_per_week) to detect |target| with
    80% power at 5% two-sided (t on dof degrees of freedom); None beyond MAX_PLAN_WEEKS."""
    def enough(b: float, w: float) -> bool:
        return _mde(drift_variance + sampling_per_week * (1 / b + 1 / w), dof) <= abs(target)

    each = next((k for k in range(1, MAX_PLAN_WEEKS + 1) if enough(k, k)), None)
    pilot = None
    if baseline_weeks:
        pilot = next((w for w in range(1, MAX_PLAN_WEEKS + 1) if enough(baseline_weeks, w)), None)
    return each, pilot


def weeks_needed(db: Database, actor: Actor, pilot: int | PilotDraft, target: float | None = None) -> Plan:
    """Weeks of data that a pilot (registered, by id, or a draft) needs to detect its target effect
    (or `target`) with 80% power at 5% two-sided, with the variance its case will have: the units'
    usual weekly volumes and spread, and their drift, measured on a design of the pilot's lengths
    placed on the latest data before its pilot window."""
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
    baseline_days = (pilot.baseline_end - pilot.baseline_start).days + 1
    window_days = (pilot.pilot_end - pilot.pilot_start).days + 1
    baseline_weeks = baseline_days / 7
    method = ("Sized with the variance the pilot's case will have: the usual weekly volume and spread per answer of "
              "the pilot unit and its controls, and how much units' changes drift beyond sampling, measured on "
              "windows of the pilot's lengths placed on the latest data before its pilot window and on earlier "
              "periods of the same length. Var(effect) = τ²(1 + 1/J) + S/b + S/w with S the sampling variance of a "
              "week; detectable when (t_0.975 + t_0.80) · sqrt(Var) ≤ target, t on the drift estimate's degrees of "
              "freedom. The drift τ² is held at its size for the planned lengths.")
    names = tuple(c.name for c in controls)
    last = cellstore.last_data_date(db, actor, metric_key, treated.unit_id, pilot.pilot_start - dt.timedelta(days=1)) \
        or cellstore.last_data_date(db, actor, metric_key, treated.unit_id, dt.date.max)
    empty = Plan(metric_key, target, treated.name, names, None, None, None, None, None, None, baseline_weeks, None,
                 method, (f"{treated.name} has no {metric.label} data yet to size the plan from.",))
    if last is None:
        return empty
    window = (last - dt.timedelta(days=window_days - 1), last)
    baseline = (window[0] - dt.timedelta(days=baseline_days), window[0] - dt.timedelta(days=1))
    rows = list(cellstore.design_cells(db, actor, metric_key, treated.unit_id, [c.unit_id for c in controls],
                                       baseline, window).itertuples(index=False))
    found = window_cells(rows, metric.aggregation)
    sd_known = all(r.sd_known for r in rows)
    latest = {u: found.get((u, 0, "after")) or found.get((u, 0, "before")) for u in (treated.unit_id, *(c.unit_id for c in controls))}
    if latest[treated.unit_id] is None:
        return empty
    notes = []

    def per_week(cell: Cell) -> tuple[float, float]:
        weeks = max(cell.weeks, 1)
        return cell.n / weeks, cell.variance

    volume_t, var_t = per_week(latest[treated.unit_id])
    sampling_per_week = var_t / volume_t
    with_data = [latest[c.unit_id] for c in controls if latest[c.unit_id] is not None]
    volume_c = sd_c = None
    if with_data:
        pairs = [per_week(cell) for cell in with_data]
        sampling_per_week += sum(v / n for n, v in pairs) / len(pairs) ** 2
        volume_c = sum(n for n, _ in pairs) / len(pairs)
        sd_c = math.sqrt(sum(v for _, v in pairs) / len(pairs))
    elif controls:
        notes.append("The control units have no recent data: sized as a before/after pilot.")
    units_drift = drift(found, (treated.unit_id,), [c.unit_id for c in controls if latest[c.unit_id] is not None],
                        sd_known)
    if units_drift.dof:
        drift_variance = units_drift.of_effect(1, len(with_data), 0.0)
        if not sd_known:
            notes.append("Some periods come without a standard deviation: the drift measured includes sampling, "
                         "so more weeks are assumed to help less than they will.")
    else:
        drift_variance = 0.0
        notes.append("There is too little earlier data to measure how much these units drift on their own: the plan "
                     "counts sampling only and may be too short.")
    each, pilot_weeks = weeks_for(target, sampling_per_week, max(drift_variance, 0.0), units_drift.dof,
                                  baseline_weeks)
    if each is None:
        notes.append(f"Even {MAX_PLAN_WEEKS} weeks each side could not detect "
                     f"{change_words(metric.direction, target, metric.unit, metric.aggregation)}: the units drift too much on their own. "
                     "More control units, or a larger target, would make it detectable.")
    elif pilot_weeks is None:
        notes.append(f"The baseline window ({baseline_weeks:.1f} weeks) is too short: even a {MAX_PLAN_WEEKS}-week pilot "
                     f"window could not detect {change_words(metric.direction, target, metric.unit, metric.aggregation)}; lengthen it.")
    return Plan(metric_key, target, treated.name, names, (baseline[0], last), volume_t, volume_c,
                math.sqrt(var_t), sd_c, each, baseline_weeks, pilot_weeks, method, tuple(notes),
                math.sqrt(max(units_drift.variance, 0.0)) if units_drift.dof else None, units_drift.dof)
