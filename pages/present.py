"""Present: the slides of one pilot (?pilot=N) or of the portfolio, full screen and in large type, one
message and one chart per slide, for a presenter to click through in a meeting (buttons, or the
arrow keys). Nothing here edits anything; Exit goes back to the pilot or the portfolio.

Made for a meeting room: no Streamlit chrome (pages._ui.PRESENT_CSS); type and charts scaled to the
browser window, whose size the browser reports (pages._ui.viewport, laid out by pages._ui.Room);
a step from slide to slide reruns only the slide area (st.fragment), from a deck built once per
window size, data version and acting user for every session, its charts already turned into
Vega-Lite specs.

A slide's words hold people's text (names, hypotheses, rationales): every one is shown as typed
(pages._ui.literal), never read as Markdown; a pilot number in the address is never repeated back."""

from __future__ import annotations

import datetime as dt
import math

import altair as alt
import streamlit as st

from pages._case import VERDICT_COLOURS
from pages._ui import (
    Room,
    current_actor,
    database,
    fitted_chart,
    in_app_shell,
    literal,
    natural_height,
    present_mode_style,
    remembered_viewport,
    viewport,
)
from pilots import slides, store
from pilots.access import AccessDenied
from pilots.cells import data_version

in_app_shell()
present_mode_style()

FIRST_GUESS = (1366, 768)  # the window until the browser has said how large it is (never, under AppTest)
SIZE_KEY = "present_window"
MIN_CHART_TYPE = 12  # px: the smallest type a chart is drawn in to fit a screen


def build_deck(db, actor, pilot_id: int | None, room: Room, version, measured: bool = True
               ) -> tuple[list[slides.Slide], list[dict | None]]:
    """The deck of a pilot (or the portfolio, `pilot_id` None) with its charts sized for `room`, and
    (when the room is `measured`, not a first guess soon replaced) each chart as a Vega-Lite spec,
    remembered until the window, the data (`version`), the day or what is presented change, for
    whoever presents it as the same user again: a step from slide to slide then only sends one slide,
    and opening present mode again builds nothing (turning an Altair chart into its spec takes longer
    than all the rest of a step). Nothing changes a deck once built."""
    key = (str(db.path), pilot_id, repr(actor), room.width, room.height, version, measured, dt.date.today())
    return _built_deck(key, db, actor, pilot_id, room, measured)


@st.cache_resource(max_entries=32, show_spinner=False)
def _built_deck(key: tuple, _db, _actor, _pilot_id: int | None, _room: Room, _measured: bool
                ) -> tuple[list[slides.Slide], list[dict | None]]:
    """build_deck's work, kept per `key` (the arguments with a leading _ are not part of it)."""
    db, actor, pilot_id, room, measured = _db, _actor, _pilot_id, _room, _measured
    deck = _slides(db, actor, pilot_id, room, room.chart_type)
    room_for = [room.chart_height(s.title, s.message, s.bullets if s.kind != slides.NUMBERS else [])
                if s.chart is not None else None for s in deck]
    overflow = [(n, height / natural) for n, (slide, height) in enumerate(zip(deck, room_for, strict=True))
                if (natural := natural_height(slide.chart, room.chart_type)) and natural > height]
    types = [room.chart_type] * len(deck)
    if overflow:  # a chart drawn row by row runs off the screen: draw it again in type small enough to fit
        smaller_type = max(MIN_CHART_TYPE, int(room.chart_type * min(ratio for _, ratio in overflow)))
        smaller = _slides(db, actor, pilot_id, room, smaller_type)
        if [s.title for s in smaller] == [s.title for s in deck]:
            for n, _ in overflow:
                deck[n].chart, types[n] = smaller[n].chart, smaller_type
    specs = []
    for slide, height, chart_type in zip(deck, room_for, types, strict=True):
        spec = None
        if slide.chart is not None:
            slide.chart = fitted_chart(slide.chart, height, chart_type)
            try:
                spec = slide.chart.to_dict(validate=False) if measured else None  # charts' own tests validate them
            except alt.MaxRowsError:  # too many rows to inline: Streamlit sends it as Arrow, at its own pace
                spec = None
        specs.append(spec)
    return deck, specs


def _slides(db, actor, pilot_id: int | None, room: Room, chart_type: int) -> list[slides.Slide]:
    if pilot_id is None:
        return slides.portfolio_slides(db, actor, base_size=chart_type, screen_height=room.typical_chart_height())
    return slides.pilot_slides(db, actor, pilot_id, base_size=chart_type, screen_height=room.typical_chart_height())


