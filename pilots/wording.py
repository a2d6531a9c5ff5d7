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


def twin_words(twin, unit: str) -> str:
    """The synthetic twin's recipe as a sentence ('The synthetic twin of Retail is 60% Online + 40% Claims')."""
    parts = [f"{weight:.0%} {name}" for name, weight in sorted(twin.weights.items(), key=lambda kv: -kv[1])
             if weight >= 0.005]
    return (f"The synthetic twin of {unit} is {' + '.join(parts)}: the blend of control units that tracked it most "
            "closely through the baseline, carried on as what it would have done without the pilot.")


def placebo_words(twin, unit: str, metric_unit: str, short: bool = False) -> str:
    """The placebo-in-space test in plain words, with what so few units cost."""
    chance = twin.placebo_rank / twin.placebo_units
    if short:
        return (f"Its departure from the twin ranks {twin.placebo_rank} of {twin.placebo_units} among units refitted "
                f"as if piloted (about {chance:.0%} by chance).")
    return (f"Against its twin, {unit} moved {_num(twin.effect)} {metric_unit} in the pilot window. Refitting every "
            f"control unit as if it had been piloted, the departure of {unit} ranks {twin.placebo_rank} of "
            f"{twin.placebo_units}: a departure this large shows up about {chance:.0%} of the time by chance. With "
            f"{twin.placebo_units} units the smallest possible chance is 1 in {twin.placebo_units}.")
