"""How a pilot's state is put in words and colours for people: what leads (the committee's decision
once taken, else the evidence's verdict, a plan before the pilot runs), the reason in a few words
(a badge) or a phrase (a slide), and the statistician's detail. Pages, slides, decks and the
command line ask here, so the same pilot reads the same everywhere."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .analysis import MetricResult, PilotCase
from .formats import amount, number
from .rollouts import FADING, HOLDING, NOT_REPRODUCED, PILOT_WAVE, TOO_EARLY, RolloutEvaluation, WaveEffect
from .rules import EXTEND, INCONCLUSIVE, INTERIM, ROLL_OUT, SIGNALS, STOP

PLAN = "Plan"
DECISION_LABELS = {"roll_out": ROLL_OUT, "extend": EXTEND, "stop": STOP}
# Streamlit's named colours and Material icons per label; the label is always written too, so colour
# is never the only cue.
COLOURS = {ROLL_OUT: "green", EXTEND: "blue", STOP: "red", INCONCLUSIVE: "gray", INTERIM: "violet", PLAN: "gray"}
ICONS = {ROLL_OUT: ":material/rocket_launch:", EXTEND: ":material/more_time:", STOP: ":material/block:",
         INCONCLUSIVE: ":material/help:", INTERIM: ":material/hourglass_top:", PLAN: ":material/event:"}
# After a rollout: did the effect hold in the waves (pilots.rollouts)?
ROLLOUT_COLOURS = {HOLDING: "green", FADING: "orange", NOT_REPRODUCED: "red", TOO_EARLY: "gray", PILOT_WAVE: "blue"}
ROLLOUT_WORDS = {
    HOLDING: "the effect held where it was rolled out",
    FADING: "the effect is smaller where it was rolled out, or shrinking: needs a look",
    NOT_REPRODUCED: "no clear improvement where it was rolled out",
    TOO_EARLY: "too early to tell whether the effect held (eight weeks of data per wave are needed)",
}


@dataclass(frozen=True)
class State:
    """What a pilot's state leads with, on every surface."""

    label: str  # Roll out, Extend, Stop, Inconclusive, Interim or Plan
    headline: str  # "Decided: Stop, 15 Dec 2025", "Roll out", "Interim, week 5 of 12", "Plan: starts 29 Mar 2027"
    why: str  # a few words under it
    evidence: str | None  # "evidence since: Roll out", when a decision and today's evidence differ
    decided: bool

    @property
    def colour(self) -> str:
        return COLOURS[self.label]

    @property
    def icon(self) -> str:
        return ICONS[self.label]

    @property
    def badge(self) -> str:
        """The label as coloured Markdown (our own words only, never user text)."""
        return f":{self.colour}-background[{self.label}]"

    rollout: str | None = None  # once rolled out: Holding, Fading, Not reproduced or Too early


def state(case: PilotCase) -> State:
    """A decided pilot leads with the decision and its date, today's evidence beside it when it
    differs; a pilot whose window has not started shows its plan; otherwise the evidence's verdict."""
    if case.decision in DECISION_LABELS:
        label = DECISION_LABELS[case.decision]
        when = f", {case.decided_on:%d %b %Y}" if isinstance(case.decided_on, dt.date) else ""
        rolled = " (rolled out)" if case.status == "rolled_out" else ""
        evidence = None if case.verdict == label else f"evidence since: {case.verdict}"
        held = case.rollout.verdict if case.rollout is not None else None
        return State(label, f"Decided: {label}{when}{rolled}" + (f" · rollout: {held}" if held else ""),
                     f"decided{when}".replace(", ", " "), evidence, True, held)
    if not case.started:
        return State(PLAN, f"Plan: the pilot window starts {case.pilot_window[0]:%d %b %Y}",
                     "no result before the pilot runs", None, False)
    headline = f"{INTERIM}, {case.interim}" if case.verdict == INTERIM else case.verdict
    return State(case.verdict, headline, why(case, short=True), None, False)

# A few words per signal of the primary metric, for badges.
SIGNAL_WORDS = {
    "no_estimate": "not enough data", "worse": "significantly worse", "meets_target": "significant, meets target",
    "misses_target": "significant, but below target", "below_target": "significant, target within reach",
    "target_ruled_out": "target ruled out", "unclear": "not significant yet", "unclear_no_target": "no target set",
}

# What overrode the primary metric's result, by the rule that gave the verdict: (short, phrase).
_RULE_WORDS = {
    "blocking": ("design compromised",
                 "the design is compromised, so the data cannot carry a verdict (see the checks)"),
    "guardrail": ("a guardrail was harmed", "a guardrail metric got worse beyond its margin"),
    "capped": ("capped: drift not measurable", "the evidence cannot tell the pilot's effect from the units' own drift, "
                                               "so it is capped at Extend"),
    "capped_no_controls": ("capped: no control units", "without control units the change cannot be told from whatever "
                                                       "else changed, so it is capped at Extend"),
}


def why(case: PilotCase, short: bool = False) -> str:
    """The deciding reason: the primary metric's signal unless a rule overrode it."""
    if case.rule == "interim":
        return (f"interim, {case.interim}" if short
                else f"interim result, {case.interim}: no verdict before the window ends")
    if case.rule in _RULE_WORDS:
        rule = "capped_no_controls" if case.rule == "capped" and case.primary.controls_used == 0 else case.rule
        return _RULE_WORDS[rule][0 if short else 1]
    signal = case.primary.signal
    return SIGNAL_WORDS[signal] if short else SIGNALS[signal][1]


