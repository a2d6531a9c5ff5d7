"""AppTest of present mode on the demo organisation: the slides of a pilot and of the portfolio, one
at a time, next/previous with a counter, and nothing to edit."""


from streamlit.testing.v1 import AppTest

from pilots import slides, store
from pilots.access import COMMAND_LINE
from apptests import open_page

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
    assert at.title[0].value == deck[0].title
    assert counter(at) == f"**1 / {len(deck)}**"
    assert button(at, "Previous").disabled
    button(at, "Next").click().run()
    assert at.title[0].value == deck[1].title
    assert counter(at) == f"**2 / {len(deck)}**"
    button(at, "Next").click().run()
    assert at.title[0].value == deck[2].title
    assert at.get("vega_lite_chart"), "a chart slide shows its chart"
    button(at, "Previous").click().run()
    assert at.title[0].value == deck[1].title
    assert [m.label for m in at.metric][:2] == [label for label, _, _ in deck[1].numbers][:2]
    for _ in range(len(deck)):
        if not button(at, "Next").disabled:
            button(at, "Next").click().run()
    assert at.title[0].value == deck[-1].title
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
    assert at.title[0].value == deck[0].title
    titles = [at.title[0].value]
    for _ in range(len(deck) - 1):
        button(at, "Next").click().run()
        titles.append(at.title[0].value)
    assert titles == [s.title for s in deck]
    assert "Exit to the portfolio" in [e.proto.label for e in at.get("page_link")]


def test_a_pilot_that_is_not_yours_is_not_presented(demo_org):
    units = store.unit_lookup(store.list_units(demo_org, COMMAND_LINE))
    claims_pilot = next(p for p in store.list_pilots(demo_org, COMMAND_LINE) if p.unit_name == "Claims")
    at = present(view_as=f"unit:{units['retail stores'].unit_id}", pilot=str(claims_pilot.pilot_id))
    assert at.title[0].value == "Nothing to present"
    assert "not yours to see" in at.warning[-1].value
    assert not at.get("vega_lite_chart")
