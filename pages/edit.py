"""Register or edit: the CCO office registers a pilot, edits its facts, moves it through its
lifecycle, records a decision with its rationale, approving body, date and a frozen snapshot of the
evidence, and records which units adopted it.

Every save is based on the version of the pilot this session opened: if someone saved the pilot
since, the save is refused (store.StaleEdit) and nothing is overwritten.

A refused save keeps everything typed and shows each problem in plain words under the field it
concerns (a short summary above the form and by its button says how many). Required fields carry a
" *". While the facts are being filled in, the form warns about other pilots that would overlap the
draft (in its unit or its control units between its baseline start and pilot end), worded by
whether they have run, are running or will run; the warning never blocks the save. No text a person
typed (pilot, unit or metric names) is rendered as Markdown: it is escaped first (pages._ui.literal)."""

import dataclasses
import datetime as dt

import streamlit as st

from pages._ui import current_actor, database, in_app_shell, literal, metric_labels
from pilots import audit, cells, lifecycle, store, text
from pilots.model import BARRIER_TYPES, DECISIONS, STATUSES, Pilot, PilotDraft, Problem, ValidationError

in_app_shell()

db, actor = database(), current_actor()
st.title("Register or edit a pilot")
if not actor.is_editor:
    st.error("Only the CCO office registers and edits pilots.")
    st.stop()

NEW = 0
REQUIRED = " *"  # marks a required field's label; the caption "* required" explains it
unit_list = store.list_units(db, actor)
units = [u.name for u in unit_list]
labels = metric_labels()
if not units or not labels:
    st.info("Add business units and metrics on the Settings page first.")
    st.stop()
pilots = {p.pilot_id: p for p in store.list_pilots(db, actor)}
wanted = st.query_params.get("id")
current = int(wanted) if wanted and wanted.isdigit() and int(wanted) in pilots else NEW
choices = [NEW, *pilots]
chosen = st.selectbox("Pilot", choices, index=choices.index(current),
                      format_func=lambda i: "Register a new pilot" if i == NEW else
                      f"{text.printable(pilots[i].name)} — {text.printable(pilots[i].units_label)} (#{i})")

# What this session opened: the version its saves are based on, and the values its form starts from.
opened: dict = st.session_state.setdefault("edit_opened", {})
generation: dict = st.session_state.setdefault("edit_generation", {})
# The problems of the last refused save per form: (problems, the values they were found in or None).
refusals: dict = st.session_state.setdefault("edit_refusals", {})

if chosen != current:
    refusals.clear()
    if chosen == NEW:
        del st.query_params["id"]
    else:
        st.query_params["id"] = str(chosen)


# ---------------------------------------------------------------- words

def day(d: dt.date) -> str:
    return f"{d.day} {d:%b %Y}"


# Where a problem shows: the field (or group of fields) its Problem.column names, in the form's words.
FIELD_NAMES = {
    "name": "Name", "unit": "Business unit", "control": "Control units", "baseline": "Baseline window",
    "pilot": "Pilot window", "primary_metric": "Primary metric", "secondary_metrics": "Secondary metrics",
    "guardrail_metrics": "Guardrail metrics", "metrics": "Metrics", "target": "Target effect", "cost": "Cost",
    "barrier_type": "Barrier removed", "status": "Status", "decision": "Decision", "rationale": "Rationale",
    "approved_by": "Approved by", "units": "Units adopting the change", "start": "Go-live date",
}
# The draft's values a facts problem is about: once one of them changes, the problem is no longer shown.
PROBLEM_VALUES = {
    "name": ("name",), "unit": ("unit", "further_units"), "control": ("unit", "further_units", "controls"),
    "baseline": ("baseline_start", "baseline_end", "pilot_start"), "pilot": ("pilot_start", "pilot_end"),
    "primary_metric": ("primary_metric",), "secondary_metrics": ("secondary_metrics",),
    "guardrail_metrics": ("guardrail_metrics",),
    "metrics": ("primary_metric", "secondary_metrics", "guardrail_metrics"),
    "target": ("primary_metric", "target_effect"), "cost": ("cost",), "barrier_type": ("barrier_type",),
}


def sentence(problem: Problem) -> str:
    """A problem as a plain sentence: the reason, capitalised, with the unit or metric it is about
    when the reason does not name it already (never the import table's "row / column / value")."""
    reason = problem.reason.strip()
    text = reason[:1].upper() + reason[1:]
    if problem.column in ("control", "units", "secondary_metrics", "guardrail_metrics") and problem.value \
            and problem.value not in reason:
        text += f" ({labels.get(problem.value, problem.value)})"
    return text if text.endswith(".") else text + "."