def change_words(direction: str, oriented: float, unit: str, aggregation: str | None = None) -> str:
    """An oriented change (positive = good news) in the metric's own words: 'a fall of 2.03 days',
    shares in percentage points."""
    rises = (oriented >= 0) == (direction == "higher")
    return f"a {'rise' if rises else 'fall'} of {amount(abs(oriented), unit, aggregation)}"


def target_words(direction: str, target: float | None, unit: str, aggregation: str | None = None) -> str:
    """A target (a magnitude in the good direction) in words."""
    return "no target set" if target is None else change_words(direction, abs(target), unit, aggregation)


def likely(case: PilotCase, basis: bool = True) -> str:
    """The primary effect's 95% interval in a steering committee's words, against its target: 'The
    gain in Resolution time is most likely between 0.878 and 1.66 days (95% interval, allowing for
    how much units drift on their own), against a target of a fall of 1.00 days.' An interim result
    reads "So far, …" (its week is on the badge beside it); `basis` adds what the interval allows for.
    Empty without an estimate."""
    m = case.primary
    if not m.has_estimate:
        return ""
    _, low, high = m.oriented
    if low > 0 or high < 0:
        near, far = (low, high) if low > 0 else (high, low)
        span = (f"the {'gain' if low > 0 else 'loss'} in {m.label} is most likely between "
                f"{amount(abs(near), m.unit, m.aggregation).split(' ')[0]} and "
                f"{amount(abs(far), m.unit, m.aggregation)}")
    else:
        span = (f"the change in {m.label} is most likely between "
                f"{change_words(m.direction, low, m.unit, m.aggregation)} and "
                f"{change_words(m.direction, high, m.unit, m.aggregation)}, so it could be none at all")
    said = f"So far, {span}" if case.interim else span[0].upper() + span[1:]
    allowing = f" (95% interval, {interval_basis(m)})" if basis else ""
    return f"{said}{allowing}, against a target of {target_words(m.direction, m.target, m.unit, m.aggregation)}."


def interval_basis(result: MetricResult) -> str:
    """What the 95% interval of a metric allows for, in a few words."""
    return ("allowing for how much units drift on their own" if result.drift_aware
            else "from the answers alone: the units' own drift could not be measured")


def drift_words(result: MetricResult) -> str:
    """The statistician's detail of a drift-aware interval, in one sentence (empty when answers only)."""
    if not result.drift_aware:
        return ""
    return (f"Without any pilot, a unit's change between two windows like these differs from the others' by about "
            f"{number(result.drift_sd)} {result.unit} beyond sampling; the standard error of the effect is "
            f"{number(result.se)} {result.unit}, against {number(result.se_sampling)} from the answers alone "
            f"({result.controls_used} control units, {result.placebo_periods} earlier periods, "
            f"{result.replicate_df} degrees of freedom).")


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
    return (f"Against its twin, {unit} moved {number(twin.effect)} {metric_unit} in the pilot window. Refitting every "
            f"control unit as if it had been piloted, the departure of {unit} ranks {twin.placebo_rank} of "
            f"{twin.placebo_units}: a departure this large shows up about {chance:.0%} of the time by chance. With "
            f"{twin.placebo_units} units the smallest possible chance is 1 in {twin.placebo_units}.")


def rollout_badge(verdict: str) -> str:
    """A rollout verdict as coloured Markdown (our own words only)."""
    return f":{ROLLOUT_COLOURS[verdict]}-background[Rollout: {verdict}]"


def rollout_sentence(found: RolloutEvaluation, label: str, unit: str, aggregation: str | None = None) -> str:
    """The rollout's verdict as a steering committee reads it, with each wave's effect against the pilot's."""
    pilot, waves = found.waves[0], found.waves[1:]
    parts = [f"{w.label} ({', '.join(w.units)}, live from {w.start:%d %b %Y}): {w.state.lower()}, "
             f"{wave_effect_words(w, unit, aggregation)}" for w in waves]
    return (f"{found.verdict}: {ROLLOUT_WORDS[found.verdict]}. In the pilot, {label} moved "
            f"{wave_effect_words(pilot, unit, aggregation)}. " + "; ".join(parts) + ".")


def wave_effect_words(wave: WaveEffect, unit: str, aggregation: str | None = None) -> str:
    """'+6.7 points (2.6 to 10.8)', or why there is no figure yet."""
    if wave.effect != wave.effect:
        return wave.reason
    interval = (f" ({amount(wave.ci_low, unit, aggregation).split(' ')[0]} to {amount(wave.ci_high, unit, aggregation)})"
                if wave.ci_low == wave.ci_low else "")
    sign = "+" if wave.effect > 0 else ""
    return f"{sign}{amount(wave.effect, unit, aggregation)}{interval}"


def needs_a_look(case: PilotCase) -> list[str]:
    """One line per rollout wave whose effect fell below the pilot's interval (monitoring)."""
    if case.rollout is None:
        return []
    return [f"{case.pilot}: {w.label} ({', '.join(w.units)}) {w.reason}" for w in case.rollout.needs_a_look]
