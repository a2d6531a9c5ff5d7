"""What the pages that show results share (Pilot, Portfolio, Unit, Present): the case of a pilot,
cached until the data change, the verdict's colour and short words, and numbers written the way a
steering committee reads them. Rendering only: the numbers come from `pilots.analysis`."""

from __future__ import annotations

import math

import streamlit as st

from pilots import analysis, cells
from pilots.access import Actor
from pilots.db import Database

# Streamlit's named colours; the verdict is always written out too, so colour is never the only cue.
VERDICT_COLOURS = {"Roll out": "green", "Extend": "blue", "Stop": "red", "Inconclusive": "gray"}
VERDICT_ICONS = {"Roll out": ":material/rocket_launch:", "Extend": ":material/more_time:",
                 "Stop": ":material/block:", "Inconclusive": ":material/help:"}
SEVERITY = {  # how a check is shown, most serious first
    "blocking": (":material/block:", "Design problem: no verdict can rest on this data"),
    "stop": (":material/dangerous:", "Guardrail harmed"),
    "caution": (":material/warning:", "Caution"),
}
GRADES = {analysis.RANDOMISED: "Randomised", analysis.CONTROLLED: "Controlled", analysis.BEFORE_AFTER: "Before/after"}
SIGNAL_WORDS = {
    "no_estimate": "not enough data", "worse": "significantly worse", "meets_target": "significant, meets target",
    "misses_target": "significant, but below target", "below_target": "significant, target still open",
    "target_ruled_out": "target ruled out", "unclear": "not significant yet", "unclear_no_target": "no target set",
}


def _key(db: Database, actor: Actor) -> tuple:
    # Cached results are computed once per state of the data (cells.data_version changes with every
    # write) and per actor, so pages that list many verdicts stay quick.
    return str(db.path), cells.data_version(db), actor.email, actor.role, tuple(sorted(actor.unit_ids))


def _actor(email: str, role: str, unit_ids: tuple[int, ...]) -> Actor:
    return Actor(email, role, frozenset(unit_ids))


@st.cache_data(show_spinner=False, max_entries=512)
def _case(path: str, version: tuple, email: str, role: str, unit_ids: tuple[int, ...],
          pilot_id: int) -> analysis.PilotCase:
    return analysis.analyze_pilot(Database(path), _actor(email, role, unit_ids), pilot_id)


def pilot_case(db: Database, actor: Actor, pilot_id: int) -> analysis.PilotCase:
    """analysis.analyze_pilot, cached until the data change."""
    return _case(*_key(db, actor), pilot_id)


def verdict_label(verdict: str) -> str:
    """The verdict as coloured Markdown text, e.g. for a heading."""
    return f":{VERDICT_COLOURS[verdict]}-background[{verdict}]"


def why_short(case: analysis.PilotCase) -> str:
    """A few words under the verdict: what overrode the primary metric's result, or that result."""
    severities = {c.severity for c in case.checks}
    if case.primary.signal != "no_estimate" and "blocking" in severities:
        return "design compromised"
    if "stop" in severities:
        return "a guardrail was harmed"
    return SIGNAL_WORDS[case.primary.signal]


def number(x: float | None, signed: bool = False) -> str:
    """Two decimals from 1 up, three significant below (shares and rates), '—' for no number."""
    if x is None or not math.isfinite(x):
        return "—"
    sign = "+" if signed else ""
    text = f"{x:{sign},.2f}" if abs(x) >= 1 else f"{x:{sign}.3g}"
    return text.replace("-", "−")


def money(x: float | None) -> str:
    """Currency a year in thousands, millions or billions (the assumptions carry no currency)."""
    if x is None or not math.isfinite(x):
        return "—"
    for size, suffix in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if abs(x) >= size:
            return f"{x / size:,.1f}{suffix}".replace("-", "−")
    return f"{x:,.0f}".replace("-", "−")


def change_words(direction: str, oriented: float, unit: str) -> str:
    """An oriented change (positive = good news) in the metric's own words: 'a fall of 2.03 days'."""
    rises = (oriented >= 0) == (direction == "higher")
    return f"a {'rise' if rises else 'fall'} of {number(abs(oriented))} {unit}".rstrip()


def target_words(direction: str, target: float | None, unit: str) -> str:
    """A target (a magnitude in the good direction) in words."""
    return "no target set" if target is None else change_words(direction, abs(target), unit)
