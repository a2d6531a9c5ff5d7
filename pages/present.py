"""Present: the slides of one pilot (?pilot=N) or of the portfolio, full width and in large type, one
message and one chart per slide, for a presenter to click through in a meeting (buttons, or the
arrow keys). Nothing here edits anything; Exit goes back to the pilot or the portfolio."""

import streamlit as st

from pages._case import VERDICT_COLOURS
from pages._ui import current_actor, database, in_app_shell
from pilots import slides, store
from pilots.access import AccessDenied

in_app_shell()
st.set_page_config(initial_sidebar_state="collapsed")

PRESENT_SIZE = 22  # chart type size readable from the back of a meeting room
PRESENT_HEIGHT = 360  # a chart, its title and message fit on a laptop screen at 1366 x 768

db, actor = database(), current_actor()
wanted = st.query_params.get("pilot")
if wanted is None:
    deck = slides.portfolio_slides(db, actor, base_size=PRESENT_SIZE)
    back = ("pages/portfolio.py", {}, "Exit to the portfolio")
else:
    try:
        pilot = store.get_pilot(db, actor, int(wanted))
    except (ValueError, LookupError, AccessDenied):
        st.title("Nothing to present")
        st.warning(f"Pilot {wanted} does not exist or is not yours to see.")
        st.page_link("pages/portfolio.py", label="Back to the portfolio", icon=":material/arrow_back:")
        st.stop()
    deck = slides.pilot_slides(db, actor, pilot.pilot_id, base_size=PRESENT_SIZE,
                               screen_height=PRESENT_HEIGHT)
    back = ("pages/pilot.py", {"id": pilot.pilot_id}, "Exit to the pilot")

try:
    index = min(max(int(st.query_params.get("slide", "1")), 1), len(deck)) - 1
except ValueError:
    index = 0


def go(to: int) -> None:
    st.query_params["slide"] = str(to + 1)


bar = st.columns([2, 5, 1.2, 1.2, 1], vertical_alignment="center")
bar[0].page_link(back[0], label=back[2], icon=":material/close:", query_params=back[1])
bar[2].button("Previous", icon=":material/arrow_back:", disabled=index == 0, on_click=go, args=(index - 1,),
              shortcut="Left", width="stretch")
bar[3].button("Next", icon=":material/arrow_forward:", disabled=index == len(deck) - 1, on_click=go,
              args=(index + 1,), shortcut="Right", width="stretch", type="primary")
bar[4].markdown(f"**{index + 1} / {len(deck)}**", text_alignment="right")

slide = deck[index]
st.title(slide.title)
if slide.message:
    st.markdown(f"#### {slide.message}")
if slide.kind == slides.NUMBERS:
    for column, (label, shown, detail) in zip(st.columns(len(slide.numbers)), slide.numbers):
        if label == "Verdict":
            column.metric(label, shown, delta=detail, delta_color=VERDICT_COLOURS.get(shown, "gray"),
                          delta_arrow="off", border=True)
        else:
            column.metric(label, shown, border=True)
            column.markdown(detail)
elif slide.chart is not None:
    st.altair_chart(slide.chart, width="stretch")
if slide.bullets and slide.kind != slides.NUMBERS:
    if slide.kind == slides.APPENDIX:
        st.markdown("\n".join(f"- {bullet}" for bullet in slide.bullets))
    else:
        st.markdown("\n".join(f"- #### {bullet}" for bullet in slide.bullets))