# ---------------------------------------------------------------- refusals, at their fields

def refuse(form: str, error: ValidationError, values: PilotDraft | None = None) -> None:
    """Remember why a save was refused and run again, so that every problem shows at its field (what
    was typed stays in the widgets). A stale save stays on screen, with the way out, until reloaded."""
    if isinstance(error, store.StaleEdit):
        st.session_state["edit_stale"] = chosen
        refusals.pop(form, None)
    else:
        refusals[form] = (list(error.problems), values)
    st.rerun()


def open_problems(form: str, values: PilotDraft | None = None) -> list[Problem]:
    """The problems of the form's last refused save that still stand: a facts problem goes once a
    value it is about has been changed since."""
    problems, refused_values = refusals.get(form, ([], None))
    if refused_values is None or values is None:
        return problems
    return [p for p in problems if all(getattr(values, f) == getattr(refused_values, f)
                                       for f in PROBLEM_VALUES.get(p.column, ()))]


def summary(form: str, placed: set[str], values: PilotDraft | None = None) -> None:
    """Above a form: how many problems stopped its last save, and those that concern no one field."""
    problems = open_problems(form, values)
    if not problems:
        return
    fields = list(dict.fromkeys(FIELD_NAMES.get(p.column, "") for p in problems if p.column in placed))
    lines = [f"Nothing was saved: {len(problems)} problem{'s' if len(problems) != 1 else ''} to fix"
             + (f" — see {', '.join(fields)} below." if fields else ".")]
    lines += [f"- {literal((FIELD_NAMES.get(p.column, '') + ': ') if p.column in FIELD_NAMES else '')}"
              f"{literal(sentence(p))}" for p in problems if p.column not in placed]
    st.error("\n".join(lines), icon=":material/error:")


def at_field(form: str, *columns: str, values: PilotDraft | None = None) -> None:
    """Under a field: the problems of the last refused save that concern it, in plain words."""
    for problem in open_problems(form, values):
        if problem.column in columns:
            st.error(literal(sentence(problem)), icon=":material/arrow_upward:")


def by_button(form: str, values: PilotDraft | None = None) -> None:
    """Beside a form's button, where the eye is after a click: the save did not go through."""
    count = len(open_problems(form, values))
    if count:
        st.caption(f":red[:material/error: Not saved: {count} problem{'s' if count != 1 else ''} marked above.]")


# ---------------------------------------------------------------- overlapping pilots

def draft_overlaps(draft: PilotDraft, pilot_id: int) -> list:
    """Other pilots (and rollouts) that would overlap the draft: the rows cells.overlapping_pilots
    gives for the draft put in a registered pilot's shape (unknown units and a control that is one of
    the pilot's units are left out: the save refuses those anyway)."""
    lookup = store.unit_lookup(unit_list)
    if draft.unit.strip().casefold() not in lookup or draft.baseline_start > draft.pilot_end:
        return []
    mine = [lookup[u.strip().casefold()] for u in draft.units if u.strip().casefold() in lookup]
    controls = [lookup[c.strip().casefold()] for c in draft.controls
                if c.strip().casefold() in lookup and lookup[c.strip().casefold()] not in mine]
    subject = Pilot(pilot_id=pilot_id, name=draft.name, unit_id=mine[0].unit_id, unit_name=mine[0].name,
                    baseline_start=draft.baseline_start, baseline_end=draft.baseline_end,
                    pilot_start=draft.pilot_start, pilot_end=draft.pilot_end, primary_metric=draft.primary_metric,
                    control_unit_ids=tuple(c.unit_id for c in controls),
                    control_unit_names=tuple(c.name for c in controls),
                    further_unit_ids=tuple(u.unit_id for u in mine[1:]),
                    further_unit_names=tuple(u.name for u in mine[1:]))
    return list(cells.overlapping_pilots(db, actor, [subject]).itertuples(index=False))


def overlap_sentence(row, today: dt.date) -> str:
    """One overlapping pilot in words, in the tense its dates call for as of `today`."""
    if row.kind in ("same_unit", "control_treated"):
        if row.start > today:
            when = f"will run in {row.unit} from {day(row.start)} to {day(row.end)}"
        elif row.end < today:
            when = f"ran in {row.unit} from {day(row.start)} to {day(row.end)}"
        else:
            when = f"has been running in {row.unit} since {day(row.start)} and runs until {day(row.end)}"
    else:
        when = (f"will be rolled out to {row.unit} on {day(row.start)}" if row.start > today
                else f"was rolled out to {row.unit} on {day(row.start)}")
    own = row.kind in ("same_unit", "same_unit_rollout")
    why = ("this pilot's own unit, so the two effects could not be told apart" if own else
           "one of this pilot's control units, so that control would no longer be a comparison without a change")
    planned = "proposed pilot" if row.status == "proposed" else "pilot"
    return f"The {planned} “{row.name}” {when}: {why}."


