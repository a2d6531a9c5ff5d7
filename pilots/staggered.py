"""Staggered adoption: a pilot and its rollout waves going live in different periods, estimated with
Callaway & Sant'Anna's group-time average treatment effects, and the static two-way fixed-effects
estimate they replace. Pure statistics on a unit-by-period DataFrame (no database, no streamlit);
the caller builds the panel (e.g. from `pilots.trends.unit_week_panel`) and draws its own interval.

Method
------
Callaway, B. and Sant'Anna, P. H. C. (2021), "Difference-in-Differences with multiple time
periods", Journal of Econometrics 225(2), 200–230, unconditional (no covariates), balanced panel,
no anticipation, exactly as R's `did` computes it with analytic standard errors (`att_gt(...,
bstrap = FALSE)`, then `aggte(..., bstrap = FALSE)`):

- A cohort g is the units that go live in period g (0: never). For every cohort and every period t
  after the first, ATT(g,t) = mean change of cohort g − mean change of the comparison units, the
  change running from a base period to t: the period before t while t < g (pre-treatment cells,
  the placebo checks), the last period before g once t ≥ g (base period "varying", R's default).
  Periods are taken by position, so a period missing for everyone is skipped, not invented.
- Comparison units: the never-treated ("never_treated"), or also those whose cohort starts after t
  ("not_yet_treated"), cohort g itself excluded.
- Each cell has an influence function over all n units, n·(D(ΔY − μ₁)/n₁ − C(ΔY − μ₀)/n₀), and its
  variance is Σψ²/n². Aggregations are weighted sums of cells whose influence functions are the same
  weighted sums, plus, where the weights are estimated cohort shares, their own term (R's `wif`):
  "simple" weighs the post-treatment cells by cohort size; "group" averages each cohort's
  post-treatment cells and then weighs cohorts by size; "dynamic" weighs the cells of each event
  time e = t − g by cohort size, and its overall effect is the plain mean over e ≥ 0. The sampling
  model is units drawn at random, their wave included; with wave sizes fixed by design the weight
  term makes the aggregates' errors conservative when waves' effects differ.
- As in R, a cohort that starts after the last period is never treated within the panel. Unlike R,
  which drops them or trims periods, a cohort treated from the first period on and a cell without
  comparison units are refused: the caller decides what to leave out.

Cost: one vectorised pass over an n × cells matrix; a 50-unit × 150-week panel takes milliseconds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONTROL_GROUPS = ("never_treated", "not_yet_treated")
COLUMNS = ("unit", "period", "y", "cohort")


@dataclass(frozen=True)
class Aggregate:
    """An effect with its standard error."""

    effect: float
    se: float

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """The normal interval at this level."""
        if not 0 < level < 1:
            raise ValueError(f"level must lie between 0 and 1, not {level}")
        z = float(stats.norm.ppf(0.5 + level / 2))
        return self.effect - z * self.se, self.effect + z * self.se


@dataclass(frozen=True)
class GroupTime:
    """ATT(g,t): the effect on the cohort that went live in `cohort`, in `period`."""

    cohort: int
    period: int
    effect: float
    se: float

    @property
    def event_time(self) -> int:
        """Periods since go-live: 0 in the first treated period, negative before (placebo cells)."""
        return self.period - self.cohort


@dataclass(frozen=True)
class StaggeredResult:
    """Group-time effects and R `aggte`'s aggregations: `simple`, `group` (overall of `by_cohort`),
    `dynamic` (overall of `by_event_time`, the mean over event times ≥ 0)."""

    control_group: str
    units: int
    group_time: tuple[GroupTime, ...]
    simple: Aggregate
    group: Aggregate
    dynamic: Aggregate
    by_cohort: dict[int, Aggregate]
    by_event_time: dict[int, Aggregate]


@dataclass(frozen=True)
class _Panel:
    units: np.ndarray  # unit labels, sorted
    periods: np.ndarray  # sorted
    y: np.ndarray  # units × periods
    cohort: np.ndarray  # per unit; 0 = never treated within the panel


def _panel(panel: pd.DataFrame) -> _Panel:
    missing = [c for c in COLUMNS if c not in panel.columns]
    if missing:
        raise ValueError(f"panel: missing column(s) {', '.join(missing)}; needs {', '.join(COLUMNS)}")
    if panel.empty:
        raise ValueError("panel: no rows")
    for column in ("period", "cohort"):
        if not pd.api.types.is_integer_dtype(panel[column]):
            raise ValueError(f"panel: column {column} must hold whole numbers, not {panel[column].dtype}")
    unit_index, units = pd.factorize(panel["unit"], sort=True)
    period_index, period_values = pd.factorize(panel["period"], sort=True)
    labels, periods = np.asarray(units), np.asarray(period_values, dtype=np.int64)
    row_unit, row_period = labels[unit_index], periods[period_index]
    y = pd.to_numeric(panel["y"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ValueError(f"panel: y of unit {row_unit[bad[0]]} in period {row_period[bad[0]]} is not a finite number")
    n_units, n_periods = len(labels), len(periods)
    cell = unit_index * n_periods + period_index
    rows = np.bincount(cell, minlength=n_units * n_periods)
    if (rows > 1).any():
        i, j = divmod(int(np.argmax(rows > 1)), n_periods)
        raise ValueError(f"panel: unit {labels[i]} has more than one row for period {periods[j]}")
    row_cohort = panel["cohort"].to_numpy(dtype=np.int64)
    cohort = np.empty(n_units, dtype=np.int64)
    cohort[unit_index] = row_cohort
    varying = np.flatnonzero(row_cohort != cohort[unit_index])
    if varying.size:
        k = varying[0]
        raise ValueError(f"panel: unit {row_unit[k]} has more than one cohort ({row_cohort[k]} and "
                         f"{cohort[unit_index[k]]}); a cohort is the unit's first treated period")
    if (cohort < 0).any():
        i = int(np.argmax(cohort < 0))
        raise ValueError(f"panel: cohort of unit {labels[i]} is {cohort[i]}; a cohort is the first treated period, "
                         "or 0 for never treated")
    if (rows == 0).any():
        i, j = divmod(int(np.argmax(rows == 0)), n_periods)
        raise ValueError(f"panel: unit {labels[i]} has no row for period {periods[j]}; the panel must be balanced "
                         "(every unit in every period)")
    early = (cohort > 0) & (cohort <= periods[0])
    if early.any():
        i = int(np.argmax(early))
        raise ValueError(f"panel: cohort {cohort[i]} of unit {labels[i]} starts at or before the first period "
                         f"{periods[0]}, so it has no period before treatment to compare with")
    # Going live after the last period is not going live within it (R's `did` does the same).
    cohort = np.where(cohort > periods[-1], 0, cohort)
    if not (cohort > 0).any():
        raise ValueError(f"panel: no unit has a cohort within periods {periods[0] + 1}..{periods[-1]}; "
                         "nothing is treated")
    wide = np.empty(n_units * n_periods)
    wide[cell] = y
    return _Panel(labels, periods, wide.reshape(n_units, n_periods), cohort)


def _column_sums(x: np.ndarray, slot: np.ndarray, slots: int) -> np.ndarray:
    """The columns of x summed by slot (every slot 0..slots-1 holds at least one column; -1: left out)."""
    kept = np.flatnonzero(slot >= 0)
    order = kept[np.argsort(slot[kept], kind="stable")]
    return np.add.reduceat(x[:, order], np.searchsorted(slot[order], np.arange(slots)), axis=1)


def _combine(att: np.ndarray, psi: np.ndarray, slot: np.ndarray, share: np.ndarray,
             indicators: np.ndarray | None = None,
             cohort_of: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted means of estimates by slot (which aggregate each estimate goes into, -1 for none),
    weighed by `share`, their cohorts' share of units, and the means' influence functions. With
    `indicators` (units × cohorts, centred: 1{unit in cohort} − share) and each estimate's cohort,
    the weights count as estimated: R's `wif` term."""
    slots = int(slot.max()) + 1
    kept = slot >= 0
    total = np.bincount(slot[kept], share[kept], slots)
    weight = np.where(kept, share / total[np.maximum(slot, 0)], 0.0)
    effects = np.bincount(slot[kept], (weight * att)[kept], slots)
    influence = _column_sums(psi * weight, slot, slots)
    if indicators is not None and cohort_of is not None:
        att_by, count_by = np.zeros((indicators.shape[1], slots)), np.zeros((indicators.shape[1], slots))
        np.add.at(att_by, (cohort_of[kept], slot[kept]), att[kept])
        np.add.at(count_by, (cohort_of[kept], slot[kept]), 1.0)
        weighted = np.bincount(slot[kept], (share * att)[kept], slots)
        influence += indicators @ att_by / total - (indicators @ count_by) * weighted / total**2
    return effects, influence


