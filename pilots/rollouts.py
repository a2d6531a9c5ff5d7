"""After the pilot: did its effect hold when it went to more units? A rolled-out pilot is read as
staggered adoption: the pilot's own units went live first (the pilot wave), then each rollout wave
(units with their adoption date). The estimate is Callaway & Sant'Anna's (`pilots.staggered`),
valid when effects differ by wave and over time, on the pilot's primary metric in periods of four
weeks (a period's value: the n-weighted mean of its weeks; four weeks, because one week of survey
answers is too noisy a base).

Comparison units: every unit outside the pilot and its waves, except units where another pilot on
the same metric went live (or was rolled out) before the end of the evaluation, since their own
change would be read as drift. With two or more such never-treated units they are the control group;
otherwise units not yet treated serve (their data up to their own go-live).

Each wave's effect is the cohort's average change since go-live, against the three periods (twelve
weeks) before it, minus the comparison units' change: Callaway & Sant'Anna's cohort aggregate with a
longer base than their one period, since one period of survey answers is too noisy a base (the same
assumption, parallel trends, and the same comparisons, never with units already treated). Its 95% interval is
drift-aware, as the pilot's own (`pilots.inference`): the unit is the evidence, not the answer. How much
one unit's such change varies when nothing is rolled out (τ²) is pooled from the comparison units'
changes in the same periods and from every unit's changes at earlier dates of the same shape before
the pilot began; the wave's standard error is τ·√(1/units in the wave + 1/comparison units), on t with
the pooled degrees of freedom. The overall simple and group aggregates and the event study are
Callaway & Sant'Anna's with their analytic standard errors, which assume many units: with few, the
waves' drift-aware intervals are the ones the verdict reads.

Verdict of the rollout (wording in `pilots.wording`), read in the good direction of the metric:
- a rollout wave with fewer than two periods since go-live is too early to read;
- Not reproduced: a wave's interval does not lie above zero (no clear improvement in its units);
- Fading: a wave improved, but its effect, or its effect over its latest three periods, is below the
  lower end of the pilot's own interval ("needs a look": monitoring flags it every week new data come);
- Holding: every wave improved and none is below the pilot's lower end.
The pilot's verdict is Holding only if every readable wave holds, Not reproduced if none improved,
Fading otherwise; too early while no wave can be read.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from .inference import ALPHA
from . import staggered
from .staggered import Aggregate
from .model import Metric, Pilot, RolloutWave
from .results import MetricResult

BLOCK_WEEKS = 4
MIN_PERIODS = 2  # periods since go-live before a wave is read
BASE_PERIODS = 3  # a wave's change is measured against the twelve weeks before its go-live
RECENT_PERIODS = 3  # what "lately" means for a wave that may be fading
MIN_NEVER_TREATED = 2
MAX_PLACEBOS = 6

HOLDING, FADING, NOT_REPRODUCED, TOO_EARLY = "Holding", "Fading", "Not reproduced", "Too early"
ROLLOUT_VERDICTS = (HOLDING, FADING, NOT_REPRODUCED, TOO_EARLY)
PILOT_WAVE = "Pilot"


@dataclass(frozen=True)
class WaveEffect:
    label: str  # "Pilot", "Wave 1", "Wave 2", ...
    units: tuple[str, ...]
    start: dt.date
    effect: float  # in the metric's units, as measured (not oriented)
    se: float
    df: float
    ci_low: float
    ci_high: float
    periods: int  # periods of four weeks since go-live with data
    recent: float  # the effect over its latest RECENT_PERIODS periods
    state: str  # one of ROLLOUT_VERDICTS for a rollout wave; PILOT_WAVE for the pilot's own units
    reason: str


@dataclass(frozen=True)
class EventPoint:
    weeks_since: int  # first week of the period, counted from go-live (negative: before)
    effect: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class RolloutEvaluation:
    pilot_id: int
    metric_key: str
    control_group: str  # "never_treated" | "not_yet_treated"
    comparison_units: tuple[str, ...]
    waves: tuple[WaveEffect, ...]  # the pilot wave first
    simple: Aggregate | None
    group: Aggregate | None
    event_study: tuple[EventPoint, ...]
    verdict: str  # one of ROLLOUT_VERDICTS
    reasons: tuple[str, ...]
    pilot_low: float  # the lower end of the pilot's own interval, oriented (good = positive)
    through: dt.date | None  # the last day of the last period read

    @property
    def needs_a_look(self) -> tuple[WaveEffect, ...]:
        """Rollout waves whose effect fell below the pilot's lower interval end."""
        return tuple(w for w in self.waves if w.state == FADING)