def overlap_warning(draft: PilotDraft, rows: list) -> None:
    today = dt.date.today()
    count = len({row.pilot_id for row in rows})
    lines = [f"**{count} other pilot{'s' if count != 1 else ''} would overlap this one** (its units between "
             f"{literal(day(draft.baseline_start))} and {literal(day(draft.pilot_end))}):"]
    lines += [f"- {literal(overlap_sentence(row, today))}" for row in rows]
    lines.append("\nYou can still save. An overlap weakens the evidence: the pilot's case lists it as a check, and "
                 "one with a pilot past the proposal stage keeps the case from a verdict. Other dates or other "
                 "control units avoid it.")
    st.warning("\n".join(lines), icon=":material/warning:")


# ---------------------------------------------------------------- the pilot this session edits

def open_pilot(pilot_id: int) -> None:
    """(Re)load a pilot as it is now; the form's widgets start afresh from it."""
    pilot = store.get_pilot(db, actor, pilot_id)
    opened[pilot_id] = (pilot.version, store.pilot_draft(pilot))
    generation[pilot_id] = generation.get(pilot_id, 0) + 1


def saved(pilot_id: int, version: int, draft: PilotDraft, message: str) -> None:
    """After a save went through: the session goes on from what was saved, its forms start afresh."""
    opened[pilot_id] = (version, draft)
    generation[pilot_id] = generation.get(pilot_id, 0) + 1
    refusals.clear()
    st.session_state["edit_message"] = message
    st.rerun()


if chosen != NEW and chosen not in opened:
    open_pilot(chosen)
if "edit_message" in st.session_state:
    st.success(st.session_state.pop("edit_message"))
if chosen != NEW and st.session_state.get("edit_stale") == chosen:
    st.error("Someone else saved this pilot after you opened it, so your change was **not** saved and nothing was "
             "overwritten. Load the current version, then make your change again.", icon=":material/sync_problem:")
    if st.button("Load the current version", icon=":material/refresh:"):
        del st.session_state["edit_stale"]
        refusals.clear()
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


def typed(name: str):
    """The value a facts widget holds now (before it is drawn in this run), else the pilot's own."""
    return st.session_state.get(f"{name}_{key}", getattr(base, name))


# ---------------------------------------------------------------- facts (no st.form: the overlap warning follows
# the draft as it is typed; the widgets keep what was typed until a save goes through)

FACTS = f"facts_{key}"
FACT_FIELDS = {"name", "unit", "control", "baseline", "pilot", "primary_metric", "secondary_metrics",
               "guardrail_metrics", "metrics", "target", "cost", "barrier_type"}
# The draft as the widgets hold it at the start of this run: decides which refused problems still stand.
now = dataclasses.replace(base, **{f: typed(f) for f in (
    "name", "unit", "further_units", "controls", "baseline_start", "baseline_end", "pilot_start", "pilot_end",
    "primary_metric", "secondary_metrics", "guardrail_metrics", "target_effect", "cost", "barrier_type")})