def _se(influence: np.ndarray) -> np.ndarray:
    return np.sqrt((influence**2).sum(axis=0)) / influence.shape[0]


def callaway_santanna(panel: pd.DataFrame, control_group: str = "not_yet_treated") -> StaggeredResult:
    """Callaway & Sant'Anna group-time effects and their simple, group and dynamic aggregations with
    analytic standard errors, as R's `did` gives them (see the module's docstring). `panel` has one
    row per unit and period: unit, period (whole numbers), y, cohort (the unit's first treated
    period, 0 if never). Raises ValueError naming the field, unit, period or cohort at fault."""
    if control_group not in CONTROL_GROUPS:
        raise ValueError(f"control_group must be one of {', '.join(CONTROL_GROUPS)}, not {control_group!r}")
    p = _panel(panel)
    n = len(p.units)
    cohorts = np.unique(p.cohort[p.cohort > 0])
    share = (p.cohort[:, None] == cohorts).mean(axis=0)

    # One cell per cohort and period after the first; the base is the period before, or the last one
    # before the cohort goes live once it has.
    post_index = np.arange(1, len(p.periods))
    last_before = np.searchsorted(p.periods, cohorts) - 1
    cell_cohort = np.repeat(np.arange(len(cohorts)), len(post_index))
    now = np.tile(post_index, len(cohorts))
    g = cohorts[cell_cohort]
    t = p.periods[now]
    base = np.where(t < g, now - 1, last_before[cell_cohort])

    change = p.y[:, now] - p.y[:, base]
    treated = p.cohort[:, None] == g
    control = np.broadcast_to(p.cohort[:, None] == 0, treated.shape)
    if control_group == "not_yet_treated":
        control = control | ((p.cohort[:, None] > t) & ~treated)
    n_treated, n_control = treated.sum(axis=0), control.sum(axis=0)
    if (n_control == 0).any():
        k = int(np.argmax(n_control == 0))
        raise ValueError(f"cohort {g[k]} has no comparison units in period {t[k]} "
                         f"(control group {control_group})")
    mean_treated = (change * treated).sum(axis=0) / n_treated
    mean_control = (change * control).sum(axis=0) / n_control
    att = mean_treated - mean_control
    psi = n * (treated * (change - mean_treated) / n_treated - control * (change - mean_control) / n_control)

    cell_share = share[cell_cohort]
    indicators = (p.cohort[:, None] == cohorts) - share
    post = t >= g
    simple, simple_if = _combine(att, psi, np.where(post, 0, -1), cell_share, indicators, cell_cohort)

    # Within a cohort the weights are equal and known: no weight term, as in R.
    cohort_att, cohort_if = _combine(att, psi, np.where(post, cell_cohort, -1), cell_share)
    everyone = np.zeros(len(cohorts), dtype=np.int64)
    group, group_if = _combine(cohort_att, cohort_if, everyone, share, indicators, np.arange(len(cohorts)))

    event_times, event_slot = np.unique(t - g, return_inverse=True)
    event_att, event_if = _combine(att, psi, event_slot, cell_share, indicators, cell_cohort)
    after = event_times >= 0
    dynamic, dynamic_if = event_att[after].mean(), event_if[:, after].mean(axis=1)

    cell_se, cohort_se, event_se = _se(psi), _se(cohort_if), _se(event_if)
    return StaggeredResult(
        control_group=control_group,
        units=n,
        group_time=tuple(map(GroupTime, g.tolist(), t.tolist(), att.tolist(), cell_se.tolist())),
        simple=Aggregate(float(simple[0]), float(_se(simple_if)[0])),
        group=Aggregate(float(group[0]), float(_se(group_if)[0])),
        dynamic=Aggregate(float(dynamic), float(_se(dynamic_if[:, None])[0])),
        by_cohort=dict(zip(cohorts.tolist(), map(Aggregate, cohort_att.tolist(), cohort_se.tolist()))),
        by_event_time=dict(zip(event_times.tolist(), map(Aggregate, event_att.tolist(), event_se.tolist()))),
    )


