"""The verdict rules: what the primary metric's interval, the guardrails and the design checks say
a steering committee should do. Pure and deterministic, so the case (`pilots.analysis`) and the
calibration simulation (`bench/calibration.py`) apply the very same rules.

With g, [g_low, g_high] the oriented effect and 95% interval of the primary metric (positive = good
news; drift included, see `pilots.inference`) and τ = |target|, the first rule that applies decides:
1. The pilot window has not ended                                              → Interim (no Roll out or
   Stop while it runs: looking every week would otherwise multiply false roll-outs).
2. No estimate of the primary metric                                           → Inconclusive.
3. A blocking check (a control unit or guardrail without data, another pilot in
   the units during the windows)                                               → Inconclusive.
4. A guardrail harmed: Holm-corrected one-sided test of harm beyond its margin  → Stop.
5. The primary metric significantly worse (g_high < 0)                          → Stop.
6. Significantly better (g_low > 0) and the target not ruled out (g_high ≥ τ)   → Roll out. This is the
   test the plan is sized for: with a true effect equal to the target and 80% power, 80% Roll out.
7. Significantly better, but the whole interval below the target               → Stop.
8. Not significant and the interval rules the target out (g_high < τ)          → Stop.
9. Not significant, the target still possible                                  → Extend.
10. Not significant and no target set                                          → Inconclusive.
Caps: a verdict resting on an interval that cannot see drift (answers only), or on a before/after
change without control units, is at most Extend: Roll out and Stop from the primary metric become
Extend, with the reason.
"""

from __future__ import annotations

import numpy as np

ROLL_OUT, EXTEND, STOP, INCONCLUSIVE, INTERIM = "Roll out", "Extend", "Stop", "Inconclusive", "Interim"
VERDICTS = (ROLL_OUT, EXTEND, STOP, INCONCLUSIVE, INTERIM)

# What the primary metric's result says, and the verdict it gives when no check overrides it.
SIGNALS = {
    "no_estimate": (INCONCLUSIVE, "there is not enough data to estimate the effect"),
    "worse": (STOP, "it got significantly worse"),
    "meets_target": (ROLL_OUT, "it improved significantly and by at least the target"),
    "below_target": (ROLL_OUT, "it improved significantly; the estimate is below the target, but the target "
                               "is still inside the 95% interval"),
    "misses_target": (STOP, "it improved, but the whole 95% interval lies below the target"),
    "target_ruled_out": (STOP, "the change is not significant and the 95% interval rules out the target"),
    "unclear": (EXTEND, "the change is not significant yet and the target is still possible: more data are "
                        "needed"),
    "unclear_no_target": (INCONCLUSIVE, "the change is not significant and no target is set"),
}


def primary_signal(g, g_low, g_high, target) -> np.ndarray:
    """Which of SIGNALS the oriented effect and interval of a primary metric give (vectorised)."""
    g, g_low, g_high = (np.asarray(a, dtype=float) for a in (g, g_low, g_high))
    tau = np.abs(np.asarray(np.nan if target is None else target, dtype=float))
    has_target = ~np.isnan(tau)
    with np.errstate(invalid="ignore"):
        conditions = [np.isnan(g) | np.isnan(g_low) | np.isnan(g_high), g_high < 0,
                      (g_low > 0) & (~has_target | (g >= tau)), (g_low > 0) & (g_high >= tau),
                      (g_low > 0) & (g_high < tau), g_high < tau, has_target]
    return np.select(conditions, ["no_estimate", "worse", "meets_target", "below_target", "misses_target",
                                  "target_ruled_out", "unclear"], "unclear_no_target")


def verdict(signal: str, *, interim: bool = False, blocking: bool = False, harmed: bool = False,
            capped: bool = False) -> tuple[str, str]:
    """The verdict and which rule gave it: 'interim', 'no_estimate', 'blocking', 'guardrail',
    'capped' or the signal itself."""
    if interim:
        return INTERIM, "interim"
    if signal == "no_estimate":
        return INCONCLUSIVE, "no_estimate"
    if blocking:
        return INCONCLUSIVE, "blocking"
    found = STOP if harmed else SIGNALS[signal][0]
    if capped and found in (ROLL_OUT, STOP):
        return EXTEND, "capped"
    return found, "guardrail" if harmed else signal
