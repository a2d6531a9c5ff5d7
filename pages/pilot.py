"""Pilot: one pilot's facts and its primary metric before and after, against its controls."""

import streamlit as st

from pages._ui import current_actor, database, in_app_shell
from pilots import charts, store
from pilots.access import AccessDenied

in_app_shell()

db, actor = database(), current_actor()
pilots = store.list_pilots(db, actor)
if not pilots:
    st.title("Pilot")
    st.info("No pilot to show yet.")
    st.stop()

by_id = {p.pilot_id: p for p in pilots}
wanted = st.query_params.get("id")
try:
    current = int(wanted) if wanted is not None else pilots[0].pilot_id
except ValueError:
    current = pilots[0].pilot_id
if current not in by_id:
    try:
        store.get_pilot(db, actor, current)
        st.warning(f"There is no pilot {current}.")
    except (LookupError, AccessDenied):
        st.warning(f"Pilot {wanted} does not exist or is not yours to see.")
    current = pilots[0].pilot_id

ids = list(by_id)
chosen = st.selectbox("Pilot", ids, index=ids.index(current), format_func=lambda i: f"{by_id[i].name} — {by_id[i].unit_name}")
if chosen != current:
    st.query_params["id"] = str(chosen)
pilot = by_id[chosen]
metrics = store.metric_lookup(db)
primary = metrics[pilot.primary_metric]

st.title(pilot.name)
st.caption(f"{pilot.unit_name} · {pilot.status.replace('_', ' ')} · owner {pilot.owner or '—'} · "
           f"sponsor {pilot.sponsor or '—'}")
if pilot.hypothesis:
    st.markdown(f"**Hypothesis.** {pilot.hypothesis}")

facts = st.columns(4)
facts[0].metric("Primary metric", primary.label, help=primary.description)
target = "—" if pilot.target_effect is None else f"{pilot.target_effect:+g} {primary.unit}"
facts[1].metric("Target effect", target)
facts[2].metric("Baseline", f"{pilot.baseline_start:%d %b %Y} – {pilot.baseline_end:%d %b %Y}")
facts[3].metric("Pilot window", f"{pilot.pilot_start:%d %b %Y} – {pilot.pilot_end:%d %b %Y}")
st.markdown(f"**Control units:** {', '.join(pilot.control_unit_names) or 'none (before/after only: weaker evidence)'}")
others = [f"{metrics[k].label} ({role})" for k, role in pilot.metric_roles()[1:]]
if others:
    st.markdown(f"**Other metrics:** {', '.join(others)}")
if pilot.decision:
    st.markdown(f"**Decision:** {pilot.decision.replace('_', ' ')} — {pilot.decision_rationale or ''}")

st.subheader(f"{primary.label}: pilot unit against controls, week by week")
series = store.pilot_series(db, actor, pilot, pilot.primary_metric)
if series.empty:
    st.info("No data for this metric in these units around the pilot's windows yet. Import some on the Data page.")
else:
    st.altair_chart(charts.pilot_timeline(series, pilot.unit_name, f"{primary.label} ({primary.unit})",
                                          (pilot.baseline_start, pilot.baseline_end),
                                          (pilot.pilot_start, pilot.pilot_end)), width="stretch")
