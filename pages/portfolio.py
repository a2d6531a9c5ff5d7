"""Portfolio: every pilot per business unit and lifecycle state, the primary effect of every
evaluated pilot with its interval, coloured by verdict and leading to the pilot's case, the total
projected value of rolling out what works, filters by unit, state and metric, the portfolio deck and
present mode, and a way into each pilot. Pilot and unit names are shown as typed (pages._ui.literal)."""

import pandas as pd
import streamlit as st

from pages._case import money
from pages._ui import chart_spec, current_actor, database, in_app_shell, literal
from pilots import charts, export, org, slides, store, text
from pilots.model import STATUSES

in_app_shell()

db, actor = database(), current_actor()
st.title("Portfolio")
st.caption("Customer-experience pilots across the organisation, from proposal to rollout.")

pilots = store.list_pilots(db, actor)
if not pilots:
    st.info("No pilots yet. Register one on the Pilots page.")
    st.stop()

metrics = store.metric_lookup(db)
actions = st.columns([1.2, 1.3, 1, 3])
actions[0].page_link("pages/present.py", label="Present portfolio", icon=":material/slideshow:")
actions[1].download_button("Deck (PowerPoint)", data=lambda: export.export_portfolio(db, actor, "pptx"),
                           file_name="cx-pilot-portfolio.pptx", on_click="ignore", icon=":material/download:",
                           mime="application/vnd.openxmlformats-officedocument.presentationml.presentation")
actions[2].download_button("Deck (PDF)", data=lambda: export.export_portfolio(db, actor, "pdf"),
                           file_name="cx-pilot-portfolio.pdf", mime="application/pdf", on_click="ignore",
                           icon=":material/picture_as_pdf:")

filters = st.columns(3)
unit_names = sorted({name for p in pilots for name in p.unit_names})
chosen_units = filters[0].multiselect("Units", unit_names, format_func=text.printable, placeholder="All units")
chosen_states = filters[1].multiselect("States", STATUSES, format_func=lambda s: s.replace("_", " "),
                                       placeholder="All states")
metric_keys = sorted({p.primary_metric for p in pilots}, key=lambda k: metrics[k].label)
chosen_metrics = filters[2].multiselect("Primary metrics", metric_keys, placeholder="All metrics",
                                        format_func=lambda k: text.printable(metrics[k].label))
shown = [p for p in pilots if (not chosen_units or set(p.unit_names) & set(chosen_units))
         and (not chosen_states or p.status in chosen_states)
         and (not chosen_metrics or p.primary_metric in chosen_metrics)]
if not shown:
    st.info("No pilot matches these filters.")
    st.stop()

frame = slides.portfolio_frame(db, actor)
frame = frame[frame["pilot_id"].isin([p.pilot_id for p in shown])]
evaluated = frame[frame["effect"].notna()]
winners = frame[(frame["state"] == "Roll out") & frame["value"].notna()]
states = dict(zip(frame["pilot_id"], frame["state"], strict=True))

by_status = {status: sum(p.status == status for p in shown) for status in STATUSES}
columns = st.columns(5)
columns[0].metric("Pilots", len(shown))
columns[1].metric("Running", by_status["baseline"] + by_status["running"])
columns[2].metric("Evaluating", by_status["evaluating"])
columns[3].metric("Decided", by_status["decided"] + by_status["rolled_out"])
currency = org.org_settings(db)
columns[4].metric("Rollout value a year", literal(money(winners["value"].sum(), currency)),
                  delta=literal(f"range {money(winners['value_low'].sum(), currency)} to "
                                f"{money(winners['value_high'].sum(), currency)}"),
                  delta_color="gray", delta_arrow="off",
                  help="The sum of the yearly rollout value of every pilot shown that was decided, or whose evidence "
                       "says, Roll out, with the "
                       "sum of their low and high ends (each the pilot's own 95% range, from its assumptions).")

st.subheader("Effect of every evaluated pilot on its primary metric")
if evaluated.empty:
    st.info("No pilot shown has data in both windows yet.")
else:
    st.caption(f"{len(evaluated)} pilot{'s' if len(evaluated) != 1 else ''}, 95% intervals, coloured by what the "
               f"evidence says today (a decided pilot's decision is on its page); click a pilot to open its case.")
    st.vega_lite_chart(chart_spec(db, actor, f"forest/{tuple(evaluated['pilot_id'])}",
                                  lambda: charts.forest_plot(evaluated)), width="stretch")

if len(winners):
    st.subheader("What rolling out the winners is worth")
    values = pd.DataFrame({"pilot": winners["pilot"], "value": winners["value"].astype(float),
                           "low": winners["value_low"].astype(float), "high": winners["value_high"].astype(float)})
    st.vega_lite_chart(chart_spec(db, actor, f"portfolio-value/{tuple(winners['pilot_id'])}",
                                  lambda: charts.portfolio_value_chart(values, currency=currency)), width="stretch")

rolled = frame[frame["rollout"].notna()]
if len(rolled):
    st.subheader("Did it hold? Pilots rolled out")
    for row in rolled.itertuples(index=False):
        st.page_link("pages/pilot.py", icon=":material/insights:", query_params={"id": row.pilot_id},
                     label=f"{literal(row.pilot, text.MAX_NAME)} — rollout: {row.rollout}")
        if row.needs_a_look:
            st.warning(f"Needs a look: {literal(row.needs_a_look)}", icon=":material/trending_down:")

st.subheader("Pipeline per business unit")
pipeline = (pd.DataFrame({"unit": [p.units_label for p in shown], "status": [p.status for p in shown]})
            .value_counts().rename("pilots").reset_index())
st.vega_lite_chart(chart_spec(db, actor, f"pipeline/{tuple(p.pilot_id for p in shown)}",
                              lambda: charts.pipeline_chart(pipeline, STATUSES)), width="stretch")

st.subheader("Open a pilot")
for status in reversed(STATUSES):
    group = [p for p in shown if p.status == status]
    if not group:
        continue
    with st.expander(f"{status.replace('_', ' ').capitalize()} ({len(group)})", expanded=status == "evaluating"):
        for pilot in group:
            state = f" · {states[pilot.pilot_id]}" if pilot.pilot_id in states else ""
            st.page_link("pages/pilot.py", icon=":material/insights:", query_params={"id": pilot.pilot_id},
                         label=f"{literal(pilot.name, text.MAX_NAME)} — {literal(pilot.units_label)}{state}")
