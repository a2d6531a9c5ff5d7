"""What the pages that show results share (Pilot, Portfolio, Unit, Present): the verdict's colour
and short words, and numbers written the way a steering committee reads them. Rendering only: the
numbers come from `pilots.analysis`."""

from __future__ import annotations

from pilots import formats, org, results, wording

VERDICT_COLOURS = wording.COLOURS  # one source: pilots.wording
SEVERITY = {  # how a check is shown, most serious first
    "blocking": (":material/block:", "Design problem: no verdict can rest on this data"),
    "stop": (":material/dangerous:", "Guardrail harmed"),
    "caution": (":material/warning:", "Caution"),
}
GRADES = {results.RANDOMISED: "Randomised", results.CONTROLLED: "Controlled", results.BEFORE_AFTER: "Before/after"}


number = formats.number  # one way to write numbers: pilots.formats


def money(x: float | None, settings: org.OrgSettings | None = None) -> str:
    """Money in the organisation's currency (pilots.org.format_money): one way everywhere."""
    return org.format_money(x, settings)