def go(to: int) -> None:
    st.query_params["slide"] = str(to + 1)


def heading(slide: slides.Slide) -> None:
    st.title(literal(slide.title), anchor=False)
    if slide.message:
        st.markdown(f"#### {literal(slide.message)}", anchors=False)


def bullets(slide: slides.Slide) -> None:
    if slide.kind == slides.APPENDIX:  # small print
        st.markdown("\n".join(f"- {literal(bullet)}" for bullet in slide.bullets))
    else:
        st.markdown("\n".join(f"- #### {literal(bullet)}" for bullet in slide.bullets), anchors=False)


def numbers(slide: slides.Slide, room: Room) -> None:
    """The headline figures as large cards, two by two when there are four, filling the slide."""
    per_row = 2 if len(slide.numbers) == 4 else len(slide.numbers)
    rows = math.ceil(len(slide.numbers) / per_row)
    card = room.card_height(slide.title, slide.message, rows)
    figures = iter(slide.numbers)
    for _ in range(rows):
        for column, (label, shown, detail) in zip(st.columns(per_row, gap="medium"), figures, strict=False):
            box = column.container(border=True, height=card, vertical_alignment="center")
            if shown in VERDICT_COLOURS:  # the verdict or decision, in its colour
                box.metric(literal(label), shown, delta=literal(detail), delta_color=VERDICT_COLOURS[shown],
                           delta_arrow="off")
            else:
                box.metric(literal(label), literal(shown))
                box.markdown(literal(detail))


def show(slide: slides.Slide, spec: dict | None, room: Room) -> None:
    """One slide under the bar: a cover larger and in the middle of the screen; else its title and
    message, then its figures or chart, then its bullets."""
    with st.container(key="present_slide"):
        if slide.kind == slides.TITLE:
            with st.container(key="present_cover", vertical_alignment="center", height=room.cover_height()):
                heading(slide)
                bullets(slide)
            return
        heading(slide)
        if slide.kind == slides.NUMBERS:
            numbers(slide, room)
            return
        if spec is not None:
            st.vega_lite_chart(spec, width="stretch")
        elif slide.chart is not None:
            st.altair_chart(slide.chart, width="stretch")
        if slide.bullets:
            bullets(slide)


db, actor = database(), current_actor()
wanted = st.query_params.get("pilot")
if wanted is None:
    pilot_id, back = None, ("pages/portfolio.py", {}, "Exit to the portfolio")
else:
    try:
        pilot_id = store.get_pilot(db, actor, int(wanted)).pilot_id
    except (ValueError, LookupError, AccessDenied):
        st.title("Nothing to present")
        st.warning("No pilot with that number is yours to see.")  # the address's words are never repeated
        st.page_link("pages/portfolio.py", label="Back to the portfolio", icon=":material/arrow_back:")
        st.stop()
    back = ("pages/pilot.py", {"id": pilot_id}, "Exit to the pilot")

# The data as they are when present mode opens (or the page reloads); a step does not ask again.
version = data_version(db)
# The window's size: what this session or (a cookie) this browser already knows, else what the
# browser reports once the page is shown, which reruns the page. Outside the fragment on purpose: a
# report that arrives while the page's first run is still going would be lost as a fragment rerun.
known = st.session_state.get(SIZE_KEY) or remembered_viewport()
st.session_state[SIZE_KEY] = viewport(known) or known


@st.fragment
def slide_area() -> None:
    """The bar (Exit, Previous, Next, page number) and the slide: a step reruns only this."""
    size = st.session_state.get(SIZE_KEY)
    room = Room(*(size or FIRST_GUESS))
    deck, specs = build_deck(db, actor, pilot_id, room, version, measured=size is not None)
    try:
        index = min(max(int(st.query_params.get("slide", "1")), 1), len(deck)) - 1
    except ValueError:
        index = 0

    bar = st.columns([2, 5, 1.2, 1.2, 1], vertical_alignment="center")
    bar[0].page_link(back[0], label=back[2], icon=":material/close:", query_params=back[1])
    bar[2].button("Previous", icon=":material/arrow_back:", disabled=index == 0, on_click=go, args=(index - 1,),
                  shortcut="Left", width="stretch")
    bar[3].button("Next", icon=":material/arrow_forward:", disabled=index == len(deck) - 1, on_click=go,
                  args=(index + 1,), shortcut="Right", width="stretch", type="primary")
    bar[4].markdown(f"**{index + 1} / {len(deck)}**", text_alignment="right")
    show(deck[index], specs[index], room)


slide_area()
