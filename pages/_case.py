"""What the pages that show results share (Pilot, Portfolio, Unit, Present): the verdict's colour
and short words, and numbers written the way a steering committee reads them. Rendering only: the
numbers come from `pilots.analysis`."""

from __future__ import annotations


from pilots import analysis, formats, org, wording

VERDICT_COLOURS = wording.COLOURS  # one source: pilots.wording
SEVERITY = {  # how a check is shown, most serious first
    "blocking": (":material/block:", "Design problem: no verdict can rest on this data"),
    "stop": (":material/dangerous:", "Guardrail harmed"),
    "caution": (":material/warning:", "Caution"),
}
GRADES = {analysis.RANDOMISED: "Randomised", analysis.CONTROLLED: "Controlled", analysis.BEFORE_AFTER: "Before/after"}


number = formats.number  # one way to write numbers: pilots.formats


def money(x: float | None, settings: org.OrgSettings | None = None) -> str:
    """Money in the organisation's currency (pilots.org.format_money): one way everywhere."""
    return org.format_money(x, settings)


def change_words(direction: str, oriented: float, unit: str, aggregation: str | None = None) -> str:
    """An oriented change (positive = good news) in the metric's own words: 'a fall of 2.03 days',
    shares in percentage points."""
    rises = (oriented >= 0) == (direction == "higher")
    return f"a {'rise' if rises else 'fall'} of {formats.amount(abs(oriented), unit, aggregation)}"


def target_words(direction: str, target: float | None, unit: str, aggregation: str | None = None) -> str:
    """A target (a magnitude in the good direction) in words."""
    return "no target set" if target is None else change_words(direction, abs(target), unit, aggregation)
