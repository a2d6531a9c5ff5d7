"""Portfolio: every pilot per business unit and lifecycle state, and a way into each."""

import streamlit as st

from pages._ui import current_actor, database, in_app_shell
from pilots import charts, store
from pilots.model import STATUSES

in_app_shell()

db, actor = database(), current_actor()
st.title("Portfolio")
st.caption("Customer-experience pilots across the organisation, from proposal to rollout.")

pilots = store.list_pilots(db, actor)
if not pilots:
    st.info("No pilots yet. Register one on the Pilots page.")
    st.stop()

by_status = {status: sum(p.status == status for p in pilots) for status in STATUSES}
columns = st.columns(5)
columns[0].metric("Pilots", len(pilots))
columns[1].metric("Running", by_status["baseline"] + by_status["running"])
columns[2].metric("Evaluating", by_status["evaluating"])
columns[3].metric("Decided", by_status["decided"])
columns[4].metric("Rolled out", by_status["rolled_out"])

st.subheader("Pipeline per business unit")
st.altair_chart(charts.pipeline_chart(store.pipeline(db, actor), STATUSES), width="stretch")

st.subheader("Open a pilot")
for status in reversed(STATUSES):
    group = [p for p in pilots if p.status == status]
    if not group:
        continue
    with st.expander(f"{status.replace('_', ' ').capitalize()} ({len(group)})", expanded=status == "evaluating"):
        for pilot in group:
            st.page_link("pages/pilot.py", label=f"{pilot.name} — {pilot.unit_name}", icon=":material/insights:",
                         query_params={"id": pilot.pilot_id})
