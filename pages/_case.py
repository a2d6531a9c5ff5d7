"""What the pages that show results share (Pilot, Portfolio, Unit, Present): the verdict's colour
and short words, and numbers written the way a steering committee reads them. Rendering only: the
numbers come from `pilots.analysis`."""

from __future__ import annotations

import math

from pilots import analysis, wording

VERDICT_COLOURS = wording.COLOURS  # one source: pilots.wording
SEVERITY = {  # how a check is shown, most serious first
    "blocking": (":material/block:", "Design problem: no verdict can rest on this data"),
    "stop": (":material/dangerous:", "Guardrail harmed"),
    "caution": (":material/warning:", "Caution"),
}
GRADES = {analysis.RANDOMISED: "Randomised", analysis.CONTROLLED: "Controlled", analysis.BEFORE_AFTER: "Before/after"}


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