with st.container(border=True):
    st.subheader("Facts" if chosen != NEW else "New pilot")
    st.caption(f"Fields marked{REQUIRED} are required.")
    summary(FACTS, FACT_FIELDS, now)
    name = st.text_input("Name" + REQUIRED, base.name, key=f"name_{key}")
    at_field(FACTS, "name", values=now)
    first = st.columns(3)
    with first[0]:
        unit = st.selectbox("Business unit" + REQUIRED, units,
                            index=units.index(base.unit) if base.unit in units else 0, key=f"unit_{key}",
                            disabled=chosen != NEW, help="Fixed once the pilot is registered.")
        at_field(FACTS, "unit", values=now)
    further_units = first[1].multiselect(
        "Also in units", [u for u in units if u != unit], [u for u in base.further_units if u in units and u != unit],
        key=f"further_units_{key}", disabled=chosen != NEW,
        help="A pilot may start in more than one unit; its effect is their average change. Fixed once registered.")
    owner = first[2].text_input("Owner", base.owner, key=f"owner_{key}")
    sponsor = st.text_input("Sponsor", base.sponsor, key=f"sponsor_{key}")
    hypothesis = st.text_area("Hypothesis", base.hypothesis, placeholder="If we …, then … because …",
                              key=f"hypothesis_{key}")
    second = st.columns(2)
    journey_stage = second[0].text_input("Customer-journey stage", base.journey_stage, key=f"journey_stage_{key}")
    barrier_options: list[str | None] = [None, *BARRIER_TYPES]
    with second[1]:
        barrier_type = st.selectbox("Barrier removed", barrier_options,
                                    index=barrier_options.index(base.barrier_type), key=f"barrier_type_{key}",
                                    format_func=lambda b: "—" if b is None else b)
        at_field(FACTS, "barrier_type", values=now)
    baseline_window, pilot_window = st.columns(2)
    with baseline_window:
        start, end = st.columns(2)
        baseline_start = start.date_input("Baseline from" + REQUIRED, base.baseline_start,
                                          key=f"baseline_start_{key}")
        baseline_end = end.date_input("Baseline to" + REQUIRED, base.baseline_end, key=f"baseline_end_{key}")
        at_field(FACTS, "baseline", values=now)
    with pilot_window:
        start, end = st.columns(2)
        pilot_start = start.date_input("Pilot from" + REQUIRED, base.pilot_start, key=f"pilot_start_{key}")
        pilot_end = end.date_input("Pilot to" + REQUIRED, base.pilot_end, key=f"pilot_end_{key}")
        at_field(FACTS, "pilot", values=now)
    controls = st.multiselect("Control units", units, [c for c in base.controls if c in units],
                              key=f"controls_{key}",
                              help="Comparable units without the change; they make the effect a "
                                   "difference-in-differences.")
    at_field(FACTS, "control", values=now)
    measures = st.columns(3)
    with measures[0]:
        primary = st.selectbox("Primary metric" + REQUIRED, metric_keys,
                               index=metric_keys.index(base.primary_metric), key=f"primary_metric_{key}",
                               format_func=labels.get, disabled=chosen != NEW,
                               help="Fixed once the pilot is registered.")
        at_field(FACTS, "primary_metric", values=now)
    with measures[1]:
        secondary = st.multiselect("Secondary metrics", metric_keys, base.secondary_metrics,
                                   key=f"secondary_metrics_{key}", format_func=labels.get)
        at_field(FACTS, "secondary_metrics", values=now)
    with measures[2]:
        guardrails = st.multiselect("Guardrail metrics", metric_keys, base.guardrail_metrics,
                                    key=f"guardrail_metrics_{key}", format_func=labels.get)
        at_field(FACTS, "guardrail_metrics", values=now)
    at_field(FACTS, "metrics", values=now)
    money = st.columns(3)
    with money[0]:
        target = st.number_input("Target effect on the primary metric", value=base.target_effect, format="%g",
                                 key=f"target_effect_{key}",
                                 help="In the metric's own units: NPS points, a share between 0 and 1, days…")
        at_field(FACTS, "target", values=now)
    with money[1]:
        cost = st.number_input("Cost", value=base.cost, min_value=0.0, format="%g", key=f"cost_{key}")
        at_field(FACTS, "cost", values=now)
    value_per_point = money[2].number_input("Annual value of one point per customer", value=base.value_per_point,
                                            format="%g", key=f"value_per_point_{key}")
    flags = st.columns(2)
    randomised = flags[0].checkbox("Units were assigned at random", base.randomised, key=f"randomised_{key}")
    released = flags[1].checkbox(
        "Name released", base.released, key=f"released_{key}",
        help="Other units' heads may see this pilot's name where it touches their unit (e.g. as an overlapping "
             "pilot in their own pilot's checks). Its results stay with its unit's head, the CCO office and the "
             "steering committee.")
    draft = PilotDraft(
        name=name, unit=unit, further_units=further_units, primary_metric=primary, baseline_start=baseline_start, baseline_end=baseline_end,
        pilot_start=pilot_start, pilot_end=pilot_end, controls=controls, secondary_metrics=secondary,
        guardrail_metrics=guardrails, target_effect=target, owner=owner.strip(), sponsor=sponsor.strip(),
        hypothesis=hypothesis.strip(), journey_stage=journey_stage.strip(), barrier_type=barrier_type, cost=cost,
        randomised=randomised, released=released, status=base.status, value_per_point=value_per_point)
    overlaps = draft_overlaps(draft, chosen)
    if overlaps:
        overlap_warning(draft, overlaps)
    submitted = st.button("Register pilot" if chosen == NEW else "Save changes", type="primary",
                          icon=":material/add:" if chosen == NEW else ":material/save:", key=f"save_{key}")
    by_button(FACTS, now)

