"""Pilots: the register, filterable by business unit and lifecycle state."""

import streamlit as st

from pages._case import number
from pages._ui import current_actor, database, in_app_shell
from pilots import analysis, store, wording
from pilots.model import STATUSES

in_app_shell()

db, actor = database(), current_actor()
st.title("Pilots")

units = store.list_units(db, actor)
left, right = st.columns(2)
chosen_units = left.multiselect("Business unit", [u.name for u in units], placeholder="All units")
chosen_states = right.multiselect("Status", list(STATUSES), format_func=lambda s: s.replace("_", " "),
                                  placeholder="All states")
by_name = {u.name: u.unit_id for u in units}
pilots = store.list_pilots(db, actor, unit_ids=[by_name[n] for n in chosen_units] if chosen_units else None,
                           statuses=chosen_states or None)
table = store.pilots_frame(pilots, store.metric_lookup(db))
# The primary metric so far and what the pilot leads with, from the pilots' cases (as on each pilot's page).
effects = analysis.portfolio_effects(db, actor).set_index("pilot_id")
so_far = effects.reindex(table["id"])
table.insert(5, "effect so far (95% interval)", [
    "—" if row.effect != row.effect
    else f"{number(row.effect, signed=True)} ({number(row.ci_low)} to {number(row.ci_high)})"
    for row in so_far.itertuples()])
cases = {case.pilot_id: case for case in analysis.analyze_pilots(db, actor)}
table.insert(6, "leads with", [wording.state(cases[i]).label if i in cases else "" for i in table["id"]])
st.caption(f"{len(table)} pilot{'s' if len(table) != 1 else ''}")
# The columns a person scans fit a 1366-px screen; the rest is on each pilot's page.
picked = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                      key="register", column_order=["pilot", "unit", "status", "leads with",
                                                    "effect so far (95% interval)", "primary metric", "pilot window"],
                      column_config={"pilot": st.column_config.TextColumn(width="large"),
                                     "effect so far (95% interval)": st.column_config.TextColumn(width="medium")})
if picked.selection.rows:
    pilot_id = int(table.iloc[picked.selection.rows[0]]["id"])
    st.switch_page("pages/pilot.py", query_params={"id": pilot_id})
st.caption("Select a row to open the pilot.")
