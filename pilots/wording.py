"""How a pilot's state is put in words for people: the reason under a verdict, short (a badge on a
page) or as a phrase (a slide). Pages, slides and decks ask here, so the same pilot reads the same
everywhere."""

from __future__ import annotations

from .analysis import MetricResult, PilotCase
from .rules import SIGNALS

# A few words per signal of the primary metric, for badges.
SIGNAL_WORDS = {
    "no_estimate": "not enough data", "worse": "significantly worse", "meets_target": "significant, meets target",
    "misses_target": "significant, but below target", "below_target": "significant, target within reach",
    "target_ruled_out": "target ruled out", "unclear": "not significant yet", "unclear_no_target": "no target set",
}

# What overrode the primary metric's result, by the rule that gave the verdict: (short, phrase).
_RULE_WORDS = {
    "blocking": ("design compromised", "the design is compromised, so the data cannot carry a verdict (see the checks)"),
    "guardrail": ("a guardrail was harmed", "a guardrail metric got worse beyond its margin"),
    "capped": ("capped: drift not measurable", "the evidence cannot tell the pilot's effect from the units' own drift, "
                                               "so it is capped at Extend"),
}


def why(case: PilotCase, short: bool = False) -> str:
    """The deciding reason: the primary metric's signal unless a rule overrode it."""
    if case.rule == "interim":
        return f"interim, {case.interim}" if short else f"interim result, {case.interim}: no verdict before the window ends"
    if case.rule in _RULE_WORDS:
        return _RULE_WORDS[case.rule][0 if short else 1]
    signal = case.primary.signal
    return SIGNAL_WORDS[signal] if short else SIGNALS[signal][1]


def interval_basis(result: MetricResult) -> str:
    """What the 95% interval of a metric allows for, in a few words."""
    return ("allowing for how much units drift on their own" if result.drift_aware
            else "from the answers alone: the units' own drift could not be measured")


def drift_words(result: MetricResult) -> str:
    """The statistician's detail of a drift-aware interval, in one sentence (empty when answers only)."""
    if not result.drift_aware:
        return ""
    return (f"Without any pilot, a unit's change between two windows like these differs from the others' by about "
            f"{_num(result.drift_sd)} {result.unit} beyond sampling; the standard error of the effect is "
            f"{_num(result.se)} {result.unit}, against {_num(result.se_sampling)} from the answers alone "
            f"({result.controls_used} control units, {result.placebo_periods} earlier periods, "
            f"{result.replicate_df} degrees of freedom).")


def _num(x: float) -> str:
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.3g}"
