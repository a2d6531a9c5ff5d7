"""Unit: what a business-unit head looks at: their unit's pilots with their verdicts, and the trend of
the unit's customer metrics against the whole organisation. Unit heads pick only among their own
units; the domain refuses any other whatever the page asks. Names are shown as typed (pages._ui.literal)."""

import datetime as dt

import pandas as pd
import streamlit as st

from pages._ui import chart_spec, current_actor, database, in_app_shell, literal, metric_labels
from pilots import analysis, charts, ingest, store, text, trends, wording

in_app_shell()

db, actor = database(), current_actor()
st.title("Unit")
units = [u for u in store.list_units(db, actor) if actor.can_see_unit(u.unit_id)]
if not units:
    st.info("There is no business unit for you to see yet.")
    st.stop()
by_id = {u.unit_id: u for u in units}
wanted = st.query_params.get("unit")
ids = list(by_id)
start_at = ids.index(int(wanted)) if wanted is not None and wanted.isdigit() and int(wanted) in by_id else 0
unit = by_id[st.selectbox("Business unit", ids, index=start_at, format_func=lambda i: text.printable(by_id[i].name))]
st.query_params["unit"] = str(unit.unit_id)
st.caption(f"Head: {literal(unit.head or '—')} · customers: {f'{unit.customers:,}' if unit.customers else '—'}")

st.subheader("Pilots in this unit")
cases = analysis.analyze_pilots(db, actor, unit_ids=[unit.unit_id])
if not cases:
    st.info("No pilot in this unit yet.")
for case in cases:
    row = st.columns([4, 1.4, 1.2])
    row[0].page_link("pages/pilot.py", label=literal(case.pilot, text.MAX_NAME), icon=":material/insights:",
                     query_params={"id": case.pilot_id})
    row[1].markdown(wording.state(case).badge)
    row[2].caption(case.status.replace("_", " "))

st.subheader("Customer metrics against the organisation")
labels = metric_labels()
coverage = ingest.coverage(db, actor)
mine = coverage[coverage["unit"] == unit.name]
if mine.empty:
    st.info(f"{literal(unit.name)} has no data yet.")
    st.stop()
keys = [k for k in labels if k in set(mine["metric"])]
key = st.selectbox("Metric", keys, format_func=lambda k: text.printable(labels[k]),
                   index=keys.index("nps") if "nps" in keys else 0)
last = pd.Timestamp(mine.loc[mine["metric"] == key, "last_date"].max()).date()
weeks = st.select_slider("Weeks shown", [13, 26, 52, 104], value=52)
st.vega_lite_chart(chart_spec(db, actor, f"unit-trend/{unit.unit_id}/{key}/{weeks}", lambda: charts.unit_trend(
    trends.org_series(db, actor, key, unit.unit_id, last - dt.timedelta(weeks=weeks), last), unit.name, labels[key],
    store.metric_lookup(db)[key].direction)), width="stretch")
st.caption("Weekly. The rest of the organisation pools every other unit's answers (or n-weighted figures).")