if submitted:
    try:
        if chosen == NEW:
            new_id = store.add_pilot(db, actor, draft)
            generation[NEW] = generation.get(NEW, 0) + 1  # the next new pilot starts from an empty form
            refusals.clear()
            st.session_state["edit_message"] = f"Registered “{literal(draft.name.strip())}” as pilot {new_id}."
            st.query_params["id"] = str(new_id)
            st.rerun()
        else:
            saved(chosen, store.update_pilot(db, actor, chosen, draft, base_version), draft,
                  "Saved; the change is in the audit log.")
    except ValidationError as error:
        refuse(FACTS, error, draft)

if chosen == NEW:
    st.stop()

# ---------------------------------------------------------------- lifecycle, decision, rollout

st.subheader("Lifecycle")
MOVE = f"move_{key}"
summary(MOVE, set())
moves = [s for s in STATUSES[:4] if s != base.status]
move_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
move_to = move_col.selectbox("Move to", moves, format_func=lambda s: s.replace("_", " "), key=f"move_{key}")
if button_col.button("Move", key=f"move_button_{key}", icon=":material/arrow_forward:"):
    refusals.pop(MOVE, None)
    try:
        lifecycle.set_status(db, actor, chosen, move_to, expected_version=base_version)
        saved(chosen, base_version + 1, dataclasses.replace(base, status=move_to),
              f"Moved to {move_to.replace('_', ' ')}.")
    except ValidationError as error:
        refuse(MOVE, error)

st.subheader("Decision")
st.caption("A decision freezes the case for rollout as it stands now; the Pilot page keeps showing that "
           f"snapshot next to the current numbers. Fields marked{REQUIRED} are required.")
DECISION = f"decision_{key}"
with st.form(DECISION):
    summary(DECISION, {"decision", "approved_by", "rationale"})
    columns = st.columns(3)
    with columns[0]:
        decision = st.selectbox("Decision" + REQUIRED, DECISIONS, format_func=lambda d: d.replace("_", " "))
        at_field(DECISION, "decision")
    with columns[1]:
        approved_by = st.text_input("Approved by" + REQUIRED, placeholder="e.g. Steering committee")
        at_field(DECISION, "approved_by")
    decided_on = columns[2].date_input("Decided on" + REQUIRED, dt.date.today())
    rationale = st.text_area("Rationale" + REQUIRED, placeholder="Why, in the words of the approving body")
    at_field(DECISION, "rationale")
    record = st.form_submit_button("Record decision", icon=":material/gavel:")
    by_button(DECISION)
    if record:
        try:
            lifecycle.record_decision(db, actor, chosen, decision, rationale, approved_by, decided_on,
                                      expected_version=base_version)
            saved(chosen, base_version + 1, dataclasses.replace(base, status="decided"),
                  f"Recorded the decision to {decision.replace('_', ' ')}.")
        except ValidationError as error:
            refuse(DECISION, error)

if pilots[chosen].decision == "roll_out":
    st.subheader("Rollout waves")
    st.caption("Each wave is the units that adopt the change on one date. Once a wave has eight weeks of data, the "
               "Pilot page shows whether the effect held there.")
    waves = store.rollout_waves(db, actor, [chosen]).get(chosen, [])
    for number, wave in enumerate(waves, start=1):
        st.markdown(f"**Wave {number}**, live from {wave.start:%d %b %Y}: {literal(', '.join(wave.unit_names))}")
    taken = {*pilots[chosen].unit_names, *(name for wave in waves for name in wave.unit_names)}
    ROLLOUT = f"rollout_{key}"
    with st.form(ROLLOUT):
        summary(ROLLOUT, {"units", "start"})
        adopters = st.multiselect("Units adopting the change" + REQUIRED, [u for u in units if u not in taken])
        at_field(ROLLOUT, "units")
        adopted_on = st.date_input("Go-live date" + REQUIRED, dt.date.today())
        at_field(ROLLOUT, "start")
        rollout = st.form_submit_button(f"Record wave {len(waves) + 1}", icon=":material/rocket_launch:")
        by_button(ROLLOUT)
        if rollout:
            try:
                lifecycle.record_rollout(db, actor, chosen, adopters, adopted_on, expected_version=base_version)
                saved(chosen, base_version + 1, dataclasses.replace(base, status="rolled_out"),
                      f"Recorded wave {len(waves) + 1}: {literal(', '.join(adopters))} from {adopted_on:%d %b %Y}.")
            except ValidationError as error:
                refuse(ROLLOUT, error)

with st.expander("Change history of this pilot"):
    history = audit.list_audit(db, actor, audit.AuditFilter(entities=("pilot",), entity_id=str(chosen)))
    st.dataframe(history.drop(columns=["entity", "entity_id"]), hide_index=True, width="stretch")
