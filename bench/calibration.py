"""Calibration of the pilot statistics: a seeded simulation of pilots with no effect and with an
effect equal to a planned target, run through the very code the app uses (`pilots.inference`:
`honest_variance`, `unit_effect`, `harm_p_value`, `holm`; `pilots.rules`: `primary_signal`,
`verdict`), printed as one table.

    python bench/calibration.py [--reps 4000] [--seed 20261202] [--markdown] [--design KEY ...] [--jobs 2]

The data
--------
Each unit has a weekly level = fixed unit level + its own drift + a common week shock shared by all
units (it cancels in the comparison). The drift is an AR(1) (phi 0.8) with stationary sd 0.15
answer-sd; "without drift" sets it to 0. 30 answers a week per unit, a 12-week baseline and a
12-week pilot window; "one year of history" adds 52 weeks before the baseline, which the app cuts
into earlier blocks of the pilot's length (24 weeks: two whole blocks, a stub the statistics skip).

- Mean metrics (answer sd 1): a week's mean ~ N(level, 1/n) and its within-week sum of squares
  ~ chi2(n-1), as normal answers give them, without drawing every answer.
- NPS: answers 0-10 from a skewed distribution (60% answer 8-10, a long tail down to 0), counted
  by multinomial draws per unit-week; a level shift of x NPS points moves a share of the answers
  to promoters (x > 0) or detractors (x < 0) so that the expected NPS moves by exactly x. Scores
  are +100/0/-100, the cell variance is the sample variance of the scores, floored by
  `honest_variance("nps", ...)`. The drift, unit and common sds are the same fractions of the
  score sd as for mean metrics. (Only the three categories matter for the score, so the 0-10
  distribution is collapsed to promoter/passive/detractor before drawing: the same counts in law.)
- Measurements with sd: weekly rows with n and sd; n varies from week to week (Poisson) around
  unequal unit volumes (pilot 30 a week, controls 15 to 120).
- Measurements without sd: weekly means only; as the app does when n is missing, each period
  counts n = 1, the cell variance is the spread between weeks (K - 1 df) and `sd_known=False`.

Cells are built as the app builds them (`pilots.cells`): per unit, block and phase the
n-weighted mean of its weeks and the pooled variance per answer (within SS + between-week SS) /
(N - 1) with N - 1 df (without sd: between-week SS / (K - 1), n = K), vectorised over the simulated
pilots; then, pilot by pilot, those rows go through `pilots.inference.window_cells` (the honest
variance, the minimum of answers) and `unit_effect`, as in the app.

What is reported (one row per design)
-------------------------------------
- coverage: share of 95% intervals containing 0 when the true effect is 0; beside it the coverage
  the answers-only interval (sqrt of the summed sampling variances, Welch df) would have had.
- false Roll out: true effect 0, a target set, verdict Roll out.
- false Stop: true effect equal to the target, verdict Stop (guardrail rows: how much of it comes
  from the guardrails, none of which is harmed).
- power: true effect equal to a target sized as the product's planner sizes a pilot,
  tau = (t_{df,0.975} + t_{df,0.80}) x true sd of the effect estimator, df the design's replicate
  df; the true sd comes from a separate sizing batch (`--sizing-reps` draws of the estimator under
  the null, computed from the cell means alone). The share of Roll out should be near 80%.
- MC s.e.: Monte-Carlo standard error sqrt(p(1-p)/reps) of the coverage and the power, in points.

A verdict is capped at Extend (no Roll out, no Stop) when the interval is answers-only or there are
no control units, as in the app; no verdict is blocking here (all units have data, no overlaps).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import zlib
from collections import namedtuple
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pilots import rules  # noqa: E402
from pilots.inference import (ANSWERS_ONLY, Cell, harm_p_value, holm, t_estimate, unit_effect,  # noqa: E402
                              window_cells)

# The history the app cuts into placebo blocks (pilots.cells: MAX_HISTORY_BLOCKS, HISTORY_DAYS).
MAX_HISTORY_BLOCKS = 6
HISTORY_DAYS = 728

PHI = 0.8  # AR(1) coefficient of a unit's weekly drift
DRIFT_SD = 0.15  # stationary sd of the drift, in answer sds
LEVEL_SD = 0.10  # sd of the fixed unit levels (cancel in each unit's change)
COMMON_SD = 0.05  # sd of the week shock shared by all units (cancels in the comparison)
ALPHA = 0.05

# NPS answers 0..10: most answer 8-10, a long tail down to 0 (with the usual heap at 0).
NPS_ANSWERS = np.array([0.06, 0.02, 0.02, 0.03, 0.04, 0.07, 0.08, 0.08, 0.22, 0.18, 0.20])
NPS_PROMOTER, NPS_PASSIVE, NPS_DETRACTOR = (NPS_ANSWERS[9:].sum(), NPS_ANSWERS[7:9].sum(), NPS_ANSWERS[:7].sum())
NPS_BASE = 100 * (NPS_PROMOTER - NPS_DETRACTOR)
NPS_SD = 100 * math.sqrt(NPS_PROMOTER + NPS_DETRACTOR - (NPS_PROMOTER - NPS_DETRACTOR) ** 2)

DEFAULT_SEED = 20261202
DEFAULT_REPS = 4000
DEFAULT_SIZING_REPS = 20000
CHUNK = 2000  # reps simulated at once (memory)


@dataclass(frozen=True)
class Design:
    key: str
    label: str
    controls: int
    drift: bool = True
    history_weeks: int = 0
    metric: str = "mean"  # 'mean' | 'nps'
    data: str = "answers"  # 'answers' | 'sd' (weekly rows with n and sd, unequal volumes) | 'no_sd'
    guardrails: int = 0
    peeking: bool = False
    baseline_weeks: int = 12
    pilot_weeks: int = 12
    answers_per_week: int = 30

    @property
    def aggregation(self) -> str:
        return "nps" if self.metric == "nps" else "mean"

    @property
    def sd_known(self) -> bool:
        return self.data != "no_sd"


DESIGNS = {d.key: d for d in (
    Design("1v1", "1 vs 1, no drift, 1 yr history", 1, drift=False, history_weeks=52),
    Design("1v1-drift", "1 vs 1, drift, 1 yr history", 1, history_weeks=52),
    Design("1v1-drift-nohist", "1 vs 1, drift, no history (answers-only fallback)", 1),
    Design("1v5-nohist", "1 vs 5, no drift, no history", 5, drift=False),
    Design("1v5-drift-nohist", "1 vs 5, drift, no history", 5),
    Design("1v5-hist", "1 vs 5, no drift, 1 yr history", 5, drift=False, history_weeks=52),
    Design("1v5-drift-hist", "1 vs 5, drift, 1 yr history", 5, history_weeks=52),
    Design("nps-1v5-drift-nohist", "NPS skewed, 1 vs 5, drift, no history", 5, metric="nps"),
    Design("nps-1v5-drift-hist", "NPS skewed, 1 vs 5, drift, 1 yr history", 5, metric="nps", history_weeks=52),
    Design("sd-1v5-drift-hist", "weekly measurements with n and sd (unequal volumes), 1 vs 5, drift, 1 yr history",
           5, data="sd", history_weeks=52),
    Design("nosd-1v5-drift-hist", "weekly means without sd (n = 1 per period), 1 vs 5, drift, 1 yr history",
           5, data="no_sd", history_weeks=52),
    Design("peek-1v5-drift-hist", "weekly looks, 1 vs 5, drift, 1 yr history", 5, history_weeks=52, peeking=True),
    Design("1v20-drift-nohist", "1 vs 20, drift, no history", 20),
    Design("1v20-drift-hist", "1 vs 20, drift, 1 yr history", 20, history_weeks=52),
    Design("guard-1v5-drift-hist", "3 guardrails (no harm), 1 vs 5, drift, 1 yr history", 5, history_weeks=52,
           guardrails=3),
)}


def _rng(seed: int, design: Design, stream: str) -> np.random.Generator:
    """An independent, reproducible stream per seed, design and purpose (whatever else runs)."""
    return np.random.default_rng([seed, zlib.crc32(design.key.encode()), zlib.crc32(stream.encode())])


# ---------------------------------------------------------------- weeks, blocks and phases

def week_groups(design: Design) -> tuple[int, dict[tuple[int, str], np.ndarray]]:
    """The number of simulated weeks and, by (block, phase), the indices of their weeks, placed as
    `pilots.cells` places days (block 0: the real windows; block k: the k-th earlier stretch of the
    pilot's total length before the baseline, its first `baseline_weeks` 'before', the rest 'after')."""
    h, b, p = design.history_weeks, design.baseline_weeks, design.pilot_weeks
    length = b + p
    blocks = max(1, min(MAX_HISTORY_BLOCKS, HISTORY_DAYS // (7 * length)))
    groups: dict[tuple[int, str], list[int]] = {}
    for index in range(h + length):
        rel = index - h  # weeks from the start of the baseline
        if rel >= 0:
            key = (0, "before" if rel < b else "after")
        else:
            k = 1 + (-1 - rel) // length
            if k > blocks:
                continue
            key = (k, "before" if rel + k * length < b else "after")
        groups.setdefault(key, []).append(index)
    return h + length, {k: np.array(v) for k, v in groups.items()}


# ---------------------------------------------------------------- the simulated panel

def _levels(rng, reps: int, units: int, weeks: int, design: Design, scale: float) -> np.ndarray:
    """Weekly levels (reps, units, weeks): fixed unit level + AR(1) drift + common week shock."""
    level = rng.normal(0.0, LEVEL_SD * scale, (reps, units, 1))
    common = rng.normal(0.0, COMMON_SD * scale, (reps, 1, weeks))
    drift = np.zeros((reps, units, weeks))
    if design.drift:
        sd = DRIFT_SD * scale
        innovations = rng.normal(0.0, sd * math.sqrt(1 - PHI ** 2), (reps, units, weeks))
        drift[:, :, 0] = rng.normal(0.0, sd, (reps, units))
        for w in range(1, weeks):
            drift[:, :, w] = PHI * drift[:, :, w - 1] + innovations[:, :, w]
    return level + common + drift


def _nps_shares(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Promoter and detractor shares at a level shift of x NPS points (expected NPS = base + x), and
    the share of unit-weeks where the shift had to be clipped (no mass left to move)."""
    up = x >= 0
    lam = np.where(up, x / (100 - NPS_BASE), -x / (100 + NPS_BASE))
    clipped = float(np.mean(lam > 1))
    lam = np.minimum(lam, 1.0)
    promoters = np.where(up, NPS_PROMOTER + lam * (1 - NPS_PROMOTER), NPS_PROMOTER * (1 - lam))
    detractors = np.where(up, NPS_DETRACTOR * (1 - lam), NPS_DETRACTOR + lam * (1 - NPS_DETRACTOR))
    return promoters, detractors, clipped


def _volumes(design: Design, units: int) -> np.ndarray:
    if design.data == "sd":
        return np.concatenate([[design.answers_per_week], np.geomspace(15, 120, units - 1)])
    return np.full(units, design.answers_per_week)


def simulate_panel(rng, design: Design, reps: int, effect: float):
    """Weekly rows (reps, units, weeks) of one metric: n, mean, within-week sum of squares; unit 0
    is the pilot unit, which moves by `effect` in the pilot window. Also the share of clipped NPS
    shifts."""
    units = design.controls + 1
    weeks, _ = week_groups(design)
    scale = NPS_SD if design.metric == "nps" else 1.0
    x = _levels(rng, reps, units, weeks, design, scale)
    start = design.history_weeks + design.baseline_weeks
    x[:, 0, start:] += effect
    volume = _volumes(design, units)[None, :, None]
    if design.data == "sd":
        n = rng.poisson(np.broadcast_to(volume, x.shape)).astype(float)
    else:
        n = np.broadcast_to(volume, x.shape).astype(float)
    clipped = 0.0
    if design.metric == "nps":
        promoters_p, detractors_p, clipped = _nps_shares(x)
        count = n.astype(np.int64)
        promoters = rng.binomial(count, promoters_p)
        rest = np.where(promoters_p < 1, detractors_p / np.where(promoters_p < 1, 1 - promoters_p, 1), 0.0)
        detractors = rng.binomial(count - promoters, np.clip(rest, 0, 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, 100 * (promoters - detractors) / n, 0.0)
        ss = np.maximum(1e4 * (promoters + detractors) - n * mean ** 2, 0.0)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = x + rng.standard_normal(x.shape) / np.sqrt(np.where(n > 0, n, 1))
        ss = rng.chisquare(np.maximum(n - 1, 1)) * (n > 1)
        mean = np.where(n > 0, mean, 0.0)
    return n, mean, ss, clipped


def cell_arrays(design: Design, n, mean, ss, weeks_idx) -> dict[str, np.ndarray]:
    """The cell rows (reps, units) of the given weeks, combined as the app's SQL (`pilots.cells`)
    combines pieces: n, mean, variance per answer (before `honest_variance`), df, periods, weeks."""
    n, mean, ss = n[..., weeks_idx], mean[..., weeks_idx], ss[..., weeks_idx]
    has = n > 0
    periods = has.sum(-1)
    if design.data == "no_sd":  # weekly means only: each period weighs 1, spread between periods
        w = has.astype(float)
        total = w.sum(-1)
        s = (w * mean).sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cmean = s / total
            between = np.maximum((w * mean ** 2).sum(-1) - s * s / total, 0.0)
            variance = between / np.where(periods > 1, periods - 1, np.nan)
        df = periods - 1.0
    else:
        total = n.sum(-1)
        s = (n * mean).sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cmean = s / total
            between = np.maximum((n * mean ** 2).sum(-1) - s * s / total, 0.0)
            variance = (ss.sum(-1) + between) / np.where(total > 1, total - 1, np.nan)
        df = total - 1.0
    return {"mean": cmean, "n": total, "variance": variance, "df": df, "periods": periods, "weeks": has.sum(-1)}


# One row of `pilots.cells.pilot_cells` for one pilot and metric, as `window_cells` reads it.
CellRow = namedtuple("CellRow", "unit_id block phase n mean variance df sd_known periods weeks")
_FIELDS = ("n", "mean", "variance", "df", "periods", "weeks")


def cell_rows(design: Design, arrays: dict[tuple[int, str], dict]) -> list[list[CellRow]]:
    """Per rep, the rows the app's SQL would return for these cells (a unit-window without data has
    no row)."""
    found = []
    columns = {key: [a[f].tolist() for f in _FIELDS] for key, a in arrays.items()}
    reps, units = next(iter(arrays.values()))["n"].shape
    for r in range(reps):
        rows = []
        for (block, phase), (n, mean, var, df, periods, weeks) in columns.items():
            for u in range(units):
                if weeks[r][u] > 0:
                    rows.append(CellRow(u, block, phase, n[r][u], mean[r][u], var[r][u], df[r][u],
                                        design.sd_known, periods[r][u], weeks[r][u]))
        found.append(rows)
    return found


def rep_cells(design: Design, arrays: dict[tuple[int, str], dict], r: int) -> dict[tuple[int, int, str], Cell]:
    """The cells of one simulated pilot by (unit, block, phase): the app's `window_cells` (honest
    variance, the minimum of answers or periods) on the rows of rep r."""
    return window_cells(cell_rows(design, {k: {f: a[f][r:r + 1] for f in _FIELDS} for k, a in arrays.items()})[0],
                        design.aggregation)


# ---------------------------------------------------------------- one batch of simulated pilots

@dataclass
class Batch:
    """Per rep (arrays over reps; looks along a first axis where there are several)."""

    effect: np.ndarray
    se: np.ndarray
    df: np.ndarray
    low: np.ndarray
    high: np.ndarray
    se_sampling: np.ndarray
    df_sampling: np.ndarray
    answers_only: np.ndarray  # inference == answers only
    controls: np.ndarray
    replicate_df: np.ndarray
    periods: np.ndarray
    harm_p: np.ndarray  # (reps, guardrails) one-sided harm p-values of the guardrails
    clipped: float


def run_batch(design: Design, reps: int, effect: float, rng, looks: bool = False) -> Batch:
    """Simulate `reps` pilots with the given true effect and estimate each through `unit_effect`;
    with `looks`, at the end of every week of the pilot window (first axis: look 1..pilot_weeks)."""
    _, groups = week_groups(design)
    controls = tuple(range(1, design.controls + 1))
    start = design.history_weeks + design.baseline_weeks
    look_weeks = [np.arange(start, start + k) for k in range(1, design.pilot_weeks + 1)] if looks \
        else [groups[(0, "after")]]
    out: dict[str, list] = {k: [] for k in ("effect", "se", "df", "low", "high", "se_sampling", "df_sampling",
                                            "answers_only", "controls", "replicate_df", "periods")}
    harm, clipped = [], []
    for first in range(0, reps, CHUNK):
        size = min(CHUNK, reps - first)
        n, mean, ss, clip = simulate_panel(rng, design, size, effect)
        clipped.append(clip * size)
        fixed = {key: cell_arrays(design, n, mean, ss, idx) for key, idx in groups.items() if key != (0, "after")}
        per_look = [cell_arrays(design, n, mean, ss, idx) for idx in look_weeks]
        guard = []
        for _ in range(design.guardrails):  # independent guardrail metrics, no true effect
            gn, gmean, gss, _ = simulate_panel(rng, design, size, 0.0)
            guard.append({key: cell_arrays(design, gn, gmean, gss, idx) for key, idx in groups.items()})
        fixed_rows = cell_rows(design, fixed)
        look_rows = [cell_rows(design, {(0, "after"): arrays}) for arrays in per_look]
        guard_rows = [cell_rows(design, g) for g in guard]
        rows = []
        for r in range(size):
            rows.append([unit_effect(window_cells(fixed_rows[r] + look[r], design.aggregation), (0,), controls,
                                     design.sd_known) for look in look_rows])
            p = []
            for g in guard_rows:
                e = unit_effect(window_cells(g[r], design.aggregation), (0,), controls, design.sd_known).estimate
                p.append(harm_p_value("higher", float(e.effect), float(e.se), float(e.df), 0.0))
            harm.append(p)
        for k, name in (("effect", "effect"), ("se", "se"), ("df", "df"), ("low", "ci_low"), ("high", "ci_high")):
            out[k].append(np.array([[float(getattr(x.estimate, name)) for x in row] for row in rows]).T)
        out["se_sampling"].append(np.array([[x.se_sampling for x in row] for row in rows]).T)
        out["df_sampling"].append(np.array([[x.df_sampling for x in row] for row in rows]).T)
        out["answers_only"].append(np.array([[x.inference == ANSWERS_ONLY for x in row] for row in rows]).T)
        out["controls"].append(np.array([[x.controls for x in row] for row in rows]).T)
        out["replicate_df"].append(np.array([[x.replicate_df for x in row] for row in rows]).T)
        out["periods"].append(np.array([[x.periods for x in row] for row in rows]).T)
    joined = {k: np.concatenate(v, axis=1) for k, v in out.items()}
    if not looks:
        joined = {k: v[0] for k, v in joined.items()}
    return Batch(**joined, harm_p=np.array(harm, dtype=float).reshape(reps, design.guardrails),
                 clipped=sum(clipped) / reps)


def true_sd(design: Design, reps: int, rng) -> float:
    """The sd of the effect estimator D = change of the pilot unit - mean change of the controls
    under the null, from the cell means alone (vectorised; true mean 0)."""
    squares = 0.0
    for first in range(0, reps, CHUNK):
        size = min(CHUNK, reps - first)
        squares += float(np.sum(effect_from_means(design, *simulate_panel(rng, design, size, 0.0)[:3]) ** 2))
    return math.sqrt(squares / reps)


def effect_from_means(design: Design, n, mean, ss) -> np.ndarray:
    """The effect D of every rep from the cell means of the real windows (what `unit_effect` estimates
    when every unit has data), vectorised."""
    _, groups = week_groups(design)
    change = cell_arrays(design, n, mean, ss, groups[(0, "after")])["mean"] - \
        cell_arrays(design, n, mean, ss, groups[(0, "before")])["mean"]
    return change[:, 0] - change[:, 1:].mean(axis=1)


def planned_target(sd: float, df: float) -> float:
    """The target a pilot is sized for: 80% power of the 5% two-sided t test on df."""
    return float((special.stdtrit(df, 0.975) + special.stdtrit(df, 0.80)) * sd)


# ---------------------------------------------------------------- verdicts and rates

def verdicts(batch: Batch, target: float, *, interim: bool = False, harmed=None, look: int | None = None):
    """The verdict and rule of every rep, by `pilots.rules` (the primary metric oriented 'higher')."""
    pick = (lambda a: a[look]) if look is not None else (lambda a: a)
    signal = rules.primary_signal(pick(batch.effect), pick(batch.low), pick(batch.high), target)
    capped = pick(batch.answers_only) | (pick(batch.controls) == 0)
    harmed = np.zeros(len(signal), dtype=bool) if harmed is None else harmed
    found = [rules.verdict(str(s), interim=interim, harmed=bool(h), capped=bool(c))
             for s, h, c in zip(signal, harmed, capped)]
    return np.array([v for v, _ in found]), np.array([r for _, r in found])


def _holm_harmed(harm_p: np.ndarray) -> np.ndarray:
    return np.array([any(holm(list(p))) for p in harm_p], dtype=bool)


def _uncorrected_harmed(harm_p: np.ndarray) -> np.ndarray:
    return np.array([any(x < ALPHA for x in p) for p in harm_p], dtype=bool)


def simulate_design(design: Design | str, reps: int = DEFAULT_REPS, seed: int = DEFAULT_SEED,
                    sizing_reps: int = DEFAULT_SIZING_REPS) -> list[dict]:
    """Simulate one design; one dict of rates per reported row (two rows for peeking and guardrails)."""
    design = DESIGNS[design] if isinstance(design, str) else design
    sd = true_sd(design, sizing_reps, _rng(seed, design, "sizing"))
    null = run_batch(design, reps, 0.0, _rng(seed, design, "null"), looks=design.peeking)
    final = (lambda a: a[-1]) if design.peeking else (lambda a: a)
    plan_df = float(np.median(final(null.df)))
    target = planned_target(sd, plan_df)
    alt = run_batch(design, reps, target, _rng(seed, design, "target"))

    def share(x) -> float:
        return float(np.mean(x))

    low, high = final(null.low), final(null.high)
    old = t_estimate(final(null.effect), final(null.se_sampling), final(null.df_sampling))
    answers_only = share(final(null.answers_only))
    common = {
        "key": design.key, "design": design.label, "reps": reps, "seed": seed,
        "inference": ("answers only" if answers_only == 1 else "units and earlier periods" if answers_only == 0
                      else f"mixed ({answers_only:.0%} answers only)"),
        "replicate_df": float(np.median(final(null.replicate_df))),
        "controls": design.controls, "periods": float(np.median(final(null.periods))),
        "df": plan_df, "coverage": share((low <= 0) & (0 <= high)),
        "coverage_answers_only": share((old.ci_low <= 0) & (0 <= old.ci_high)),
        "true_sd": sd, "target": target, "mean_se": float(np.mean(final(null.se))),
        "clipped": max(null.clipped, alt.clipped),
    }
    rows = []
    if design.guardrails:
        for name, rule_of in (("Holm", _holm_harmed), ("no correction", _uncorrected_harmed)):
            v0, _ = verdicts(null, target, harmed=rule_of(null.harm_p))
            v1, r1 = verdicts(alt, target, harmed=rule_of(alt.harm_p))
            rows.append({**common, "variant": f"guardrails, {name}",
                         "false_roll_out": share(v0 == rules.ROLL_OUT), "false_stop": share(v1 == rules.STOP),
                         "guardrail_stop": share((v1 == rules.STOP) & (r1 == "guardrail")),
                         "power": share(v1 == rules.ROLL_OUT)})
        return rows
    v1, _ = verdicts(alt, target)
    at_target = {"false_stop": share(v1 == rules.STOP), "power": share(v1 == rules.ROLL_OUT)}
    if design.peeking:
        looks = design.pilot_weeks
        naive = np.zeros(reps, dtype=bool)
        for k in range(looks):
            naive |= verdicts(null, target, look=k)[0] == rules.ROLL_OUT
        ruled = np.zeros(reps, dtype=bool)
        for k in range(looks):  # the product: Interim until the window has ended
            ruled |= verdicts(null, target, look=k, interim=k < looks - 1)[0] == rules.ROLL_OUT
        rows.append({**common, "variant": "verdict at every look (naive)", "false_roll_out": share(naive),
                     "false_stop": math.nan, "power": math.nan})
        rows.append({**common, "variant": "product rule: Interim until the window ends",
                     "false_roll_out": share(ruled), **at_target})
        return rows
    v0, _ = verdicts(null, target)
    rows.append({**common, "variant": "", "false_roll_out": share(v0 == rules.ROLL_OUT), **at_target})
    return rows


# ---------------------------------------------------------------- the table

COLUMNS = ("design", "inference used", "replicates", "coverage (effect 0)", "answers-only coverage",
           "false Roll out", "false Stop (at target)", "power (Roll out at target)", "target τ (true sd)",
           "MC s.e. cov / power")


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f}%"


def _mc(p: float, reps: int) -> str:
    return "—" if p != p else f"±{100 * math.sqrt(p * (1 - p) / reps):.1f}"


def table_rows(results: list[dict]) -> list[tuple[str, ...]]:
    found = []
    for r in results:
        label = r["design"] + (f" — {r['variant']}" if r["variant"] else "")
        if r["inference"] == "answers only":
            replicates = "none (Welch df)"
        else:
            periods = int(r["periods"])
            replicates = f"{int(r['replicate_df'])} df: {r['controls']} control{'s' if r['controls'] != 1 else ''}" + \
                (f", {periods} earlier periods" if periods else "")
        false_stop = _pct(r["false_stop"])
        if "guardrail_stop" in r:
            false_stop += f" (guardrails {_pct(r['guardrail_stop'])})"
        capped = " (capped)" if r["inference"] == "answers only" else ""
        found.append((label, r["inference"], replicates, _pct(r["coverage"]), _pct(r["coverage_answers_only"]),
                      _pct(r["false_roll_out"]) + capped, false_stop, _pct(r["power"]) + capped,
                      f"{r['target']:.3g} ({r['true_sd']:.3g})",
                      f"{_mc(r['coverage'], r['reps'])} / {_mc(r['power'], r['reps'])}"))
    return found


def markdown(results: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    return "\n".join(lines)


def plain(results: list[dict]) -> str:
    rows = [COLUMNS, *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def notes(results: list[dict], reps: int, seed: int, sizing_reps: int, seconds: float) -> str:
    clipped = max((r["clipped"] for r in results), default=0.0)
    return "\n".join([
        f"Seed {seed}, {reps:,} simulated pilots per design and batch (null; effect = target), true sd of the "
        f"estimator from {sizing_reps:,} further draws under the null; {seconds:.0f} s.",
        "Data: 30 answers a week per unit, 12-week baseline, 12-week pilot window; drift = AR(1), phi 0.8, "
        "stationary sd 0.15 answer-sd (0 without drift), plus a common week shock and fixed unit levels; "
        "'1 yr history' = 52 weeks before the baseline (two earlier 24-week periods).",
        "Coverage: share of 95% intervals containing the true effect 0; answers-only coverage: the same for "
        "the interval from the answers alone (sqrt Σ s²/n, Welch df), which ignores drift.",
        "False Roll out: true effect 0, verdict Roll out. False Stop: true effect = target, verdict Stop. "
        "Power: true effect = target τ = (t_df,0.975 + t_df,0.80) × true sd, share of Roll out "
        "(the planner's 80%). Capped: answers-only verdicts are at most Extend.",
        f"Monte-Carlo s.e. of a share p: sqrt(p(1−p)/{reps:,}) (points); the power also carries the error "
        f"of the sized target (relative sd error ≈ {100 / math.sqrt(2 * sizing_reps):.1f}%, "
        f"≈ ±{0.8 * 100 / math.sqrt(2 * sizing_reps):.1f} point of power).",
        f"NPS shifts clipped (no answers left to move): at most {100 * clipped:.2f}% of unit-weeks.",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--sizing-reps", type=int, default=DEFAULT_SIZING_REPS)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--design", action="append", choices=sorted(DESIGNS), help="only these designs")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="designs simulated in parallel (the results do not depend on it)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    keys = args.design or list(DESIGNS)
    # Every design draws from its own streams (seed, design, purpose): the same numbers, in any order.
    with ProcessPoolExecutor(max_workers=args.jobs) if args.jobs > 1 else nullcontext() as pool:
        run = pool.map if pool else map
        found = run(simulate_design, keys, [args.reps] * len(keys), [args.seed] * len(keys),
                    [args.sizing_reps] * len(keys))
        results = []
        for key, rows in zip(keys, found):
            results += rows
            print(f"  {key} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    seconds = time.perf_counter() - started
    print(f"Calibration of the pilot statistics: seed {args.seed}, {args.reps:,} reps per batch\n")
    print(markdown(results) if args.markdown else plain(results))
    print()
    note = notes(results, args.reps, args.seed, args.sizing_reps, seconds)
    print("\n".join(f"- {line}" for line in note.splitlines()) if args.markdown else note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
