"""The slide model: the slides of a pilot's case and of the portfolio, their messages against the
analysis, charts at slide size, and what a unit head may not see."""

import pytest
import vl_convert

from pilots import analysis, formats, org, slides, store, wording
from pilots.access import COMMAND_LINE, AccessDenied, Actor


def test_pilot_slides_tell_the_case_in_order(demo):
    deck = slides.pilot_slides(demo, COMMAND_LINE, 1)
    case = analysis.analyze_pilot(demo, COMMAND_LINE, 1)
    pilot = store.get_pilot(demo, COMMAND_LINE, 1)
    assert [s.title for s in deck] == [
        pilot.name, "The case in numbers", "Net Promoter Score week by week", "Before and after",
        "Every metric against its target", "What rolling out is worth", "Did the effect hold?",
        "Decision and reasons", "Appendix: method", "Appendix: checks", "Appendix: data coverage"]
    assert [s.kind for s in deck] == [slides.TITLE, slides.NUMBERS] + [slides.CHART] * 5 + [slides.TEXT] \
        + [slides.APPENDIX] * 3
    for slide in deck:
        assert slide.message.strip()
        if slide.chart is not None:
            spec = slide.chart.to_dict()  # valid Vega-Lite
            assert spec["config"]["axis"]["labelFontSize"] == slides.SLIDE_BASE_SIZE
    numbers = {label: (value, detail) for label, value, detail in deck[1].numbers}
    status = wording.state(case)  # decided: the decision leads, on the page as on the slide
    assert numbers["Decision"] == (status.label, status.headline) and status.headline.startswith("Decided: Roll out")
    assert numbers["Effect on Net Promoter Score"][0] == f"+{formats.number(case.primary.effect)} points"
    assert f"{formats.number(case.primary.ci_low)} to {formats.number(case.primary.ci_high)}" \
        in numbers["Effect on Net Promoter Score"][1]
    assert numbers["Rollout value a year"][0] == org.format_money(case.rollout_value.total, org.org_settings(demo))
    assert len(deck[1].bullets) == len(deck[1].numbers)
    held = deck[6]  # rolled out in waves: whether the effect held, in the rollout's own words
    assert held.message.startswith(f"{case.rollout.verdict}: ") and status.rollout == case.rollout.verdict
    assert held.bullets == [f"Needs a look: {line}" for line in wording.needs_a_look(case)] + [
        f"{w.label} ({', '.join(w.units)}): {w.state}, {w.reason}" for w in case.rollout.waves[1:]]
    assert case.rollout.needs_a_look, "the demo's second wave is fading"
    decision = deck[7]
    assert decision.message.startswith("Decided: Roll out")
    assert pilot.decision_rationale in decision.bullets[0]
    assert decision.bullets[1:] == list(case.reasons)
    assert [b.split(": ", 1)[1] for b in deck[9].bullets] == [c.message for c in case.checks]


def test_headline_says_a_guardrail_stopped_a_pilot_that_met_its_target(demo):
    deck = slides.pilot_slides(demo, COMMAND_LINE, 5)  # same-day dispatch: fcr up, cost to serve up
    case = analysis.analyze_pilot(demo, COMMAND_LINE, 5)
    assert case.verdict == "Stop" and case.primary.signal == "meets_target"
    numbers = {label: (value, detail) for label, value, detail in deck[1].numbers}
    assert numbers["Decision"][0] == "Stop" and numbers["Decision"][1].startswith("Decided: Stop")
    assert wording.state(case).evidence is None
    assert wording.why(case) == "a guardrail metric got worse beyond its margin"
    # The message says what the figures do not: the likely range against the target, and why Stop.
    assert deck[1].message == f"{wording.likely(case, basis=False)[:-1]}: {wording.why(case)}."
    assert "most likely between" in deck[1].message and "Decided" not in deck[1].message
    assert any("Guardrail Cost to serve rose" in r for r in case.reasons)
    assert "guardrail harmed: Cost to serve" in deck[4].message


def test_a_pilot_without_data_yet_has_slides_without_value(demo):
    deck = slides.pilot_slides(demo, COMMAND_LINE, 12)  # proposed: no pilot window data yet
    titles = [s.title for s in deck]
    assert "What rolling out is worth" not in titles
    label = analysis.analyze_pilot(demo, COMMAND_LINE, 12).primary.label
    assert dict((name, value) for name, value, _ in deck[1].numbers)[f"Effect on {label}"] == "no estimate"
    assert deck[titles.index("Decision and reasons")].message.startswith("Plan: the pilot window starts")
    for slide in deck:
        if slide.chart is not None:
            slide.chart.to_dict()


def test_slides_are_built_at_the_asked_size(demo):
    deck = slides.pilot_slides(demo, COMMAND_LINE, 2, base_size=30, width=700)
    chart = next(s.chart for s in deck if s.title == "Before and after").to_dict()
    assert chart["config"]["axis"]["labelFontSize"] == 30
    assert chart["width"] == 700


