"""The synthetic control of one pilot unit: a weighted blend of the control units whose weekly metric
tracked the pilot unit's through the baseline, carried on through the pilot window as what the pilot
unit would have done without the pilot. Pure functions over a wide frame of weekly means (no
database, no streamlit).

Method
------
Outcome-only synthetic control (Abadie, Diamond & Hainmueller 2010, with the pre-period outcomes as
the only predictors and V = identity): the weights w over the J donors are non-negative, sum to one
and minimise Σ_pre (y_t − Σ_j w_j x_jt)², the squared gap of levels over the baseline weeks. The
synthetic twin is Σ_j w_j x_jt in every week; the effect is the mean gap (pilot − twin) over the
pilot weeks.

Inference is placebo-in-space (Abadie et al. 2010, §4; Abadie, Diamond & Hainmueller 2015): each
donor in turn is treated as if it had been piloted, with the other donors (never the real pilot
unit) as its pool, and every unit's ratio of post- to pre-period RMSPE is ranked. The pilot unit's
rank among the J + 1 ratios (1 = largest, ties counted against the pilot) over J + 1 is the
permutation p-value; its smallest possible value is 1/(J + 1).

The fit is a convex quadratic programme on the simplex, solved exactly by a primal active-set method
(Nocedal & Wright 2006, §16.5) on the Gram matrix of the baseline weeks, started from the support
that non-negative least squares finds with the sum-to-one constraint as a heavily weighted row (so
that it mostly has only to confirm it). Every week's values are first taken relative to that week's
mean over the units: on the simplex (Σ w_j = 1) subtracting one common series from the pilot unit
and from every donor leaves each gap, and so the objective, exactly unchanged, and it takes the
shared level out of the conditioning. Levels are still what is fitted: no unit is demeaned over
time. A vanishing ridge (1e-8 of the mean diagonal of the Gram matrix) makes the optimum unique, so
that equally good fits (identical donors; fewer baseline weeks than donors) are resolved the same
way every time, identical donors sharing their weight equally; it moves no weight by more than
rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import nnls

MIN_DONORS = 3            # fewer, and there is no synthetic control
MIN_PRE_WEEKS = 3         # fewer baseline weeks, and the fit says nothing
MIN_PLACEBO_DONORS = 2    # a placebo needs at least this many other donors to be refitted and ranked
RIDGE = 1e-8              # of the mean diagonal of the (week-centred) Gram matrix: a tie-breaker only
RMSPE_FLOOR = 1e-9        # of the data's scale: an RMSPE below it is rounding noise, an exact fit
TIE_TOLERANCE = 1e-9      # relative: placebo ratios this close to the pilot unit's count as ties
WEIGHT_DECIMALS = 3


@dataclass(frozen=True, eq=False)
class SyntheticControl:
    """The synthetic twin of one pilot unit and its placebo-in-space test. `weights` are rounded
    for display; `path` and `effect` use the unrounded weights."""
    effect: float                   # mean gap (pilot unit − synthetic twin) over the pilot weeks
    weights: dict                   # donor id -> weight, every donor, ≥ 0, rounded to 3 decimals summing to 1.000
    pre_rmspe: float                # root mean squared gap over the baseline weeks
    post_rmspe: float               # root mean squared gap over the pilot weeks
    placebo_rank: int               # the pilot unit's post/pre RMSPE ratio among all ranked units; 1 = largest
    placebo_units: int              # units ranked: the pilot unit and every donor that could be refitted
    ratios: dict                    # unit id -> post/pre RMSPE ratio, the pilot unit included
    path: pd.DataFrame              # week, treated, synthetic, gap, post: one row per week
    placebo_gaps: pd.DataFrame      # unit, week, gap, post: every ranked unit's gap path, the pilot unit's too
    treated: object = None          # the pilot unit's id, as given

    @property
    def p_value(self) -> float:
        """The permutation p-value: rank / units ranked (at least 1/placebo_units)."""
        return self.placebo_rank / self.placebo_units


def _simplex_qp(gram: np.ndarray, cross: np.ndarray, start: np.ndarray | None = None,
                max_iter: int | None = None) -> np.ndarray:
    """argmin ½ wᵀHw − cᵀw subject to w ≥ 0, Σw = 1, for H = gram + ridge·I positive definite: a
    primal active-set method from `start` (feasible weights, e.g. _nnls_start's) or else from the best
    single donor. Each step solves the equality-constrained problem on the free weights; a step that
    would take a weight below zero stops there and fixes it at zero; at a feasible optimum of the
    free set, the fixed weight with the most negative multiplier is freed, until none is negative.
    The optimum is unique (H is positive definite), so the start only changes how many steps it takes."""
    n = len(cross)
    if n == 1:
        return np.ones(1)
    diagonal = float(np.mean(np.diag(gram)))
    ridge = RIDGE * diagonal if diagonal > 0 else 1.0
    h = gram + ridge * np.eye(n)
    scale = max(float(np.max(np.abs(np.diag(h)))), float(np.max(np.abs(cross))), 1e-300)
    tolerance = 1e-12 * scale
    # The KKT matrix of every free set is a block of this bordered one: [[H, 1], [1ᵀ, 0]].
    bordered = np.ones((n + 1, n + 1))
    bordered[:n, :n] = h
    bordered[n, n] = 0.0
    rhs = np.append(cross, 1.0)
    if start is not None:
        w = start.copy()
        free = [int(i) for i in np.flatnonzero(w > 0)]
    else:
        # The best single donor (the vertex of least objective): fits are sparse, so few donors
        # need freeing from there, fewer than need fixing from equal weights.
        vertex = int(np.argmin(0.5 * np.diag(h) - cross))
        w = np.zeros(n)
        w[vertex] = 1.0
        free = [vertex]
    for _ in range(max_iter or 10 * n + 50):
        index = np.array(sorted(free) + [n])
        solution = np.linalg.solve(bordered[index[:, None], index], rhs[index])
        index, target, nu = index[:-1], solution[:-1], solution[-1]
        if target.min() >= 0:
            w = np.zeros(n)
            w[index] = target
            # Multipliers of the weights held at zero: one below zero means the fit improves by
            # giving that donor weight.
            multipliers = h @ w - cross + nu
            multipliers[index] = np.inf
            worst = int(np.argmin(multipliers))
            if multipliers[worst] >= -tolerance:
                break
            free.append(worst)
        else:
            step = target - w[index]
            falling = np.flatnonzero(step < 0)
            room = w[index[falling]] / -step[falling]
            blocking = int(np.argmin(room))
            w[index] += room[blocking] * step
            stop = int(index[falling[blocking]])
            w[stop] = 0.0
            free.remove(stop)
    w = np.clip(w, 0.0, None)
    return w / w.sum()


def _nnls_start(donors: np.ndarray, target: np.ndarray) -> np.ndarray | None:
    """Near-optimal feasible weights, fast: non-negative least squares (compiled, Lawson & Hanson) with
    the sum-to-one constraint as one heavily weighted extra row, then scaled to sum to one. It finds
    the donors of the optimum, so that the active-set method above mostly has only to confirm it.
    `donors` and `target` are week-centred baseline values. None when it cannot help."""
    norm = float(np.sqrt(np.sum(donors ** 2) / donors.shape[1]))
    if not norm > 0:
        return None
    weight = 1e3 * norm
    try:
        w, _ = nnls(np.vstack([donors, np.full((1, donors.shape[1]), weight)]), np.append(target, weight))
    except (RuntimeError, ValueError):
        return None
    total = w.sum()
    return w / total if np.isfinite(w).all() and total > 0 else None


def _centred(pre: np.ndarray) -> np.ndarray:
    """Baseline weeks (rows) × units (columns), each week taken relative to its mean over the units (an
    exact rewriting on the simplex; see the module docstring)."""
    return pre - pre.mean(axis=1, keepdims=True)


def fit_weights(pre_treated: np.ndarray, pre_donors: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to one that minimise the squared pre-period gap.
    `pre_treated`: the pilot unit's values in the baseline weeks (length T); `pre_donors`: T × J, one
    column per donor. Unrounded; deterministic; identical donors share their weight equally."""
    y = np.asarray(pre_treated, dtype=float).ravel()
    x = np.asarray(pre_donors, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] != len(y) or x.shape[1] == 0:
        raise ValueError(f"pre_donors must be {len(y)} weeks × at least one donor, got {x.shape}")
    if not (np.isfinite(y).all() and np.isfinite(x).all()):
        raise ValueError("fit_weights takes finite values only: drop the weeks with a missing value first")
    centred = _centred(np.column_stack([y, x]))
    gram = centred.T @ centred
    return _simplex_qp(gram[1:, 1:], gram[1:, 0], _nnls_start(centred[:, 1:], centred[:, 0]))


def _rounded(weights: np.ndarray, decimals: int = WEIGHT_DECIMALS) -> np.ndarray:
    """Weights rounded to `decimals` so that they still sum to exactly 1 (largest remainder: each
    weight is cut down to its grid, and the units left over go to the largest remainders, ties to
    the earlier donor)."""
    unit = 10 ** decimals
    scaled = weights * unit
    counts = np.floor(scaled + 1e-9)
    remainder = scaled - counts
    short = int(round(unit - counts.sum()))
    counts[np.argsort(-remainder, kind="stable")[:short]] += 1
    return counts / unit


def _post_mask(wide: pd.DataFrame, post) -> np.ndarray:
    if isinstance(post, pd.Series):
        aligned = post.reindex(wide.index)
        if aligned.isna().any():
            raise ValueError(f"post has no value for {int(aligned.isna().sum())} of the weeks in wide")
        return aligned.to_numpy(dtype=bool)
    mask = np.asarray(post, dtype=bool).ravel()
    if len(mask) != len(wide):
        raise ValueError(f"post has {len(mask)} values for {len(wide)} weeks")
    return mask


def synthetic_control(wide: pd.DataFrame, treated, donors: list,
                      post: np.ndarray | pd.Series) -> SyntheticControl | None:
    """wide: index = week (sorted dates), columns = unit ids (treated and donors), values = the unit's
    weekly mean of the metric; post: boolean per row (True = pilot window, False = baseline/pre
    period); a Series is aligned on wide's index, an array taken row by row. Rows with a missing
    value for the treated unit or any donor are dropped first. Returns None when fewer than 3 donors
    or fewer than 3 pre weeks or no post week remain."""
    donors = list(donors)
    if treated in donors:
        raise ValueError(f"the pilot unit {treated!r} cannot be its own donor")
    if len(set(donors)) != len(donors):
        raise ValueError("a donor is listed twice")
    mask = _post_mask(wide, post)
    if len(donors) < MIN_DONORS:
        return None
    values = wide[[treated] + donors].to_numpy(dtype=float)
    complete = np.isfinite(values).all(axis=1)
    values, mask, weeks = values[complete], mask[complete], wide.index[complete]
    order = np.argsort(weeks, kind="stable")
    values, mask, weeks = values[order], mask[order], weeks[order]
    if (~mask).sum() < MIN_PRE_WEEKS or not mask.any():
        return None

    centred = _centred(values[~mask])
    gram = centred.T @ centred   # every unit's, once: each fit below takes a block of it
    units = [treated] + donors
    ranked, gaps = [], []        # the pilot unit (position 0) first, then every donor refitted as a placebo
    for position in range(len(units)):
        pool = [i for i in range(1, len(units)) if i != position]
        if len(pool) < (MIN_DONORS if position == 0 else MIN_PLACEBO_DONORS):
            continue
        w = _simplex_qp(gram[np.ix_(pool, pool)], gram[pool, position],
                        _nnls_start(centred[:, pool], centred[:, position]))
        if position == 0:
            weights = w
        ranked.append(units[position])
        gaps.append(values[:, position] - values[:, pool] @ w)
    gaps = np.array(gaps)
    pre_rmspe = np.sqrt(np.mean(gaps[:, ~mask] ** 2, axis=1))
    post_rmspe = np.sqrt(np.mean(gaps[:, mask] ** 2, axis=1))
    # An RMSPE below the floor is rounding noise: an exact fit. Floored both ways, a unit fitted
    # exactly before the pilot and not after ranks as extreme, and units fitted exactly throughout tie.
    scale = float(np.sqrt(np.mean(values ** 2)))
    floor = RMSPE_FLOOR * scale if scale > 0 else RMSPE_FLOOR
    ratios = np.maximum(post_rmspe, floor) / np.maximum(pre_rmspe, floor)
    # Ties count against the pilot unit: it takes the largest rank among them.
    rank = 1 + int(np.sum(ratios[1:] >= ratios[0] * (1 - TIE_TOLERANCE)))
    gap = gaps[0]
    path = pd.DataFrame({"week": weeks, "treated": values[:, 0], "synthetic": values[:, 1:] @ weights, "gap": gap,
                         "post": mask})
    placebo_gaps = pd.DataFrame({
        "unit": pd.Index(ranked).repeat(len(weeks)),
        "week": np.tile(np.asarray(weeks), len(ranked)),
        "gap": gaps.ravel(),
        "post": np.tile(mask, len(ranked))})
    return SyntheticControl(
        effect=float(gap[mask].mean()),
        weights={donor: float(v) for donor, v in zip(donors, _rounded(weights))},
        pre_rmspe=float(pre_rmspe[0]), post_rmspe=float(post_rmspe[0]), placebo_rank=rank,
        placebo_units=len(ranked), ratios={unit: float(r) for unit, r in zip(ranked, ratios)},
        path=path, placebo_gaps=placebo_gaps, treated=treated)
