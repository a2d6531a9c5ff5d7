"""The case for rollout of a pilot, assembled: its metrics' results (`pilots.results`, statistics in
`pilots.inference`), the checks and the verdict (`pilots.verdict`, rules in `pilots.rules`) and the
rollout value (`pilots.value`), from the cells that `pilots.cells` aggregates in SQL, cached per data
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

The rollout value is in `pilots.value`, planning in `pilots.planning`; whether a rolled-out pilot's
effect held in its rollout waves in `pilots.rollouts`.

Its length: the case's assembly with its JSON form (which lists every field the case holds,
the command line's contract) and the cache every surface reads through.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from typing import Iterable

import numpy as np
import pandas as pd

from . import cells as cellstore
from . import rollouts, store, synth, trends
from .access import COMMAND_LINE, Actor
from .cells import RolloutAssumptions
from .db import Database
from .formats import amount, chance_words, p_words  # noqa: F401  (p_words: read by pages)
from .inference import (PreTrend, harm_p_value,
                        holm, pre_trend, unit_effect, window_cells)
from .model import Metric, Pilot, RolloutWave, Unit
from .rules import SIGNALS, VERDICTS, primary_signal  # noqa: F401  (VERDICTS: the vocabulary, read by callers)
from .results import CELL_NAMES, MetricResult, estimate_metric
from .verdict import Check, decide, describe, design_checks, guardrail_margin, metric_checks
from .value import RolloutValue, Shrinkage, rollout_value, shrinkage


def today() -> dt.date:
    """The date results are read on: a pilot whose window ends later is interim."""
    return dt.date.today()


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
    rollout: rollouts.RolloutEvaluation | None = None  # once rolled out: did the effect hold in its waves

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
    units against their control units (equal-weight means of the units), week by week."""
    arms: dict[str, dict] = {"treated": {}, "control": {}}
    for row in weeks_rows:
        if row.phase == "before" and row.mean == row.mean:
            arms[row.arm].setdefault(pd.Timestamp(row.week), []).append(row.mean)
    treated = {w: float(np.mean(v)) for w, v in arms["treated"].items() if len(v) == len(pilot.unit_ids)}
    control = arms["control"]
    if controlled:
        weeks = sorted(w for w in treated if w in control)
        gaps = [treated[w] - float(np.mean(control[w])) for w in weeks]
        compares = "gap between the pilot units and their controls"
    else:
        weeks = sorted(treated)
        gaps = [treated[w] for w in weeks]
        compares = "pilot units' level"
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
    return cached(("case", pilot_id), db, actor, lambda: _cases(db, actor, [pilot], {})[0])


def analyze_pilots(db: Database, actor: Actor, unit_ids: Iterable[int] | None = None) -> list[PilotCase]:
    """The full case of every pilot the actor may see (only those of `unit_ids`, if given), as
    analyze_pilot gives it. Cached until the data change."""
    units = None if unit_ids is None else tuple(sorted(unit_ids))
    return list(cached(("cases", units), db, actor, lambda: tuple(
        _cases(db, actor, store.list_pilots(db, actor, unit_ids=units), {}))))


@dataclass(frozen=True)
class _Evidence:
    """The metric results of every pilot (by id) and the portfolio's shrinkage: what the data say,
    the same whoever asks (checks that depend on who asks are added per case)."""

    results: dict[int, tuple[MetricResult, ...]]
    prior: Shrinkage
    rollouts: dict[int, rollouts.RolloutEvaluation]


def _evidence(db: Database) -> _Evidence:
    """Every pilot's metric results, from one query for all of them (cells), cached until the data
    change: the shrinkage of one pilot's value needs the whole portfolio anyway."""
    return cached("evidence", db, COMMAND_LINE, lambda: _all_evidence(db))


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
    return _Evidence(results, prior, _rollout_evaluations(db, pilots, metrics, results))


