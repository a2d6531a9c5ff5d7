"""Calibration of rollout waves (`pilots.rollouts`): seeded simulations of a pilot rolled out in one
wave to two units, against four units without the change, on units whose level drifts (AR(1), phi
0.8) beside a common weekly shock and sampling noise, run through `rollouts.evaluate` as the app
runs it. Printed as one table:

    python bench/rollout_calibration.py [--reps 1000] [--seed 20261202] [--markdown]

- coverage: share of the wave's 95% intervals that contain its true effect;
- Holding / Fading / Not reproduced: shares of the rollout's verdict, for a wave with no effect
  (false Holding), half the pilot's effect, and the pilot's whole effect (power);
- the pilot's own effect is 8 (interval 4 to 12), the weekly sampling noise sd 2, the drift's
  stationary sd 3; 140 weeks, the pilot live at week 60, the wave at week 100.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pilots import rollouts  # noqa: E402
from pilots.model import Metric, Pilot, RolloutWave  # noqa: E402
from pilots.results import MetricResult  # noqa: E402

NPS = Metric("nps", "Net Promoter Score", "points", "higher", "nps", -100, 100)
DAYS = Metric("resolution_days", "Resolution time", "days", "lower", "mean", 0, None)
MONDAY = dt.date(2024, 1, 1)
PILOT_WEEK, WAVE_WEEK, WEEKS = 60, 100, 140
PILOT_UNIT, WAVE_UNITS, COMPARISON = 1, (2, 3), (4, 5, 6, 7)
NAMES = {u: f"Unit {u}" for u in (PILOT_UNIT, *WAVE_UNITS, *COMPARISON)}


def week(i: int) -> dt.date:
    return MONDAY + dt.timedelta(weeks=i)


def pilot_and_waves(wave_week: int = WAVE_WEEK) -> tuple[Pilot, list[RolloutWave]]:
    pilot = Pilot(1, "Callback", PILOT_UNIT, NAMES[PILOT_UNIT], week(PILOT_WEEK - 12), week(PILOT_WEEK) - dt.timedelta(1),
                  week(PILOT_WEEK), week(PILOT_WEEK + 12) - dt.timedelta(1), "nps", status="rolled_out",
                  decision="roll_out")
    return pilot, [RolloutWave(week(wave_week), WAVE_UNITS, tuple(NAMES[u] for u in WAVE_UNITS))]


def pilot_result(effect: float, low: float, high: float, metric: Metric = NPS) -> MetricResult:
    """The pilot's own result as its case gives it (only the fields the rollout reads matter)."""
    return MetricResult(effect, (high - low) / 3.92, 10.0, low, high, 0.01, math.nan, metric=metric.key,
                        label=metric.label, unit=metric.unit, role="primary", direction=metric.direction,
                        aggregation=metric.aggregation, treated_before=None, treated_after=None,
                        control_before=None, control_after=None, method="", evidence_grade="")


def simulate(rng: np.random.Generator, pilot_effect: float, wave_effect, phi: float = 0.8, drift_sd: float = 3.0,
             noise_sd: float = 2.0, weeks: int = WEEKS, wave_week: int = WAVE_WEEK) -> pd.DataFrame:
    """Weekly values of every unit: level + AR(1) drift + a common week shock + sampling noise, plus
    the pilot's effect from its go-live and the wave's (a number, or a function of weeks since
    go-live) from the wave's go-live."""
    units = [PILOT_UNIT, *WAVE_UNITS, *COMPARISON]
    drift = np.zeros((len(units), weeks))
    drift[:, 0] = rng.normal(0, drift_sd, len(units))
    for t in range(1, weeks):
        drift[:, t] = phi * drift[:, t - 1] + rng.normal(0, drift_sd * math.sqrt(1 - phi ** 2), len(units))
    values = 30 + rng.normal(0, 10, (len(units), 1)) + drift + rng.normal(0, 3, weeks)[None, :] \
        + rng.normal(0, noise_sd, (len(units), weeks))
    values[0, PILOT_WEEK:] += pilot_effect
    since = np.arange(weeks) - wave_week
    lift = np.array([wave_effect(s) if callable(wave_effect) else wave_effect for s in since])
    for i in (1, 2):
        values[i, wave_week:] += lift[wave_week:]
    return pd.DataFrame([{"unit_id": u, "week": pd.Timestamp(week(t)), "value": values[i, t], "n": 400}
                         for i, u in enumerate(units) for t in range(weeks)])


def run(frame: pd.DataFrame, pilot_effect=(8.0, 4.0, 12.0), wave_week: int = WAVE_WEEK, metric: Metric = NPS):
    pilot, waves = pilot_and_waves(wave_week)
    effect, low, high = pilot_effect
    return rollouts.evaluate(pilot, metric, pilot_result(effect, low, high, metric), waves, frame, list(COMPARISON),
                             NAMES)



SETTINGS = (("no effect in the wave", 0.0), ("half the pilot's effect", 4.0), ("the pilot's effect", 8.0))


def calibrate(reps: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for name, effect in SETTINGS:
        found = [run(simulate(rng, 8.0, effect)) for _ in range(reps)]
        waves = [f.waves[1] for f in found]
        rows.append({"wave": name, "true effect": effect,
                     "coverage": np.mean([w.ci_low <= effect <= w.ci_high for w in waves]),
                     **{verdict: np.mean([f.verdict == verdict for f in found])
                        for verdict in (rollouts.HOLDING, rollouts.FADING, rollouts.NOT_REPRODUCED)},
                     "df": float(np.mean([w.df for w in waves])),
                     "mc_se": math.sqrt(0.25 / reps)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    rows = calibrate(args.reps, args.seed)
    header = ["wave", "true effect", "coverage", "Holding", "Fading", "Not reproduced", "df", "MC s.e. (at most)"]
    lines = [[r["wave"], f"{r['true effect']:g}", f"{r['coverage']:.1%}", f"{r[rollouts.HOLDING]:.1%}",
              f"{r[rollouts.FADING]:.1%}", f"{r[rollouts.NOT_REPRODUCED]:.1%}", f"{r['df']:.0f}",
              f"±{r['mc_se']:.1%}"] for r in rows]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        for line in [header, *lines]:
            print("  ".join(f"{cell:>22}" for cell in line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