def two_way_fixed_effects(panel: pd.DataFrame) -> Aggregate:
    """The static two-way fixed-effects estimate: the coefficient of "treated and live" in a regression
    of y on unit and period dummies, with its standard error clustered by unit (statsmodels' CR1:
    G/(G−1)·(N−1)/(N−K), K counting every dummy). With effects that differ by wave and grow with
    time since go-live it is biased, even in sign; shown only to say why the tracker does not use it."""
    p = _panel(panel)
    n_units, n_periods = p.y.shape
    live = ((p.cohort[:, None] > 0) & (p.periods[None, :] >= p.cohort[:, None])).astype(float)

    # On a balanced panel removing unit and period means is exactly the dummies' projection (FWL).
    def within(x: np.ndarray) -> np.ndarray:
        return x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + x.mean()

    d, y = within(live), within(p.y)
    spread = (d**2).sum()
    if spread <= 1e-12 * d.size:
        raise ValueError("panel: treated-and-live does not vary beyond units and periods; no TWFE estimate")
    beta = (d * y).sum() / spread
    score = (d * (y - beta * d)).sum(axis=1)
    observations, regressors = n_units * n_periods, n_units + n_periods
    correction = n_units / (n_units - 1) * (observations - 1) / (observations - regressors)
    return Aggregate(float(beta), float(np.sqrt(correction * (score**2).sum()) / spread))
