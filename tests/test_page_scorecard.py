"""AppTest of the Scorecard page on the demo organisation: it opens on the last complete month with the
card the domain computes (figures, changes worded and coloured by the direction of good, pilots with their
state badges), offers the one-page PDF, and gives a unit head their own unit's card only."""

from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest

from apptests import open_page, read
from pilots import scorecard, store
from pilots.access import COMMAND_LINE


def shown_card(at: AppTest) -> tuple[dict, list[str], list[str]]:
    """What the page shows of a card: metric label -> (value, delta, delta colour), the pilots' link
    labels and their badges, in order."""
    figures = {read(m.label): (read(m.value), read(m.proto.delta), Metric.MetricColor.Name(m.proto.color).lower())
               for m in at.metric}
    links = [read(e.proto.label) for e in at.get("page_link") if e.proto.page == "pilot"]
    badges = [m.value for m in at.markdown if m.value.endswith("]") and "-background[" in m.value]
    return figures, links, badges


def expected_card(card: scorecard.Card) -> tuple[dict, list[str], list[str]]:
    lines = [(f"North star: {f.label}", f) for f in card.north_star] + [(f.label, f) for f in card.drivers]
    figures = {label: (f.value_words, f.vs_last_month.reads, f.vs_last_month.colour) for label, f in lines}
    pilots: list[scorecard.PilotLine | scorecard.DecisionDue] = [*card.in_flight, *card.decisions_due]
    return figures, [card.pilot_name(p) for p in pilots], [p.state.badge for p in pilots]


def test_the_cco_office_opens_the_organisations_card_of_the_last_complete_month(demo_org):
    at = open_page("scorecard", "editor")
    unit_choice = next(s for s in at.selectbox if s.label == "Business unit")
    assert unit_choice.options[0] == scorecard.WHOLE_ORGANISATION
    assert len(unit_choice.options) == len(store.list_units(demo_org, COMMAND_LINE)) + 1
    month = next(s for s in at.selectbox if s.label == "Month")
    assert month.value == scorecard.last_complete_month(demo_org, COMMAND_LINE)
    card = scorecard.monthly_card(demo_org, COMMAND_LINE, month.value)
    figures, links, badges = shown_card(at)
    assert (figures, links, badges) == expected_card(card)
    assert card.in_flight and card.decisions_due
    # vs the same month last year too, coloured the same way
    year_lines = [read(m.value) for m in at.markdown if "] vs " in m.value and m.value.startswith(":")]
    assert year_lines == [f":{c.colour}[{c.reads}] vs {scorecard.month_words(c.month)}"
                          for c in (f.vs_last_year for f in card.north_star + card.drivers)]
    assert "Scorecard (PDF)" in {e.proto.label for e in at.get("download_button")}

    unit_choice.select(next(u.unit_id for u in store.list_units(demo_org, COMMAND_LINE)
                            if u.name == "Contact Centre")).run()
    assert not at.exception
    contact = scorecard.monthly_card(demo_org, COMMAND_LINE, month.value, unit_choice.value)
    assert shown_card(at) == expected_card(contact)
    next(s for s in at.selectbox if s.label == "Month").select("2025-11").run()
    assert shown_card(at) == expected_card(scorecard.monthly_card(demo_org, COMMAND_LINE, "2025-11",
                                                                  unit_choice.value))


def test_a_unit_head_gets_their_own_units_card_only(demo_org):
    units = store.unit_lookup(store.list_units(demo_org, COMMAND_LINE))
    claims = units["claims"]
    head = f"unit:{claims.unit_id}"
    at = open_page("scorecard", head, unit=str(units["retail stores"].unit_id))  # another unit asked for
    unit_choice = next(s for s in at.selectbox if s.label == "Business unit")
    assert unit_choice.options == ["Claims"]
    month = next(s for s in at.selectbox if s.label == "Month").value
    card = scorecard.monthly_card(demo_org, COMMAND_LINE, month, claims.unit_id)
    assert shown_card(at) == expected_card(card)
    assert [read(h.value) for h in at.subheader][0] == f"Claims, {scorecard.month_words(card.month)}"
    assert "Scorecard (PDF)" in {e.proto.label for e in at.get("download_button")}
    at = open_page("scorecard", head, unit="org")  # the organisation's card is not theirs either
    assert next(s for s in at.selectbox if s.label == "Business unit").value == claims.unit_id
