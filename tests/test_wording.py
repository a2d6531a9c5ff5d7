"""One truth on every surface: for a set of pilot states (decided with the evidence agreeing, decided
with the evidence since differing, no verdict while the design is compromised, interim, a plan) the
pilot page, the portfolio, the unit page, the slides, the PowerPoint and PDF decks and the command
line all lead with the same words, from pilots.wording."""

import io

import pytest
from pptx import Presentation
from pypdf import PdfReader

from apptests import open_page, read
from pilots import analysis, export, slides, store, wording
from pilots.access import COMMAND_LINE
from pilots.cli import main

STATES = {  # demo pilot -> what it leads with
    "Digital claim status tracker": ("Roll out", True, None),
    "In-store greeter programme": ("Stop", True, "evidence since: Extend"),
    "Plain-language claim letters": ("Inconclusive", False, None),
    "Claims triage assistant": ("Interim", False, None),
    "Technician arrival tracking": ("Plan", False, None),
}


def case_named(db, name):
    pilot = next(p for p in store.list_pilots(db, COMMAND_LINE) if p.name == name)
    return pilot, analysis.analyze_pilot(db, COMMAND_LINE, pilot.pilot_id)


def deck_text(data: bytes, fmt: str) -> str:
    if fmt == "pdf":
        return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    deck = Presentation(io.BytesIO(data))
    return " ".join(shape.text_frame.text for slide in deck.slides for shape in slide.shapes if shape.has_text_frame)


@pytest.mark.parametrize("name", list(STATES))
def test_every_surface_leads_with_the_same_words(demo_org, name):
    pilot, case = case_named(demo_org, name)
    status = wording.state(case)
    assert (status.label, status.decided, status.evidence) == STATES[name]

    page = open_page("pilot", "editor", id=str(pilot.pilot_id))
    assert {m.label: m.value for m in page.metric}["Decision" if status.decided else "Verdict"] == status.label
    assert status.badge in " ".join(m.value for m in page.markdown)

    portfolio = open_page("portfolio", "editor")
    assert any(read(link.proto.label) == f"{pilot.name} — {pilot.unit_name} · {status.label}"
               for link in portfolio.get("page_link"))
    unit = open_page("unit", "editor", unit=str(pilot.unit_id))
    assert status.badge in [m.value for m in unit.markdown]

    deck = slides.pilot_slides(demo_org, COMMAND_LINE, pilot.pilot_id)
    numbers = {label: (value, detail) for label, value, detail in deck[1].numbers}
    label, detail = numbers["Decision" if status.decided else "Verdict"]
    assert label == status.label and detail.startswith(status.headline)
    assert status.headline not in deck[1].message, "the headline's message adds to its figures, not repeats them"
    for fmt in ("pptx", "pdf"):
        assert status.headline in deck_text(export.export_pilot(demo_org, COMMAND_LINE, pilot.pilot_id, fmt), fmt)

    out = io.StringIO()
    assert main(["--db", str(demo_org.path), "analyze", str(pilot.pilot_id)], out=out, err=io.StringIO()) == 0
    assert f"Verdict: {case.verdict}" in out.getvalue()
    if status.decided:
        assert f"Decision: {pilot.decision.replace('_', ' ')}" in out.getvalue()


def test_the_portfolio_value_counts_what_leads_with_roll_out(demo):
    frame = slides.portfolio_frame(demo, COMMAND_LINE)
    cases = {c.pilot_id: c for c in analysis.analyze_pilots(demo, COMMAND_LINE)}
    for row in frame.itertuples(index=False):
        assert row.state == wording.state(cases[row.pilot_id]).label
    greeter = frame[frame["pilot"] == "In-store greeter programme"].iloc[0]
    assert (greeter.state, greeter.verdict) == ("Stop", "Extend")  # the decision leads, the evidence beside it
    deck = slides.portfolio_slides(demo, COMMAND_LINE)
    worth = next(s for s in deck if s.title == "What rolling out is worth")
    winners = frame[(frame["state"] == "Roll out") & frame["value"].notna()]
    assert f"Rolling out the {len(winners)} pilots" in worth.message
