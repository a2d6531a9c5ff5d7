"""The transfer function from driver metrics to the north star: how much the north-star metric (NPS by
default) moves, within a business unit from week to week, with one unit of each driver (first-contact
resolution, resolution days, ...), and what a driver pilot's effect is therefore expected to do to
the north star and to money. Owns the estimator (`fit`), its reading of the unit-by-week panel
(`transfer_function`), the projection of a driver effect and the words for all of it.

The model, on the unit-by-week panel (`pilots.trends.unit_week_panel`), keeping only the unit-weeks
where the north star and every driver are present:

    y_it = a_i + b_t + sum_k beta_k x_kit + e_it

with unit effects a_i (a unit's lasting level) and week effects b_t (whatever moves every unit that
week: season, outages, shared trends), so beta_k is the association between a unit's own weekly
deviations of driver k and of the north star, the other drivers held fixed. The changes the tracker
knows of are held fixed too: one indicator per registered pilot (its units while its change is in
place) and per rollout wave (its units from their go-live), since a pilot that lifts first-contact
resolution and NPS at once would otherwise be read as a strong link from the one to the other. It
remains an association within units over time, not a proven cause: something else that moves both
in one unit (a new manager) is in it. Drivers measured with much sampling noise week to week also
pull their slope towards zero (a noisy driver looks weak).

Every unit-week counts the same (ordinary least squares, no weights by the number of answers): the
slope is meant as the typical unit's, every unit weighing the same as in the pilot analysis, and
weighting by answers would hand the slope to the largest unit and leave fewer effective units for
the inference that follows. The north star's sampling noise is in e_it, where it widens the interval
and biases nothing.

Standard errors are clustered by unit (errors of a unit are correlated from week to week), with the
CR1 small-sample factor G/(G-1) * (N-1)/(N-K), K counting the drivers and the G + T - 1 fixed effects
(linearmodels' PanelOLS with debiased=True and group_debias=True, two-way effects; Stata's CR1 with
every absorbed effect counted), and t with G-1 degrees of freedom. A tracker has few units (the demo
six), and with few clusters that t interval can be far too short: the clustered variance rests on G
scores, and when one unit carries most of a driver's movement, on that unit's score almost alone
(Cameron, Gelbach & Miller 2008; MacKinnon & Webb 2017). Cameron & Miller (2015) put "few" anywhere
below 20 to 50 clusters, the more the more units differ, so below FEW_UNITS = 50 units the interval
and p-value come from a wild cluster bootstrap-t instead (from 50 up t(G-1) is the usual practice,
and the bootstrap's cost grows with the square of the units):

- restricted (WCR): each bootstrap sample is built from the model fitted with the tested value
  imposed, and the interval is every value the bootstrap test does not reject at 5% (test
  inversion, as Stata's boottest does). With few clusters the restricted bootstrap comes closer to
  its nominal size than the unrestricted one, which over-rejects (Cameron, Gelbach & Miller 2008;
  Davidson & MacKinnon 2010; MacKinnon & Webb 2017). In the seeded simulation of
  tests/test_drivers.py (six units) it covers about 91-92% whether the units are alike or one unit
  carries most of the driver's movement, where t with G-1 degrees of freedom covers 94% and 38%;
- Webb's six-point weights (+-sqrt(1/2), +-1, +-sqrt(3/2), each 1/6): Rademacher signs give only 2^G
  distinct samples (64 with six units), too few for a 5% tail; six points give 6^G (46,656);
- DRAWS draws from a fixed seed, so the same data give the same interval; symmetric p-values
  (share of |t*| at least |t|).

Because everything in the bootstrap t-statistic is linear in the weights and in the tested value,
the cluster-by-cluster pieces are computed once per driver and every tested value costs a few
vector operations (the approach of Roodman, MacKinnon, Nielsen & Webb 2019).

Its length: the estimator, its wild cluster bootstrap and the words for the result are one
method; the bootstrap's algebra can only be checked beside the estimator it resamples.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, sparse, stats

from . import org, store, trends
from .access import COMMAND_LINE, Actor
from .db import Database
from .formats import SHARES, amount, number
from .model import Problem, ValidationError

FEW_UNITS = 50  # below this many units the interval comes from the wild cluster bootstrap
MIN_UNITS = 5  # fewer leave a clustered slope too little to go on (Webb's weights: at most 6^4 samples)
MIN_WEEKS = 12  # a quarter of weeks in common, at the least
DRAWS = 9999  # bootstrap draws; (DRAWS + 1) * 0.025 is a whole number, as a test at 5% wants
SEED = 20261202
LEVEL = 0.95
Z_95 = float(stats.norm.ppf(0.975))
CAVEAT = ("An association within units over time, not a proven cause: registered pilots and rollouts are held "
          "fixed, but anything else that moves a driver and the north star together in a unit (a new team, "
          "a change not registered here) is in the slope too.")
_WEBB = np.concatenate([-np.sqrt([1.5, 1.0, 0.5]), np.sqrt([0.5, 1.0, 1.5])])
_TOLERANCE = 1e-13  # of the alternating projections that remove both fixed effects
_MAX_SWEEPS = 10_000


@dataclass(frozen=True)
class DriverSlope:
    """How much the north star moves per one unit of a driver as stored (a whole share of 1.0 for
    share metrics: divide by 100 for a percentage point), with its clustered standard error, 95%
    interval, degrees of freedom (units - 1), p-value (the bootstrap's with few units) and the method of
    both in plain words."""

    driver: str
    label: str
    slope: float
    se: float
    ci_low: float
    ci_high: float
    df: int
    p_value: float
    method: str
    units: int
    weeks: int
    driver_unit: str = ""
    aggregation: str = "mean"
    direction: str = "higher"


@dataclass(frozen=True)
class TransferFunction:
    """The north star and one slope per driver, all estimated together on the same unit-weeks."""

    north_star: str
    north_star_label: str
    slopes: tuple[DriverSlope, ...]
    units: int
    weeks: int
    observations: int
    north_star_unit: str = ""
    north_star_aggregation: str = "mean"
    north_star_direction: str = "higher"
    caveat: str = CAVEAT

    def slope(self, driver: str) -> DriverSlope:
        return {s.driver: s for s in self.slopes}[driver]


# ---------------------------------------------------------------- the estimator

def fit(panel: pd.DataFrame, y: str, xs: list[str], unit: str = "unit_id", time: str = "week", *,
        controls: list[str] | None = None, draws: int = DRAWS, seed: int = SEED,
        few_units: int = FEW_UNITS) -> pd.DataFrame:
    """Two-way fixed-effects regression of column `y` on columns `xs` of a long panel (one row per
    unit and time; rows with a missing value are left out), errors clustered by `unit` (CR1).
    `controls`: further columns held fixed and not reported (those the fixed effects or the others
    already explain are left out). Returns one row per x, indexed by its name: slope, se (CR1),
    ci_low, ci_high, p_value, df (units - 1), method, units, weeks, observations. With fewer than
    `few_units` units the interval and p-value are the restricted wild cluster bootstrap's (see the
    module docstring), else t's."""
    data = panel[[unit, time, y, *xs, *(controls or [])]].dropna()
    unit_codes, unit_names = pd.factorize(data[unit], sort=True)
    time_codes, time_names = pd.factorize(data[time], sort=True)
    g, t, n = len(unit_names), len(time_names), len(data)
    within = _Within(unit_codes, time_codes, g, t)
    x_raw = data[xs].to_numpy(float)
    x = within(x_raw)
    held = _independent(within(data[controls].to_numpy(float)), x) if controls else np.empty((n, 0))
    x = np.hstack([x, held])
    k = x.shape[1]
    if g < 2 or n - g - t + 1 - k <= 0:
        raise ValidationError([Problem(f"{g} units and {n} unit-weeks are too few to estimate {k} slopes with "
                                       "unit and week effects", column="units")])
    yw = within(data[[y]].to_numpy(float))[:, 0]
    gram = x.T @ x
    try:
        bread = np.linalg.inv(gram)
    except np.linalg.LinAlgError:
        bread = np.full_like(gram, np.inf)
    for j, name in enumerate(xs):  # a driver the fixed effects or the others explain leaves nothing to estimate
        own = 1 / bread[j, j] if np.isfinite(bread[j, j]) and bread[j, j] > 0 else 0.0  # its variation beyond the others
        if own <= 1e-10 * (x_raw[:, j] @ x_raw[:, j]):
            raise ValidationError([Problem("does not move within units from week to week apart from the other "
                                           "drivers, so its link cannot be estimated", column="driver", value=name)])
    beta = bread @ x.T @ yw
    resid = yw - x @ beta
    scale = g / (g - 1) * (n - 1) / (n - k - g - t + 1)
    scores = within.by_unit(x * resid[:, None])  # g x k
    se = np.sqrt(scale * np.diag(bread @ scores.T @ scores @ bread))
    t_crit = float(stats.t.ppf(0.5 + LEVEL / 2, g - 1))
    weights = _webb(draws, g, seed) if g < few_units else None
    rows = []
    for j, name in enumerate(xs):
        if weights is not None:
            boot = _WildBootstrap(within, x, yw, bread, j, scale, weights)
            p_value = boot.p_value(0.0, beta[j], se[j])
            low, high = boot.interval(beta[j], se[j])
            method = (f"unit and week fixed effects, standard error clustered by unit (CR1); with only {g} units the "
                      f"95% interval and p-value come from a restricted wild cluster bootstrap-t (Webb six-point "
                      f"weights, {draws:,} draws, seed {seed}), by test inversion")
        else:
            p_value = float(2 * stats.t.sf(abs(beta[j] / se[j]), g - 1))
            low, high = beta[j] - t_crit * se[j], beta[j] + t_crit * se[j]
            method = (f"unit and week fixed effects, standard error clustered by unit (CR1); 95% interval and "
                      f"p-value from the t distribution with {g - 1} degrees of freedom (units - 1)")
        rows.append({"x": name, "slope": float(beta[j]), "se": float(se[j]), "ci_low": float(low),
                     "ci_high": float(high), "p_value": p_value, "df": g - 1, "method": method, "units": g,
                     "weeks": t, "observations": n})
    return pd.DataFrame(rows).set_index("x")