def test_a_unit_head_gets_no_slides_of_another_units_pilot(demo):
    units = {u.name: u.unit_id for u in store.list_units(demo, COMMAND_LINE)}
    head = Actor("rita@example.com", "unit_head", frozenset({units["Retail Stores"]}))
    with pytest.raises(AccessDenied):
        slides.pilot_slides(demo, head, 1)  # Contact Centre's pilot
    own = store.list_pilots(demo, head)
    assert own and all(p.unit_name == "Retail Stores" for p in own)
    portfolio = slides.portfolio_slides(demo, head)
    assert f"{len(own)} pilots in 1 business units" in portfolio[0].message


def test_in_present_mode_the_forest_plot_fits_the_screen_height(demo):
    on_screen = slides.portfolio_slides(demo, COMMAND_LINE, base_size=40, screen_height=600)
    in_deck = slides.portfolio_slides(demo, COMMAND_LINE, base_size=40)
    heights = []
    for deck in (on_screen, in_deck):
        chart = next(s.chart for s in deck if s.title.startswith("Every evaluated pilot"))
        png = vl_convert.vegalite_to_png(chart.to_dict())
        heights.append(int.from_bytes(png[20:24], "big"))
    assert heights[0] <= 600 < heights[1]


def test_portfolio_slides_add_up_the_pilots(demo):
    deck = slides.portfolio_slides(demo, COMMAND_LINE)
    assert [s.title for s in deck] == ["Customer-experience pilots", "Pipeline",
                                       "Every evaluated pilot against its target", "What rolling out is worth",
                                       "Did it hold?", "Decisions"]
    pilots = store.list_pilots(demo, COMMAND_LINE)
    assert deck[0].message.startswith(f"{len(pilots)} pilots in 6 business units")
    cases = [analysis.analyze_pilot(demo, COMMAND_LINE, p.pilot_id) for p in pilots]
    winners = [c for c in cases if c.verdict == "Roll out" and c.rollout_value.total is not None]
    assert winners
    total = sum(c.rollout_value.total for c in winners)
    assert f"Rolling out the {len(winners)} pilots" in deck[3].message
    assert org.format_money(total, org.org_settings(demo)) in deck[3].message
    spec = deck[3].chart.to_dict()
    bars = spec["datasets"][spec["data"]["name"]]
    assert sorted(b["pilot"] for b in bars) == sorted(c.pilot for c in winners)
    forest = deck[2].chart.to_dict()
    shown = {r["pilot_id"] for name, rows in forest["datasets"].items() for r in rows if "href" in r}
    assert shown == {c.pilot_id for c in cases if c.primary.has_estimate and c.target_effect}
    held = [c for c in cases if c.rollout is not None]
    assert deck[4].bullets == [f"{c.pilot}: rollout {c.rollout.verdict}" for c in held] + [
        f"Needs a look: {'; '.join(wording.needs_a_look(c))}" for c in held if c.rollout.needs_a_look]
    assert deck[4].message == "1 pilot rolled out; 1 with a wave that needs a look."
    decided = [p for p in pilots if p.decision]
    assert sum(b.split(" (")[0] in {p.name for p in decided} and "awaiting" not in b for b in deck[5].bullets) \
        == len(decided)
    frame = slides.portfolio_frame(demo, COMMAND_LINE)
    for case in cases:
        row = frame[frame["pilot_id"] == case.pilot_id].iloc[0]
        assert row["verdict"] == case.verdict or not case.primary.has_estimate


def test_in_present_mode_every_metric_against_its_target_fits_the_screen_height(demo):
    on_screen = slides.pilot_slides(demo, COMMAND_LINE, 1, base_size=22, screen_height=360)
    in_deck = slides.pilot_slides(demo, COMMAND_LINE, 1, base_size=22)
    heights = []
    for deck in (on_screen, in_deck):
        chart = next(s.chart for s in deck if s.title == "Every metric against its target")
        png = vl_convert.vegalite_to_png(chart.to_dict())
        heights.append(int.from_bytes(png[20:24], "big"))  # PNG header: height at bytes 20-24
    assert heights[0] <= 360 < heights[1]


def test_a_pilot_with_three_controls_has_a_synthetic_twin_slide(demo):
    pilot = next(p for p in store.list_pilots(demo, COMMAND_LINE) if p.name == "In-store greeter programme")
    twin = analysis.analyze_pilot(demo, COMMAND_LINE, pilot.pilot_id).primary.synthetic
    deck = slides.pilot_slides(demo, COMMAND_LINE, pilot.pilot_id)
    slide = next(s for s in deck if s.title == "Against a synthetic twin")
    assert slide.message.startswith(f"The synthetic twin of {pilot.unit_name} is")
    assert f"ranks {twin.placebo_rank} of {twin.placebo_units}" in slide.message
    spec = slide.chart.to_dict()
    rows = next(v for v in spec["datasets"].values() if v and "series" in v[0])
    assert {r["series"] for r in rows} == {pilot.unit_name, "synthetic twin"}
    method = next(s for s in deck if s.title == "Appendix: method")
    assert any(b.startswith("Drift: Without any pilot") for b in method.bullets)
