"""AppTest of present mode on the demo organisation: the slides of a pilot and of the portfolio, one
at a time, next/previous with a counter, and nothing to edit; charts and type sized to the window
the browser reports (AppTest runs no JavaScript: the test tells the page the window's size the way
the browser would, through the session); present mode's fixed stylesheet on that page only."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from apptests import open_page, read
from pages._ui import PRESENT_CSS, Room
from pilots import slides, store
from pilots.access import COMMAND_LINE

SCREENS = [(1366, 768), (1920, 1080), (3840, 2160)]  # a laptop, a meeting-room screen, a 4K screen

EDITING = ("text_input", "text_area", "number_input", "slider", "select_slider", "multiselect", "selectbox",
           "checkbox", "toggle", "radio", "date_input", "file_uploader", "data_editor")


def present(view_as: str = "steering", **query) -> AppTest:
    return open_page("present", view_as, **query)


def counter(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**") and " / " in m.value)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_stepping_through_a_pilot(demo_org):
    pilot = next(p for p in store.list_pilots(demo_org, COMMAND_LINE) if p.name == "Digital claim status tracker")
    deck = slides.pilot_slides(demo_org, COMMAND_LINE, pilot.pilot_id)
    at = present(pilot=str(pilot.pilot_id))
    assert read(at.title[0].value) == deck[0].title
    assert counter(at) == f"**1 / {len(deck)}**"
    assert button(at, "Previous").disabled
    button(at, "Next").click().run()
    assert read(at.title[0].value) == deck[1].title
    assert counter(at) == f"**2 / {len(deck)}**"
    button(at, "Next").click().run()
    assert read(at.title[0].value) == deck[2].title
    assert at.get("vega_lite_chart"), "a chart slide shows its chart"
    button(at, "Previous").click().run()
    assert read(at.title[0].value) == deck[1].title
    assert [read(m.label) for m in at.metric][:2] == [label for label, _, _ in deck[1].numbers][:2]
    for _ in range(len(deck)):
        if not button(at, "Next").disabled:
            button(at, "Next").click().run()
    assert read(at.title[0].value) == deck[-1].title
    assert button(at, "Next").disabled
    assert not at.exception


def test_present_mode_has_no_editing_controls_even_for_an_editor(demo_org):
    pilot = store.list_pilots(demo_org, COMMAND_LINE)[0]
    at = present(view_as="editor", pilot=str(pilot.pilot_id))
    for _ in range(3):
        page_widgets = {kind: [w for w in at.main.get(kind)] for kind in EDITING}
        assert not any(page_widgets.values()), page_widgets
        assert {b.label for b in at.main.button} <= {"Previous", "Next"}
        button(at, "Next").click().run()
    exits = [e.proto for e in at.get("page_link")]
    assert any(link.page == "pilot" and link.query_string == f"id={pilot.pilot_id}" for link in exits)


def test_the_portfolio_deck(demo_org):
    deck = slides.portfolio_slides(demo_org, COMMAND_LINE)
    at = present()
    assert read(at.title[0].value) == deck[0].title
    titles = [read(at.title[0].value)]
    for _ in range(len(deck) - 1):
        button(at, "Next").click().run()
        titles.append(read(at.title[0].value))
    assert titles == [s.title for s in deck]
    assert "Exit to the portfolio" in [e.proto.label for e in at.get("page_link")]


def test_a_pilot_that_is_not_yours_is_not_presented(demo_org):
    units = store.unit_lookup(store.list_units(demo_org, COMMAND_LINE))
    claims_pilot = next(p for p in store.list_pilots(demo_org, COMMAND_LINE) if p.unit_name == "Claims")
    at = present(view_as=f"unit:{units['retail stores'].unit_id}", pilot=str(claims_pilot.pilot_id))
    assert read(at.title[0].value) == "Nothing to present"
    assert at.warning[-1].value == "No pilot with that number is yours to see."
    assert not at.get("vega_lite_chart")


def _step_to(at: AppTest, title: str, deck) -> None:
    for _ in range([s.title for s in deck].index(title)):
        button(at, "Next").click().run()
    assert read(at.title[0].value) == title


@pytest.mark.parametrize("width,height", SCREENS)
def test_charts_and_type_are_sized_to_the_window(demo_org, width, height):
    pilot = next(p for p in store.list_pilots(demo_org, COMMAND_LINE) if p.name == "Digital claim status tracker")
    deck = slides.pilot_slides(demo_org, COMMAND_LINE, pilot.pilot_id)
    weekly = next(s for s in deck if s.title.endswith("week by week"))
    at = present(pilot=str(pilot.pilot_id))
    at.session_state["present_window"] = (width, height)  # what the browser reports
    at.run()
    _step_to(at, weekly.title, deck)
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    room = Room(width, height)
    assert spec["height"] == room.chart_height(weekly.title, weekly.message)
    assert spec["height"] > 0.7 * height, "the chart takes most of the screen"
    assert room.heading(weekly.title, weekly.message) * room.rem + spec["height"] < height, "and fits it"
    assert spec["config"]["axis"]["labelFontSize"] == room.chart_type


def test_a_screen_is_laid_out_the_same_whatever_its_size():
    small, meeting_room, four_k = (Room(*size) for size in SCREENS)
    assert small.rem == 16 and small.chart_type == 22
    for larger in (meeting_room, four_k):
        scale = larger.height / small.height
        assert larger.rem == pytest.approx(16 * scale, rel=0.01)
        assert larger.typical_chart_height() == pytest.approx(small.typical_chart_height() * scale, rel=0.02)
    message = "word " * 60  # three hundred characters wrap onto the same lines on every screen
    assert small.lines(message, 1.35) == meeting_room.lines(message, 1.35) == four_k.lines(message, 1.35) > 1


def test_present_mode_styles_its_own_page_only(demo_org):
    at = present()
    assert [h.value for h in at.get("html")] == [PRESENT_CSS], "one fixed stylesheet, no text of anyone's in it"
    portfolio = open_page("portfolio", "steering")
    assert PRESENT_CSS not in [h.value for h in portfolio.get("html")]
