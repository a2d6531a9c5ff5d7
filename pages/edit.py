"""Register or edit: the CCO office registers a pilot, edits its facts, moves it through its
lifecycle, records a decision with its rationale, approving body, date and a frozen snapshot of the
evidence, and records which units adopted it.

Every save is based on the version of the pilot this session opened: if someone saved the pilot
since, the save is refused (store.StaleEdit) and nothing is overwritten."""

import dataclasses
import datetime as dt

import streamlit as st

from pages._ui import current_actor, database, in_app_shell, metric_labels, show_problems
from pilots import audit, store
from pilots.analysis import analyze_pilot, case_as_dict
from pilots.model import BARRIER_TYPES, DECISIONS, STATUSES, PilotDraft, ValidationError

in_app_shell()

db, actor = database(), current_actor()
st.title("Register or edit a pilot")
if not actor.is_editor:
    st.error("Only the CCO office registers and edits pilots.")
    st.stop()

NEW = 0
units = [u.name for u in store.list_units(db, actor)]
labels = metric_labels()
if not units or not labels:
    st.info("Add business units and metrics on the Settings page first.")
    st.stop()
pilots = {p.pilot_id: p for p in store.list_pilots(db, actor)}
wanted = st.query_params.get("id")
current = int(wanted) if wanted and wanted.isdigit() and int(wanted) in pilots else NEW
choices = [NEW, *pilots]
chosen = st.selectbox("Pilot", choices, index=choices.index(current),
                      format_func=lambda i: "➕ Register a new pilot" if i == NEW else
                      f"{pilots[i].name} — {pilots[i].unit_name} (#{i})")
if chosen != current:
    if chosen == NEW:
        del st.query_params["id"]
    else:
        st.query_params["id"] = str(chosen)

# What this session opened: the version its saves are based on, and the values its form starts from.
opened: dict = st.session_state.setdefault("edit_opened", {})
generation: dict = st.session_state.setdefault("edit_generation", {})


def open_pilot(pilot_id: int) -> None:
    """(Re)load a pilot as it is now; the form's widgets start afresh from it."""
    pilot = store.get_pilot(db, actor, pilot_id)
    opened[pilot_id] = (pilot.version, store.pilot_draft(pilot))
    generation[pilot_id] = generation.get(pilot_id, 0) + 1


def saved(pilot_id: int, version: int, draft: PilotDraft, message: str) -> None:
    """After a save went through: the session goes on from what was saved, its forms start afresh."""
    opened[pilot_id] = (version, draft)
    generation[pilot_id] = generation.get(pilot_id, 0) + 1
    st.session_state["edit_message"] = message
    st.rerun()


def refused(error: ValidationError) -> None:
    """Show why a save was refused; a stale one stays on screen, with the way out, until reloaded."""
    if isinstance(error, store.StaleEdit):
        st.session_state["edit_stale"] = chosen
        st.rerun()
    show_problems(error.problems)


if chosen != NEW and chosen not in opened:
    open_pilot(chosen)
if "edit_message" in st.session_state:
    st.success(st.session_state.pop("edit_message"))
if chosen != NEW and st.session_state.get("edit_stale") == chosen:
    st.error("Someone else saved this pilot after you opened it, so your change was **not** saved and nothing was "
             "overwritten. Load the current version, then make your change again.", icon=":material/sync_problem:")
    if st.button("Load the current version", icon=":material/refresh:"):
        del st.session_state["edit_stale"]
        open_pilot(chosen)
        st.rerun()

if chosen == NEW:
    today = dt.date.today()
    base_version, base = None, PilotDraft(
        name="", unit=units[0], primary_metric="nps" if "nps" in labels else next(iter(labels)),
        baseline_start=today - dt.timedelta(weeks=12), baseline_end=today - dt.timedelta(days=1),
        pilot_start=today, pilot_end=today + dt.timedelta(weeks=12))
else:
    base_version, base = opened[chosen]
    pilot = pilots[chosen]
    st.caption(f"Status **{pilot.status.replace('_', ' ')}** · editing version {base_version}"
               + (f" (version {pilot.version} is stored now)" if pilot.version != base_version else ""))

