"""Scorecard: the month's customer figures for a business unit or the whole organisation, read as
routinely as revenue: the north star and its drivers against last month and last year (green good news,
red bad, in words too), pilots in flight, decisions due, rollouts that need a look, and the one-page PDF.
Unit heads pick among their own units only; the organisation's card is for the CCO office and steering,
and the domain refuses anything else whatever the page asks. Names are shown as typed (pages._ui.literal);
nothing from the address is repeated."""

import streamlit as st

from pages._ui import current_actor, database, in_app_shell, literal
from pilots import org, scorecard, scorecard_pdf, store, text

ORGANISATION = "org"  # the unit query parameter of the organisation's card

in_app_shell()

db, actor = database(), current_actor()
st.title("Scorecard")
st.caption("The customer metrics that matter most, month by month: this month against last month and the same "
           "month last year, with the pilots that are running and the decisions waiting.")

units = [u for u in store.list_units(db, actor) if actor.can_see_unit(u.unit_id)]
scopes: list[int | None] = ([None] if actor.sees_all_units() else []) + [u.unit_id for u in units]
if not scopes:
    st.info("There is no business unit for you to see yet.")
    st.stop()
names = {None: scorecard.WHOLE_ORGANISATION, **{u.unit_id: u.name for u in units}}
wanted = st.query_params.get("unit")
asked = None if wanted == ORGANISATION else int(wanted) if wanted is not None and wanted.isdigit() else -1
pick = st.columns([2, 1, 1])
unit_id = pick[0].selectbox("Business unit", scopes, index=scopes.index(asked) if asked in scopes else 0,
                            format_func=lambda i: text.printable(names[i]))
st.query_params["unit"] = ORGANISATION if unit_id is None else str(unit_id)

months = scorecard.months_with_data(db, actor, unit_id)
if not months:
    st.info(f"{literal(names[unit_id])} has no data for the north star or its drivers yet.")
    st.stop()
asked_month = st.query_params.get("month")
default = asked_month if asked_month in months else scorecard.latest_complete(months)
month = pick[1].selectbox("Month", months, index=months.index(default),
                          format_func=lambda m: scorecard.month_words(scorecard.month_start(m)))
st.query_params["month"] = month
card = scorecard.monthly_card(db, actor, month, unit_id)
pick[2].download_button("Scorecard (PDF)", data=lambda: scorecard_pdf.card_pdf(card, org.org_settings(db)),
                        file_name=scorecard_pdf.file_name(card), mime="application/pdf", on_click="ignore",
                        icon=":material/picture_as_pdf:")

st.subheader(literal(f"{card.scope}, {scorecard.month_words(card.month)}"))
st.caption(f"Pilots in flight and decisions due as of {card.as_of:%d %b %Y}, each pilot's state as of today; "
           f"{scorecard.ENOUGH}.")


def figure(box, line: scorecard.FigureLine, label: str) -> None:
    """One metric: this month's value with its change against last month, then against last year, then the n."""
    month, year = line.vs_last_month, line.vs_last_year
    with box.container(border=True):
        st.metric(literal(label), literal(line.value_words), delta=literal(month.reads), delta_color=month.colour,
                  delta_arrow="off" if not month.change else "up" if month.change > 0 else "down",
                  delta_description=literal(f"vs {scorecard.month_words(month.month)}"))
        st.markdown(f":{year.colour}[{literal(year.reads)}] vs {scorecard.month_words(year.month)}")
        st.caption(literal(f"{line.this_month.basis} this month; last month {line.last_month.basis}, a year ago "
                           f"{line.last_year.basis}"))


for line in card.north_star:
    figure(st, line, f"North star: {line.label}")
if card.drivers:
    st.markdown("**Drivers**")
    per_row = 2  # a driver's value and change, written out in words, need half the page's width
    for start in range(0, len(card.drivers), per_row):
        columns = st.columns(per_row)
        for column, line in zip(columns, card.drivers[start:start + per_row]):
            figure(column, line, line.label)

def pilot_row(item, icon: str, detail: str) -> None:
    """A pilot of the card (in flight or due a decision): its link, its state's badge and a line of detail."""
    row = st.columns([4, 1.4, 2.4])
    row[0].page_link("pages/pilot.py", label=literal(card.pilot_name(item), text.MAX_NAME), icon=icon,
                     query_params={"id": str(item.pilot_id)})
    row[1].markdown(item.state.badge)
    row[2].caption(literal(detail))


st.subheader("Pilots in flight")
if not card.in_flight:
    st.info("No pilot window ran this month.")
for pilot in card.in_flight:
    headline = "" if pilot.state.headline == pilot.state.label else f" · {pilot.state.headline}"
    pilot_row(pilot, ":material/insights:", f"Window {pilot.window[0]:%d %b %Y} – {pilot.window[1]:%d %b %Y}{headline}")

st.subheader("Decisions due")
if not card.decisions_due:
    st.info("No pilot is waiting for a decision.")
for due in card.decisions_due:
    pilot_row(due, ":material/gavel:", f"Window ended {due.window_ended:%d %b %Y}; waiting {due.waiting}")

if card.rollouts_needing_a_look:
    st.subheader("Rollouts that need a look")
    for item in card.rollouts_needing_a_look:
        st.markdown(f"- {literal(item)}")