def _independent(candidates: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """The candidate columns (already without the fixed effects) that add a direction of their own to
    `kept` and to each other: a control that never varies within units and weeks, or that repeats
    others, would only make the fit singular. Kept are those with more than 1e-4 of their own size
    left beyond the others, found by a pivoted Cholesky factorisation of their Gram matrix: hundreds
    of pilots cost one small factorisation, not one regression each."""
    sizes = np.linalg.norm(candidates, axis=0)
    candidates, sizes = candidates[:, sizes > 0], sizes[sizes > 0]
    if not candidates.shape[1]:
        return candidates
    basis, _ = np.linalg.qr(kept)
    rest = candidates - basis @ (basis.T @ candidates)
    rest /= sizes
    factor, order, rank, _ = linalg.lapack.dpstrf(rest.T @ rest, tol=1e-8)
    return candidates[:, np.sort(order[:rank] - 1)]


class _Within:
    """Removes unit and week means (both fixed effects) from columns, by alternating projections
    (exact after one sweep on a balanced panel; a few more where unit-weeks are missing)."""

    def __init__(self, unit_codes: np.ndarray, time_codes: np.ndarray, units: int, weeks: int):
        n = len(unit_codes)
        self.indicator = sparse.csr_matrix((np.ones(n), (np.arange(n), unit_codes)), shape=(n, units))
        self._time = sparse.csr_matrix((np.ones(n), (np.arange(n), time_codes)), shape=(n, weeks))
        self._unit_n = np.bincount(unit_codes, minlength=units)[:, None]
        self._time_n = np.bincount(time_codes, minlength=weeks)[:, None]

    def by_unit(self, z: np.ndarray) -> np.ndarray:
        """Column sums of z per unit: units x columns."""
        return np.asarray(self.indicator.T @ z)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        z = np.array(z, dtype=float)
        size = max(1.0, float(np.abs(z).max(initial=0.0)))
        for _ in range(_MAX_SWEEPS):
            z -= self.indicator @ (self.by_unit(z) / self._unit_n)
            z -= self._time @ (np.asarray(self._time.T @ z) / self._time_n)
            if np.abs(self.by_unit(z) / self._unit_n).max(initial=0.0) <= _TOLERANCE * size:
                return z
        raise ValidationError([Problem("the units and weeks with data are too scattered to separate unit and week "
                                       "effects", column="weeks")])


def _webb(draws: int, units: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice(_WEBB, size=(draws, units))


class _WildBootstrap:
    """The restricted wild cluster bootstrap-t for one slope beta_j, any tested value b0.

    Under b0 the restricted residuals are u(b0) = M_R (y - b0 x_j) = ua - b0 ub (M_R removes the
    effects and the other drivers); a bootstrap sample is y* = fit_R + w_g u(b0) with one weight w_g
    per unit; its slope minus b0 is sum_h w_h num_h(b0) and its clustered variance
    scale * sum_g (sum_h w_h Q_gh(b0))^2, where num and Q are linear in b0."""

    def __init__(self, within: _Within, x: np.ndarray, yw: np.ndarray, bread: np.ndarray, j: int, scale: float,
                 weights: np.ndarray):
        k = x.shape[1]
        others = x[:, np.arange(k) != j]

        def restricted(z: np.ndarray) -> np.ndarray:
            return z - others @ np.linalg.lstsq(others, z, rcond=None)[0] if others.size else z

        ua, ub = restricted(yw), restricted(x[:, j])
        a = x @ bread[j]  # the slope is a @ y for any y
        self.scale = scale
        pieces = []
        for u in (ua, ub):
            per_unit = within.indicator.multiply(u[:, None]).toarray()  # column h: u on unit h's rows, else 0
            full = within(per_unit)
            full -= x @ (bread @ (x.T @ full))  # the full model's residuals of each unit's part
            q = within.by_unit(a[:, None] * full)  # Q_gh
            num = within.by_unit(a * u)  # num_h
            pieces.append((weights @ num, weights @ q.T))
        (self.num_a, p), (self.num_b, r) = pieces
        self.pp, self.pr, self.rr = (p * p).sum(1), (p * r).sum(1), (r * r).sum(1)

    def p_value(self, b0: float, beta: float, se: float) -> float:
        """Share of bootstrap |t*| at least the data's |t| when the slope is b0."""
        t_data = abs(beta - b0) / se
        num = self.num_a - b0 * self.num_b
        var = self.scale * (self.pp - 2 * b0 * self.pr + b0 * b0 * self.rr)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = np.abs(num) / np.sqrt(var)
        # A draw with the same weight in every unit gives back the data's |t| exactly (y* = fit + c u):
        # such ties count as at least as large whatever the rounding.
        return float(np.mean(t_star >= t_data * (1 - 1e-9)))

    def interval(self, beta: float, se: float) -> tuple[float, float]:
        """Every b0 the bootstrap test does not reject at 5%: each end found by bisection from beta
        outwards; an end beyond 2^30 standard errors away is infinite."""
        return self._end(beta, se, -1.0), self._end(beta, se, 1.0)

    def _end(self, beta: float, se: float, side: float) -> float:
        alpha = 1 - LEVEL
        inner, outer = beta, beta + side * se
        while self.p_value(outer, beta, se) > alpha:
            inner, outer = outer, beta + 2 * (outer - beta)
            if abs(outer - beta) > 2 ** 30 * se:
                return side * math.inf
        for _ in range(200):
            middle = (inner + outer) / 2
            if middle in (inner, outer):
                break
            if self.p_value(middle, beta, se) > alpha:
                inner = middle
            else:
                outer = middle
        return (inner + outer) / 2


# ---------------------------------------------------------------- from the database

def transfer_function(db: Database, actor: Actor, north_star: str = "nps", drivers: list[str] | None = None,
                      start: dt.date | None = None, end: dt.date | None = None, *, draws: int = DRAWS,
                      seed: int = SEED) -> TransferFunction:
    """The north star's slope on each driver (default: every metric whose role is 'driver'), on the
    weeks from `start` to `end` of the units the actor may see where the north star and every driver
    have a value. Refuses an unknown metric, the north star among the drivers, a driver named twice,
    and fewer than MIN_UNITS units or MIN_WEEKS weeks with all of them."""
    metrics = store.metric_lookup(db)
    problems = []
    if north_star not in metrics:
        problems.append(Problem("no metric with this key", column="north_star", value=north_star))
    if drivers is None:
        drivers = [m.key for m in metrics.values() if m.role_hint == "driver" and m.key != north_star]
    drivers = list(drivers)
    if not drivers:
        problems.append(Problem("name at least one driver metric", column="driver"))
    for key in drivers:
        if key not in metrics:
            problems.append(Problem("no metric with this key", column="driver", value=key))
        elif key == north_star:
            problems.append(Problem("the north star cannot be its own driver", column="driver", value=key))
    for key in sorted({key for key in drivers if drivers.count(key) > 1}):
        problems.append(Problem("named more than once", column="driver", value=key))
    if start is not None and end is not None and start > end:
        problems.append(Problem("must not be after the end", column="start", value=str(start)))
    if problems:
        raise ValidationError(problems)
    long = trends.unit_week_panel(db, actor, [north_star, *drivers], start=start, end=end)
    wide = long.pivot(index=["unit_id", "week"], columns="metric_key", values="value")
    wide = wide.reindex(columns=[north_star, *drivers]).dropna().reset_index()
    units, weeks = wide["unit_id"].nunique(), wide["week"].nunique()
    if units < MIN_UNITS:
        raise ValidationError([Problem(
            f"needs at least {MIN_UNITS} business units with the north star and every driver in the same weeks; "
            f"found {units}", column="units", value=str(units))])
    if weeks < MIN_WEEKS:
        raise ValidationError([Problem(
            f"needs at least {MIN_WEEKS} weeks with the north star and every driver in the same units; "
            f"found {weeks}", column="weeks", value=str(weeks))])
    # Every change the tracker knows of in these units, whoever asks: the indicators are never shown.
    changes = _changes_in_place(db, COMMAND_LINE, wide)
    result = fit(wide.join(changes), north_star, drivers, controls=list(changes.columns), draws=draws, seed=seed)
    star = metrics[north_star]
    slopes = tuple(
        DriverSlope(key, metrics[key].label, row.slope, row.se, row.ci_low, row.ci_high, int(row.df), row.p_value,
                    row.method, int(row.units), int(row.weeks), metrics[key].unit, metrics[key].aggregation,
                    metrics[key].direction)
        for key, row in zip(drivers, result.loc[drivers].itertuples()))
    return TransferFunction(north_star, star.label, slopes, units, weeks, len(wide), star.unit, star.aggregation,
                            star.direction)


def _changes_in_place(db: Database, actor: Actor, wide: pd.DataFrame) -> pd.DataFrame:
    """One indicator per registered pilot and per rollout wave the actor may see, 1 in the unit-weeks of
    `wide` where its change is in place: a pilot's units from its go-live to the end of its window (for
    good once decided to roll out or extend), a wave's units from their go-live. Held fixed, so that a
    change that moves a driver and the north star at once is not read as the driver's link."""
    weeks = pd.to_datetime(wide["week"]).to_numpy("datetime64[D]")
    units = wide["unit_id"].to_numpy()
    found = {}
    waves = store.rollout_waves(db, actor)
    for pilot in store.list_pilots(db, actor):
        kept = pilot.decision in ("roll_out", "extend")
        until = np.datetime64(dt.date.max if kept else pilot.pilot_end)
        found[f"pilot {pilot.pilot_id}"] = (np.isin(units, pilot.unit_ids) & (weeks >= np.datetime64(pilot.pilot_start))
                                            & (weeks <= until))
        for count, wave in enumerate(waves.get(pilot.pilot_id, []), start=1):
            found[f"pilot {pilot.pilot_id} wave {count}"] = np.isin(units, wave.unit_ids) & (
                weeks >= np.datetime64(wave.start))
    return pd.DataFrame(found, index=wide.index, dtype=float)


# ---------------------------------------------------------------- projection and words

def projection(slope: DriverSlope, driver_effect: float, driver_low: float,
               driver_high: float) -> tuple[float, float, float]:
    """The north-star movement expected from a driver pilot's effect (in the driver's stored units,
    with its 95% interval): slope x effect, and a 95% interval that carries both uncertainties by the
    delta method for a product of independent estimates (Goodman's variance, s_b^2 e^2 + b^2 s_e^2 +
    s_b^2 s_e^2), each standard error read off its 95% interval's width so that the bootstrap's or
    t's extra width for few units carries through."""
    values = {"driver_effect": driver_effect, "driver_low": driver_low, "driver_high": driver_high}
    problems = [Problem("must be a finite number", column=name, value=str(value))
                for name, value in values.items() if not math.isfinite(value)]
    if not problems and not driver_low <= driver_effect <= driver_high:
        problems.append(Problem("the effect must lie within its interval", column="driver_low",
                                value=f"{driver_low} to {driver_high}"))
    if problems:
        raise ValidationError(problems)
    se_slope = (slope.ci_high - slope.ci_low) / (2 * Z_95)
    se_effect = (driver_high - driver_low) / (2 * Z_95)
    middle = slope.slope * driver_effect
    half = Z_95 * math.sqrt((driver_effect * se_slope) ** 2 + (slope.slope * se_effect) ** 2
                            + (se_slope * se_effect) ** 2)
    return middle, middle - half, middle + half


def _step(slope: DriverSlope) -> float:
    """One unit of the driver in its good direction, as people count it: a percentage point of a share."""
    size = 0.01 if slope.aggregation in SHARES else 1.0
    return size if slope.direction == "higher" else -size


def _range(tf: TransferFunction, low: float, high: float) -> str:
    shown = 100 if tf.north_star_aggregation in SHARES else 1
    return f"{number(low * shown)} to {number(high * shown)}"


def slope_words(tf: TransferFunction, slope: DriverSlope) -> str:
    """One driver step in its good direction and what goes with it: '+1.00 percentage points of
    First-contact resolution ≈ +0.400 points of Net Promoter Score (0.200 to 0.600)'; a lower-is-better
    driver is stepped down ('−1.00 days of Resolution time ≈ +1.50 points of ...')."""
    step = _step(slope)
    low, high = sorted((slope.ci_low * step, slope.ci_high * step))
    return (f"{amount(step, slope.driver_unit, slope.aggregation, signed=True)} of {slope.label} ≈ "
            f"{amount(slope.slope * step, tf.north_star_unit, tf.north_star_aggregation, signed=True)} of "
            f"{tf.north_star_label} ({_range(tf, low, high)})")


def projection_words(tf: TransferFunction, slope: DriverSlope, driver_effect: float, driver_low: float,
                     driver_high: float) -> str:
    """A driver pilot's effect carried to the north star, as a projection with its interval."""
    middle, low, high = projection(slope, driver_effect, driver_low, driver_high)
    shown = 100 if slope.aggregation in SHARES else 1
    return (f"A change of {amount(driver_effect, slope.driver_unit, slope.aggregation, signed=True)} in "
            f"{slope.label} ({number(driver_low * shown)} to {number(driver_high * shown)}) projects to "
            f"{amount(middle, tf.north_star_unit, tf.north_star_aggregation, signed=True)} of {tf.north_star_label} "
            f"(95% range {_range(tf, low, high)}), if the link seen within units over time holds for it.")


def money_projection(tf: TransferFunction, movement: tuple[float, float, float], value_per_point: float,
                     customers: int) -> tuple[float, float, float]:
    """A year's value of a projected north-star movement (middle, low, high): a point in the good
    direction is worth `value_per_point` per customer a year, as a pilot's value per point is
    (pilots.value), times the customers it reaches."""
    problems = []
    if not (math.isfinite(value_per_point) and value_per_point >= 0):
        problems.append(Problem("must be a number, not negative", column="value_per_point",
                                value=str(value_per_point)))
    if customers < 0:
        problems.append(Problem("must not be negative", column="customers", value=str(customers)))
    if problems:
        raise ValidationError(problems)
    good = 1.0 if tf.north_star_direction == "higher" else -1.0
    low, middle, high = sorted(good * v * value_per_point * customers for v in movement)
    return middle, low, high


def money_words(tf: TransferFunction, movement: tuple[float, float, float], value_per_point: float, customers: int,
                settings: org.OrgSettings | None = None) -> str:
    """The money of a projected movement in the organisation's currency, worded as the rollout value
    is: 'Worth about €1.2M a year across 650,000 customers (95% range €0.5M to €1.9M), a projection.'"""
    middle, low, high = money_projection(tf, movement, value_per_point, customers)
    return (f"Worth about {org.format_money(middle, settings)} a year across {number(customers)} customers "
            f"(95% range {org.format_money(low, settings)} to {org.format_money(high, settings)}), a projection "
            "from an association, not a proven cause.")


def north_star_of(db: Database) -> str | None:
    """The organisation's north-star metric: the first metric marked as one (NPS in the demo)."""
    return next((m.key for m in store.list_metrics(db) if m.role_hint == "north_star"), None)


def value_per_north_star_point(db: Database, actor: Actor, north_star: str) -> float | None:
    """What one point of the north star is worth per customer a year, as the pilots judged on it value
    it: the median of their values per point (None when none has one)."""
    values = [p.value_per_point for p in store.list_pilots(db, actor)
              if p.primary_metric == north_star and p.value_per_point]
    return float(np.median(values)) if values else None


def as_dict(tf: TransferFunction) -> dict:
    """The transfer function as plain JSON data (`drivers --json`): infinite interval ends as null."""
    def finite(value: float) -> float | None:
        return value if math.isfinite(value) else None

    return {
        "north_star": tf.north_star, "label": tf.north_star_label, "units": tf.units, "weeks": tf.weeks,
        "observations": tf.observations, "caveat": tf.caveat,
        "drivers": [{"driver": s.driver, "label": s.label, "unit": s.driver_unit, "aggregation": s.aggregation,
                     "direction": s.direction, "slope": s.slope, "se": s.se, "ci_low": finite(s.ci_low),
                     "ci_high": finite(s.ci_high), "df": s.df, "p_value": s.p_value, "method": s.method,
                     "units": s.units, "weeks": s.weeks, "words": slope_words(tf, s)} for s in tf.slopes],
    }