def _rollout_evaluations(db: Database, pilots: list[Pilot], metrics: dict[str, Metric],
                         results: dict[int, tuple[MetricResult, ...]]) -> dict[int, rollouts.RolloutEvaluation]:
    """The rollout evaluation of every pilot with recorded waves; one weekly panel per metric."""
    waves = store.rollout_waves(db, COMMAND_LINE)
    if not waves:
        return {}
    units = store.list_units(db, COMMAND_LINE)
    names = {u.unit_id: u.name for u in units}
    rolled = [p for p in pilots if p.pilot_id in waves]
    panel = trends.unit_week_panel(db, COMMAND_LINE, sorted({p.primary_metric for p in rolled}), names)
    panels = {key: rows for key, rows in panel.groupby("metric_key")}
    found = {}
    for pilot in rolled:
        metric = metrics[pilot.primary_metric]
        found[pilot.pilot_id] = rollouts.evaluate(pilot, metric, results[pilot.pilot_id][0], waves[pilot.pilot_id],
                                                  panels.get(metric.key, panel.iloc[0:0]),
                                                  _comparison_units(pilot, pilots, waves, names), names)
    return found


def _comparison_units(pilot: Pilot, pilots: list[Pilot], waves: dict[int, list[RolloutWave]],
                      names: dict[int, str]) -> list[int]:
    """Every unit outside the pilot and its waves, but those where another pilot on the same metric
    went live, or was rolled out, since the pilot's baseline began (their own change would read as
    drift)."""
    taken = set(pilot.unit_ids) | {u for wave in waves[pilot.pilot_id] for u in wave.unit_ids}
    since = pilot.baseline_start
    for other in pilots:
        if other.pilot_id == pilot.pilot_id or other.primary_metric != pilot.primary_metric:
            continue
        if other.pilot_end >= since:
            taken.update(other.unit_ids)
        taken.update(u for wave in waves.get(other.pilot_id, []) if wave.start >= since for u in wave.unit_ids)
    return [u for u in names if u not in taken]


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
        effect = unit_effect(found, pilot.unit_ids, pilot.control_unit_ids, all(r.sd_known for r in rows))
        missing = tuple(f"{names.get(unit_id, unit_id)} ({'baseline' if phase == 'before' else 'pilot window'})"
                        for unit_id, phase in effect.missing_controls)
        pre = _pre_trend_of(weeks, pilot, effect.controls > 0) if role == "primary" else None
        result = estimate_metric(
            metric, role, effect, pilot.target_effect if role == "primary" else None,
            pilot.control_unit_names, pilot.randomised, not all(r.sd_known for r in rows), pre, missing)
        # The synthetic twin is of one unit: a pilot in several units has none.
        if role == "primary" and effect.controls >= synth.MIN_DONORS and len(pilot.unit_ids) == 1 \
                and effect.estimate.effect == effect.estimate.effect:
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
    return [replace(_case(pilot, evidence.results[pilot.pilot_id], units, overlaps_of.get(pilot.pilot_id, []),
                          assumptions.get(pilot.pilot_id) or stored[pilot.pilot_id], evidence.prior, on,
                          decided.get(pilot.pilot_id)), rollout=evidence.rollouts.get(pilot.pilot_id))
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
    value = rollout_value(primary, pilot.unit_ids, pilot.control_unit_ids, units, assumptions, prior)
    return PilotCase(pilot.pilot_id, pilot.name, pilot.units_label, pilot.status, (pilot.baseline_start, pilot.baseline_end),
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
        **(_rollout_dict(case.rollout) if case.rollout is not None else {}),
    })


def _rollout_dict(found: rollouts.RolloutEvaluation) -> dict:
    """The SPEC's `waves` (the pilot first) and `rollout_effect`, with the rollout's verdict."""
    return {
        "waves": [{"label": w.label, "units": list(w.units), "start": w.start, "effect": w.effect,
                   "ci_low": w.ci_low, "ci_high": w.ci_high, "se": w.se, "df": w.df, "periods": w.periods,
                   "recent_effect": w.recent, "state": w.state, "reason": w.reason} for w in found.waves],
        "rollout_effect": {
            "metric": found.metric_key,
            "simple": found.simple.effect if found.simple else None,
            "simple_se": found.simple.se if found.simple else None,
            "group": found.group.effect if found.group else None,
            "group_se": found.group.se if found.group else None,
            "control_group": found.control_group, "comparison_units": list(found.comparison_units),
            "event_study": [asdict(p) for p in found.event_study],
            "verdict": found.verdict, "reasons": list(found.reasons), "through": found.through},
    }


# ---------------------------------------------------------------- portfolio

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()


def cached(what, db: Database, actor: Actor, compute):
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