def _oriented(metric: Metric, value: float) -> float:
    return value if metric.direction == "higher" else -value


def periods_of(weekly: pd.DataFrame, anchor: dt.date) -> pd.DataFrame:
    """Weekly rows (unit_id, week, value, n) as periods of BLOCK_WEEKS weeks counted from the
    Monday of `anchor` (period 0 starts there): unit_id, period, y (n-weighted), n, last (the
    Monday of the period's latest week with data)."""
    monday = anchor - dt.timedelta(days=anchor.weekday())
    weeks = pd.to_datetime(weekly["week"])
    period = ((weeks - pd.Timestamp(monday)).dt.days // 7) // BLOCK_WEEKS
    frame = pd.DataFrame({"unit_id": weekly["unit_id"].to_numpy(), "period": period.to_numpy("int64"),
                          "weighted": (weekly["value"] * weekly["n"]).to_numpy(), "n": weekly["n"].to_numpy(),
                          "last": weeks.to_numpy()})
    grouped = frame.groupby(["unit_id", "period"], as_index=False, sort=True).agg(
        {"weighted": "sum", "n": "sum", "last": "max"})
    return grouped.assign(y=grouped["weighted"] / grouped["n"]).drop(columns="weighted")


def _period_of(day: dt.date, anchor: dt.date) -> int:
    monday = anchor - dt.timedelta(days=anchor.weekday())
    return ((day - monday).days // 7) // BLOCK_WEEKS


def _changes(wide: pd.DataFrame, units: list[int], first: int, last: int) -> np.ndarray:
    """Each unit's mean over periods first..last minus its mean over the BASE_PERIODS periods before."""
    return (wide.loc[units, first:last].mean(axis=1)
            - wide.loc[units, first - BASE_PERIODS:first - 1].mean(axis=1)).to_numpy()


def evaluate(pilot: Pilot, metric: Metric, pilot_result: MetricResult, waves: list[RolloutWave],
             weekly: pd.DataFrame, comparison_ids: list[int], names: dict[int, str]) -> RolloutEvaluation:
    """The rollout evaluation of a pilot from the weekly panel of its primary metric (rows of
    `pilots.trends.unit_week_panel` for the pilot's units, its waves' and the comparison units), and
    the pilot's own result on that metric (its case: the first wave, and the yardstick)."""
    anchor = pilot.pilot_start
    cohorts = {unit_id: 0 for unit_id in pilot.unit_ids}
    for wave in waves:
        for unit_id in wave.unit_ids:
            cohorts.setdefault(unit_id, _period_of(wave.start, anchor))
    blocks = periods_of(weekly, anchor)
    wide = blocks.pivot(index="unit_id", columns="period", values="y")
    present = [u for u in cohorts if u in wide.index]
    treated_data = wide.loc[present].notna().all(axis=0) if present else pd.Series(dtype=bool)
    last = -1  # the last period from go-live on in which every unit of the pilot and its waves has data
    while last + 1 in treated_data.index and treated_data[last + 1]:
        last += 1
    # A comparison unit with a gap from the base before the pilot to the last period is left out, rather
    # than holding every wave back at its gap.
    span = list(range(-BASE_PERIODS, last + 1))
    comparison = [u for u in comparison_ids if u in wide.index and u not in cohorts
                  and wide.reindex(columns=span).loc[u].notna().all()]
    members = present + comparison
    complete = wide.loc[members].notna().all(axis=0) if members else pd.Series(dtype=bool)
    through = None if last < 0 else \
        blocks.loc[blocks["period"] == last, "last"].max().date() + dt.timedelta(days=6)
    control_group = "never_treated" if len(comparison) >= MIN_NEVER_TREATED else "not_yet_treated"
    _, pilot_low, _ = pilot_result.oriented
    first = WaveEffect(PILOT_WAVE, pilot.unit_names, pilot.pilot_start, pilot_result.effect, pilot_result.se,
                       pilot_result.df, pilot_result.ci_low, pilot_result.ci_high, max(last + 1, 0), math.nan,
                       PILOT_WAVE, "the pilot's own result (its baseline against its pilot window)")
    effects = [first] + [
        _wave_effect(f"Wave {i}", wave, _period_of(wave.start, anchor), wide, complete, last, cohorts, comparison,
                     control_group, metric, pilot_low)
        for i, wave in enumerate(waves, start=1)]
    simple = group = None
    event: tuple[EventPoint, ...] = ()
    panel = _cs_panel(wide, complete, last, cohorts, comparison, control_group)
    if panel is not None:
        try:
            result = staggered.callaway_santanna(panel, control_group=control_group)
        except ValueError:
            result = None
        if result is not None:
            simple, group = result.simple, result.group
            event = tuple(EventPoint(e * BLOCK_WEEKS, a.effect, *a.ci(1 - ALPHA))
                          for e, a in sorted(result.by_event_time.items()))
    verdict, reasons = _verdict(effects[1:])
    return RolloutEvaluation(pilot.pilot_id, metric.key, control_group, tuple(names[u] for u in comparison),
                             tuple(effects), simple, group, event, verdict, tuple(reasons), pilot_low, through)


def _cs_panel(wide: pd.DataFrame, complete: pd.Series, last: int, cohorts: dict[int, int], comparison: list[int],
              control_group: str) -> pd.DataFrame | None:
    """The balanced panel Callaway & Sant'Anna is run on: every period from the one before the pilot
    to the last complete one (periods counted from 1), the units of waves that went live by then
    and the comparison units (cohort 0: never treated)."""
    first = -1
    if last < 1 or first not in complete.index or not complete.loc[first:last].all():
        return None
    if not comparison and control_group == "never_treated":
        return None
    units = [u for u in cohorts if cohorts[u] <= last and u in wide.index] + comparison
    long = wide.loc[units, first:last].stack().rename("y").reset_index()
    long.columns = ["unit", "period", "y"]
    cohort = long["unit"].map(lambda u: cohorts[u] - first + 1 if u in cohorts else 0)
    return long.assign(period=long["period"] - first + 1, cohort=cohort)


def _wave_effect(label: str, wave: RolloutWave, cohort: int, wide: pd.DataFrame, complete: pd.Series, last: int,
                 cohorts: dict[int, int], comparison: list[int], control_group: str, metric: Metric,
                 pilot_low: float) -> WaveEffect:
    ids = [u for u in wave.unit_ids if u in wide.index]
    periods = last - cohort + 1
    nothing = WaveEffect(label, wave.unit_names, wave.start, math.nan, math.nan, math.nan, math.nan, math.nan,
                         max(periods, 0), math.nan, TOO_EARLY, "")
    if not ids:
        return replace(nothing, reason="no data for its units")
    if periods < MIN_PERIODS or not all(complete.get(p, False) for p in range(cohort - BASE_PERIODS, cohort)):
        return replace(nothing, reason=f"{max(periods, 0)} period(s) of four weeks since go-live with data for "
                                       f"every unit; {MIN_PERIODS} are needed")
    # Not-yet-treated: units whose own go-live comes after the last period read serve as well.
    controls = comparison + ([u for u, g in cohorts.items() if g > last and u in wide.index]
                             if control_group == "not_yet_treated" else [])
    if not controls:
        return replace(nothing, reason="no comparison unit is left untreated over its periods")
    theirs = _changes(wide, controls, cohort, last)
    effect = float(_changes(wide, ids, cohort, last).mean() - theirs.mean())
    recent = _recent(wide, ids, controls, cohort, last)
    squares, dof = _drift(theirs, wide, [*cohorts, *comparison], cohorts, cohort, last)
    if dof == 0:
        return replace(nothing, effect=effect, recent=recent,
                       reason="no comparison units or earlier periods to measure drift against")
    se = math.sqrt(squares / dof * (1 / len(ids) + 1 / len(controls)))
    t = float(stats.t.ppf(1 - ALPHA / 2, dof))
    found = WaveEffect(label, wave.unit_names, wave.start, effect, se, float(dof), effect - t * se, effect + t * se,
                       periods, recent, TOO_EARLY, "")
    state, reason = _wave_state(found, metric, pilot_low)
    return replace(found, state=state, reason=reason)


def _recent(wide: pd.DataFrame, ids: list[int], controls: list[int], cohort: int, last: int) -> float:
    """The effect over the latest RECENT_PERIODS periods, against the same twelve weeks before go-live."""
    lately = wide.loc[:, max(cohort, last - RECENT_PERIODS + 1):last].mean(axis=1)
    before = wide.loc[:, cohort - BASE_PERIODS:cohort - 1].mean(axis=1)
    change = lately - before
    return float(change[ids].mean() - change[controls].mean())


def _drift(theirs: np.ndarray, wide: pd.DataFrame, units: list[int], cohorts: dict[int, int], cohort: int,
           last: int) -> tuple[float, int]:
    """Sum of squares and degrees of freedom of units' changes when nothing is rolled out: the
    comparison units' changes in the wave's periods, and, at earlier dates of the same shape (each
    shifted by a whole window, so no two overlap), the changes of every one of `units` (the pilot's,
    its waves' and the comparison units; not those left out for another pilot) not yet treated by then."""
    squares, dof = 0.0, 0
    if len(theirs) >= 2:
        squares += float(((theirs - theirs.mean()) ** 2).sum())
        dof += len(theirs) - 1
    span = last - cohort + 1 + BASE_PERIODS
    for k in range(1, MAX_PLACEBOS + 1):
        first, end = cohort - k * span, last - k * span
        if first - BASE_PERIODS not in wide.columns:
            break
        complete = wide.loc[:, first - BASE_PERIODS:end].notna().all(axis=1)
        have = [u for u in units if complete.get(u, False) and cohorts.get(u, end + 1) > end]
        if len(have) < 2:
            continue
        changes = _changes(wide, have, first, end)
        squares += float(((changes - changes.mean()) ** 2).sum())
        dof += len(have) - 1
    return squares, dof


def _wave_state(wave: WaveEffect, metric: Metric, pilot_low: float) -> tuple[str, str]:
    low = _oriented(metric, wave.ci_low if metric.direction == "higher" else wave.ci_high)
    effect, recent = _oriented(metric, wave.effect), _oriented(metric, wave.recent)
    if not low > 0:
        return NOT_REPRODUCED, "no clear improvement in its units"
    if pilot_low == pilot_low and effect < pilot_low:
        return FADING, "improved, but by less than the pilot's interval allows"
    if pilot_low == pilot_low and recent < pilot_low:
        return FADING, f"improved, but lately (last {RECENT_PERIODS * BLOCK_WEEKS} weeks) below the pilot's interval"
    return HOLDING, "improved as much as the pilot's interval allows"


def _verdict(waves: list[WaveEffect]) -> tuple[str, list[str]]:
    read = [w for w in waves if w.state != TOO_EARLY]
    reasons = [f"{w.label} ({', '.join(w.units)}): {w.state.lower()}, {w.reason}" for w in waves]
    if not read:
        return TOO_EARLY, reasons
    states = {w.state for w in read}
    if states == {HOLDING}:
        return HOLDING, reasons
    if states == {NOT_REPRODUCED}:
        return NOT_REPRODUCED, reasons
    return FADING, reasons