key = f"{chosen}_{generation.get(chosen, 0)}"
metric_keys = list(labels)
with st.form(f"pilot_{key}"):
    st.subheader("Facts" if chosen != NEW else "New pilot")
    name = st.text_input("Name", base.name)
    first = st.columns(3)
    unit = first[0].selectbox("Business unit", units, index=units.index(base.unit) if base.unit in units else 0,
                              disabled=chosen != NEW, help="Fixed once the pilot is registered.")
    owner = first[1].text_input("Owner", base.owner)
    sponsor = first[2].text_input("Sponsor", base.sponsor)
    hypothesis = st.text_area("Hypothesis", base.hypothesis, placeholder="If we …, then … because …")
    second = st.columns(2)
    journey_stage = second[0].text_input("Customer-journey stage", base.journey_stage)
    barrier_options = [None, *BARRIER_TYPES]
    barrier_type = second[1].selectbox("Barrier removed", barrier_options,
                                       index=barrier_options.index(base.barrier_type),
                                       format_func=lambda b: "—" if b is None else b)
    windows = st.columns(4)
    baseline_start = windows[0].date_input("Baseline from", base.baseline_start)
    baseline_end = windows[1].date_input("Baseline to", base.baseline_end)
    pilot_start = windows[2].date_input("Pilot from", base.pilot_start)
    pilot_end = windows[3].date_input("Pilot to", base.pilot_end)
    controls = st.multiselect("Control units", units, [c for c in base.controls if c in units],
                              help="Comparable units without the change; they make the effect a "
                                   "difference-in-differences.")
    measures = st.columns(3)
    primary = measures[0].selectbox("Primary metric", metric_keys, index=metric_keys.index(base.primary_metric),
                                    format_func=labels.get, disabled=chosen != NEW,
                                    help="Fixed once the pilot is registered.")
    secondary = measures[1].multiselect("Secondary metrics", metric_keys, base.secondary_metrics,
                                        format_func=labels.get)
    guardrails = measures[2].multiselect("Guardrail metrics", metric_keys, base.guardrail_metrics,
                                         format_func=labels.get)
    money = st.columns(3)
    target = money[0].number_input("Target effect on the primary metric", value=base.target_effect, format="%g",
                                   help="In the metric's own units: NPS points, a share between 0 and 1, days…")
    cost = money[1].number_input("Cost", value=base.cost, min_value=0.0, format="%g")
    value_per_point = money[2].number_input("Annual value of one point per customer", value=base.value_per_point,
                                            format="%g")
    flags = st.columns(2)
    randomised = flags[0].checkbox("Units were assigned at random", base.randomised)
    released = flags[1].checkbox(
        "Name released", base.released,
        help="Other units' heads may see this pilot's name where it touches their unit (e.g. as an overlapping "
             "pilot in their own pilot's checks). Its results stay with its unit's head, the CCO office and the "
             "steering committee.")
    submitted = st.form_submit_button("Register pilot" if chosen == NEW else "Save changes", type="primary")

if submitted:
    draft = PilotDraft(
        name=name, unit=unit, primary_metric=primary, baseline_start=baseline_start, baseline_end=baseline_end,
        pilot_start=pilot_start, pilot_end=pilot_end, controls=controls, secondary_metrics=secondary,
        guardrail_metrics=guardrails, target_effect=target, owner=owner.strip(), sponsor=sponsor.strip(),
        hypothesis=hypothesis.strip(), journey_stage=journey_stage.strip(), barrier_type=barrier_type, cost=cost,
        randomised=randomised, released=released, status=base.status, value_per_point=value_per_point)
    try:
        if chosen == NEW:
            new_id = store.add_pilot(db, actor, draft)
            st.session_state["edit_message"] = f"Registered “{draft.name.strip()}” as pilot {new_id}."
            st.query_params["id"] = str(new_id)
            st.rerun()
        else:
            saved(chosen, store.update_pilot(db, actor, chosen, draft, base_version), draft,
                  "Saved; the change is in the audit log.")
    except ValidationError as error:
        refused(error)

if chosen == NEW:
    st.stop()

st.subheader("Lifecycle")
moves = [s for s in STATUSES[:4] if s != base.status]
move_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
move_to = move_col.selectbox("Move to", moves, format_func=lambda s: s.replace("_", " "), key=f"move_{key}")
if button_col.button("Move", key=f"move_button_{key}"):
    try:
        store.set_status(db, actor, chosen, move_to, expected_version=base_version)
        saved(chosen, base_version + 1, dataclasses.replace(base, status=move_to),
              f"Moved to {move_to.replace('_', ' ')}.")
    except ValidationError as error:
        refused(error)

st.subheader("Decision")
st.caption("A decision freezes the case for rollout as it stands now; the Pilot page keeps showing that "
           "snapshot next to the current numbers.")
with st.form(f"decision_{key}"):
    columns = st.columns(3)
    decision = columns[0].selectbox("Decision", DECISIONS, format_func=lambda d: d.replace("_", " "))
    approved_by = columns[1].text_input("Approved by", placeholder="e.g. Steering committee")
    decided_on = columns[2].date_input("Decided on", dt.date.today())
    rationale = st.text_area("Rationale", placeholder="Why, in the words of the approving body")
    if st.form_submit_button("Record decision"):
        try:
            evidence = case_as_dict(analyze_pilot(db, actor, chosen))
            store.record_decision(db, actor, chosen, decision, rationale, approved_by, decided_on, evidence,
                                  expected_version=base_version)
            saved(chosen, base_version + 1,
                  dataclasses.replace(base, status="decided"), f"Recorded the decision to {decision.replace('_', ' ')}.")
        except ValidationError as error:
            refused(error)

if pilots[chosen].decision == "roll_out":
    st.subheader("Rollout")
    with st.form(f"rollout_{key}"):
        adopters = st.multiselect("Units adopting the change", [u for u in units if u != base.unit])
        adopted_on = st.date_input("Adopted on", dt.date.today())
        if st.form_submit_button("Record rollout"):
            try:
                store.record_rollout(db, actor, chosen, adopters, adopted_on, expected_version=base_version)
                saved(chosen, base_version + 1, dataclasses.replace(base, status="rolled_out"),
                      f"Recorded the rollout to {', '.join(adopters)}.")
            except ValidationError as error:
                refused(error)

with st.expander("Change history of this pilot"):
    history = audit.list_audit(db, actor, audit.AuditFilter(entities=("pilot",), entity_id=str(chosen)))
    st.dataframe(history.drop(columns=["entity", "entity_id"]), hide_index=True, width="stretch")
