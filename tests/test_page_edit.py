"""Editing pilots: the domain's rules for an edit (validation, fixed unit and primary metric,
optimistic locking), then the Register-or-edit page per role with AppTest (`at.user` signed in, or
the local demo's role switcher), two sessions editing the same pilot, decisions with their evidence
snapshot on the Pilot page, comments, and managing access on the Settings page. The form's finish: a
refused save shows each problem in plain words right under its field (next element in the page's
order) and keeps everything typed, required fields are marked, no label needs an emoji font, and the
overlap warning names other pilots in the tense their dates call for, as typed (no Markdown), without
blocking the save."""

import dataclasses
import datetime as dt
import unicodedata
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from apptests import open_page, read
from pilots import audit, comments, lifecycle, store, users
from pilots.access import COMMAND_LINE, Actor
from pilots.model import PilotDraft, ValidationError

PAGES = Path(__file__).resolve().parents[1] / "pages"
APP = str(PAGES.parent / "app.py")
AUTH = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-only",
                 "client_id": "tracker", "client_secret": "test-only",
                 "server_metadata_url": "http://localhost:9/.well-known/openid-configuration"}}
CCO = Actor("cco@example.com", "editor")


# ---------------------------------------------------------------- the domain's rules for an edit

def test_an_edit_saves_every_fact_and_moves_the_version_on(small_org):
    db, pilot_id = small_org
    draft = store.pilot_draft(store.get_pilot(db, CCO, pilot_id))
    edited = dataclasses.replace(draft, name="Callback, second wave", owner="Olga", controls=["Claims", "Online"],
                                 secondary_metrics=["csat"], guardrail_metrics=[], target_effect=4.0,
                                 pilot_end=dt.date(2025, 7, 27), released=True, barrier_type="operational")
    assert store.update_pilot(db, CCO, pilot_id, edited, expected_version=1) == 2
    pilot = store.get_pilot(db, CCO, pilot_id)
    assert (pilot.name, pilot.owner, pilot.control_unit_names, pilot.secondary_metrics, pilot.guardrail_metrics,
            pilot.target_effect, pilot.pilot_end, pilot.released, pilot.barrier_type, pilot.version) == (
        "Callback, second wave", "Olga", ("Claims", "Online"), ("csat",), (), 4.0, dt.date(2025, 7, 27), True,
        "operational", 2)
    assert store.pilot_draft(pilot) == edited


@pytest.mark.parametrize("change, column, reason", [
    (dict(unit="Online"), "unit", "the pilot's units are fixed at registration"),
    (dict(further_units=["Claims"]), "unit", "the pilot's units are fixed at registration"),
    (dict(primary_metric="csat"), "primary_metric", "the primary metric is fixed at registration"),
    (dict(status="running"), "status", "changes by a lifecycle move"),
    (dict(baseline_end=dt.date(2025, 4, 15)), "baseline", "must end before the pilot window starts"),
    (dict(pilot_end=dt.date(2025, 3, 1)), "pilot", "the pilot window ends before it starts"),
    (dict(controls=["Retail"]), "control", "a control unit must differ from the pilot's units"),
    (dict(guardrail_metrics=["wait_time"]), "guardrail_metrics", "no metric 'wait_time' is defined"),
    (dict(target_effect=250.0), "target", "larger than the whole range"),
    (dict(name=" "), "name", "the pilot name must not be empty"),
])
def test_an_invalid_edit_is_refused_and_nothing_changes(small_org, change, column, reason):
    db, pilot_id = small_org
    before = store.get_pilot(db, CCO, pilot_id)
    with pytest.raises(ValidationError) as refused:
        store.update_pilot(db, CCO, pilot_id, dataclasses.replace(store.pilot_draft(before), **change), 1)
    assert any(p.column == column and reason in p.reason for p in refused.value.problems), refused.value.problems
    assert store.get_pilot(db, CCO, pilot_id) == before


def test_two_editors_edit_the_same_pilot_and_the_second_save_is_refused(small_org):
    db, pilot_id = small_org
    first, second = Actor("ann@example.com", "editor"), Actor("bob@example.com", "editor")
    opened_by_first = store.get_pilot(db, first, pilot_id)
    opened_by_second = store.get_pilot(db, second, pilot_id)
    store.update_pilot(db, first, pilot_id, dataclasses.replace(store.pilot_draft(opened_by_first), owner="Ann"),
                       opened_by_first.version)
    with pytest.raises(store.StaleEdit, match="changed by someone else since you opened it"):
        store.update_pilot(db, second, pilot_id,
                           dataclasses.replace(store.pilot_draft(opened_by_second), sponsor="Bob"),
                           opened_by_second.version)
    with pytest.raises(store.StaleEdit):
        lifecycle.set_status(db, second, pilot_id, "running", expected_version=opened_by_second.version)
    now = store.get_pilot(db, COMMAND_LINE, pilot_id)
    assert (now.owner, now.sponsor, now.status, now.version) == ("Ann", "", "proposed", 2)


# ---------------------------------------------------------------- the page

@pytest.fixture
def app_db(small_org, monkeypatch):
    db, pilot_id = small_org
    users.set_user(db, COMMAND_LINE, "cco@example.com", "editor")
    users.set_user(db, COMMAND_LINE, "rita@example.com", "unit_head", ["Retail"])
    users.set_user(db, COMMAND_LINE, "board@example.com", "steering")
    monkeypatch.setenv("PILOTS_DB", str(db.path))
    return db, pilot_id


def app(email: str | None = "cco@example.com", page: str | None = None, **query) -> AppTest:
    """The app (or one page of it) as `email` signed in; None = the local demo without sign-in."""
    at = AppTest.from_file(APP if page is None else str(PAGES / f"{page}.py"), default_timeout=60)
    if email is not None:
        at.secrets = AUTH
        at.user = {"is_logged_in": True, "email": email, "email_verified": True,
                   "iss": "https://login.example.com", "sub": email}
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def widget(at: AppTest, kind: str, label: str):
    found = [w for w in getattr(at, kind) if w.label == label]
    assert found, f"no {kind} labelled {label!r}: {[w.label for w in getattr(at, kind)]}"
    return found[0]


def click(at: AppTest, label: str) -> AppTest:
    widget(at, "button", label).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def following_error(at: AppTest, kind: str, label: str) -> str:
    """The text of the error drawn right under a widget (the next element in the page's order), or ''."""
    target = widget(at, kind, label)
    nodes = [n for n in at.main if not isinstance(n, Block)]
    after = nodes[[i for i, n in enumerate(nodes) if n is target][0] + 1:]
    return read(after[0].value) if after and after[0].type == "error" else ""


def test_the_cco_office_registers_a_pilot_and_a_bad_one_is_refused_with_its_problems(app_db):
    db, _ = app_db
    at = app(page="edit")
    widget(at, "text_input", "Name *").input("Greeter at the door")
    widget(at, "selectbox", "Business unit *").set_value("Claims")
    widget(at, "multiselect", "Control units").set_value(["Claims"])
    click(at, "Register pilot")
    assert "Nothing was saved" in at.error[0].value
    assert following_error(at, "multiselect", "Control units") == \
        "A control unit must differ from the pilot's units (Claims)."
    assert not [d for d in at.dataframe if "row" in d.value.columns], "no import table of problems on a form"
    assert len(store.list_pilots(db, CCO)) == 1
    widget(at, "multiselect", "Control units").set_value(["Online"])
    widget(at, "number_input", "Target effect on the primary metric").set_value(6.0)
    click(at, "Register pilot")
    registered = [p for p in store.list_pilots(db, CCO) if p.name == "Greeter at the door"]
    assert [(p.unit_name, p.control_unit_names, p.target_effect) for p in registered] == [("Claims", ("Online",), 6.0)]
    assert f"as pilot {registered[0].pilot_id}" in at.success[0].value
    assert at.query_params["id"] == str(registered[0].pilot_id)
    entry = audit.list_audit(db, CCO, audit.AuditFilter(entities=("pilot",), actions=("add",))).iloc[0]
    assert (entry["actor"], entry["entity_id"]) == ("cco@example.com", str(registered[0].pilot_id))


def test_a_refused_registration_shows_each_problem_at_its_field_and_keeps_what_was_typed(app_db):
    db, _ = app_db
    at = app(page="edit")
    typed = {("text_input", "Name *"): "Greeter at the door", ("text_input", "Owner"): "Olga",
             ("text_input", "Sponsor"): "Sam", ("text_area", "Hypothesis"): "If we greet, then NPS rises"}
    for (kind, label), text in typed.items():
        widget(at, kind, label).input(text)
    chosen = {("selectbox", "Business unit *"): "Claims", ("multiselect", "Control units"): ["Claims", "Online"],
              ("date_input", "Baseline from *"): dt.date(2025, 1, 6),
              ("date_input", "Baseline to *"): dt.date(2025, 5, 1),
              ("date_input", "Pilot from *"): dt.date(2025, 4, 7), ("date_input", "Pilot to *"): dt.date(2025, 6, 29),
              ("number_input", "Target effect on the primary metric"): 250.0}
    for (kind, label), value in chosen.items():
        widget(at, kind, label).set_value(value)
    click(at, "Register pilot")
    assert [p.name for p in store.list_pilots(db, CCO)] == ["Callback instead of hold queue"]

    summary = read(at.error[0].value)
    assert summary.startswith("Nothing was saved: 3 problems to fix — see Control units, Baseline window, "
                              "Target effect below."), summary
    assert following_error(at, "multiselect", "Control units") == \
        "A control unit must differ from the pilot's units (Claims)."
    assert following_error(at, "date_input", "Baseline to *") == \
        "The baseline window must end before the pilot window starts."
    assert following_error(at, "number_input", "Target effect on the primary metric").startswith(
        "A target of 250.0 is larger than the whole range of Net Promoter Score")
    assert following_error(at, "text_input", "Name *") == ""
    assert len(at.error) == 4, "a summary and one message per problem, nothing else"
    assert not [d for d in at.dataframe if "row" in d.value.columns]
    assert not any("row None" in e.value or "column" in e.value for e in at.error)
    assert any("Not saved: 3 problems marked above" in c.value for c in at.caption), "said by the button too"
    for (kind, label), value in {**typed, **chosen}.items():
        assert widget(at, kind, label).value == value, label  # nothing typed is lost

    # a field put right loses its message at once; the others keep theirs until they are put right
    widget(at, "multiselect", "Control units").set_value(["Online"]).run()
    assert following_error(at, "multiselect", "Control units") == ""
    assert following_error(at, "date_input", "Baseline to *").startswith("The baseline window must end")
    assert "2 problems" in read(at.error[0].value)

    widget(at, "date_input", "Baseline to *").set_value(dt.date(2025, 4, 6))
    widget(at, "number_input", "Target effect on the primary metric").set_value(6.0)
    click(at, "Register pilot")
    assert not at.error
    registered = store.get_pilot(db, CCO, max(p.pilot_id for p in store.list_pilots(db, CCO)))
    assert (registered.name, registered.owner, registered.sponsor, registered.hypothesis, registered.unit_name,
            registered.control_unit_names, registered.baseline_end, registered.target_effect) == (
        "Greeter at the door", "Olga", "Sam", "If we greet, then NPS rises", "Claims", ("Online",),
        dt.date(2025, 4, 6), 6.0)


def test_a_refused_edit_shows_its_problem_at_the_field_and_keeps_the_other_changes(app_db):
    db, pilot_id = app_db
    at = app(page="edit", id=str(pilot_id))
    widget(at, "text_input", "Name *").input("  ")
    widget(at, "text_input", "Owner").input("Olga")
    click(at, "Save changes")
    assert following_error(at, "text_input", "Name *") == "The pilot name must not be empty."
    assert widget(at, "text_input", "Owner").value == "Olga"
    assert store.get_pilot(db, CCO, pilot_id).version == 1
    widget(at, "text_input", "Name *").input("Callback, second wave")
    at.run()
    assert following_error(at, "text_input", "Name *") == "" and not at.error
    click(at, "Save changes")
    assert (store.get_pilot(db, CCO, pilot_id).name, store.get_pilot(db, CCO, pilot_id).owner) == (
        "Callback, second wave", "Olga")


def test_required_fields_are_marked_and_no_label_needs_an_emoji_font(app_db):
    _, pilot_id = app_db
    at = app(page="edit")
    kinds = ("text_input", "text_area", "selectbox", "multiselect", "date_input", "number_input", "checkbox")
    labels = {w.label for kind in kinds for w in getattr(at, kind)}
    assert {"Name *", "Business unit *", "Primary metric *", "Baseline from *", "Baseline to *", "Pilot from *",
            "Pilot to *"} <= labels
    assert {"Owner", "Sponsor", "Hypothesis", "Control units", "Secondary metrics", "Guardrail metrics",
            "Target effect on the primary metric", "Cost"} <= labels, "optional fields carry no mark"
    assert any("Fields marked * are required" in c.value for c in at.caption)
    assert "Register a new pilot" in widget(at, "selectbox", "Pilot").options
    assert widget(at, "button", "Register pilot").proto.icon == ":material/add:"

    edit = app(page="edit", id=str(pilot_id))
    labels = {w.label for kind in kinds for w in getattr(edit, kind)}
    assert {"Decision *", "Approved by *", "Decided on *", "Rationale *"} <= labels
    for page in (at, edit):
        texts = [*(w.label for kind in kinds for w in getattr(page, kind)), *(b.label for b in page.button),
                 *(o for s in page.selectbox for o in s.options), *(s.value for s in page.subheader)]
        pictographs = {c for text in texts for c in text if unicodedata.category(c) == "So"}
        assert not pictographs, f"emoji that Chromium without emoji fonts draws as empty boxes: {pictographs}"


def day(d: dt.date) -> str:
    return f"{d.day} {d:%b %Y}"


def set_draft(at: AppTest, unit: str, controls: list[str], baseline_start: dt.date, pilot_start: dt.date,
              pilot_end: dt.date) -> AppTest:
    widget(at, "selectbox", "Business unit *").set_value(unit)
    widget(at, "multiselect", "Control units").set_value(controls)
    widget(at, "date_input", "Baseline from *").set_value(baseline_start)
    widget(at, "date_input", "Baseline to *").set_value(pilot_start - dt.timedelta(days=1))
    widget(at, "date_input", "Pilot from *").set_value(pilot_start)
    widget(at, "date_input", "Pilot to *").set_value(pilot_end)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def overlap_warning(at: AppTest) -> str:
    """The overlap warning as a person reads it ('' without one); it sits above the save button."""
    found = [w for w in at.warning if "would overlap this one" in w.value]
    if not found:
        return ""
    order = [n for n in at.main if not isinstance(n, Block)]
    save = [b for b in at.button if b.label in ("Register pilot", "Save changes")][0]
    assert [i for i, n in enumerate(order) if n is found[0]][0] < [i for i, n in enumerate(order) if n is save][0]
    return read(found[0].value)


def test_registering_warns_of_overlapping_pilots_in_the_right_tense_and_still_saves(demo_org):
    db, today = demo_org, dt.date.today()
    demo = {p.name: p for p in store.list_pilots(db, CCO)}
    ran = demo["Same-day engineer dispatch"]
    assert (ran.unit_name, ran.pilot_end < today) == ("Field Service", True)
    later = today + dt.timedelta(days=400)
    store.add_pilot(db, COMMAND_LINE, PilotDraft(
        name="Van stock app", unit="Field Service", primary_metric="nps", baseline_start=later,
        baseline_end=later + dt.timedelta(days=83), pilot_start=later + dt.timedelta(days=84),
        pilot_end=later + dt.timedelta(days=167)))

    at = open_page("edit")
    widget(at, "text_input", "Name *").input("Parts lookup on the phone")
    set_draft(at, "Field Service", [], ran.pilot_start - dt.timedelta(weeks=12), ran.pilot_start,
              later + dt.timedelta(days=100))
    warning = overlap_warning(at)
    assert (f"The pilot “Same-day engineer dispatch” ran in Field Service from {day(ran.pilot_start)} to "
            f"{day(ran.pilot_end)}: this pilot's own unit, so the two effects could not be told apart.") in warning
    assert (f"The proposed pilot “Van stock app” will run in Field Service from "
            f"{day(later + dt.timedelta(days=84))} to {day(later + dt.timedelta(days=167))}") in warning
    assert "You can still save" in warning

    click(at, "Register pilot")  # the warning does not block saving
    registered = [p for p in store.list_pilots(db, CCO) if p.name == "Parts lookup on the phone"]
    assert len(registered) == 1 and at.query_params["id"] == str(registered[0].pilot_id)
    warning = overlap_warning(at)  # the registered pilot's page goes on warning, without naming itself
    assert "“Van stock app” will run" in warning and "“Parts lookup on the phone”" not in warning

    at = open_page("edit")
    tracker = demo["Digital claim status tracker"]
    set_draft(at, "Retail Stores", ["Claims"], tracker.pilot_start - dt.timedelta(weeks=12), tracker.pilot_start,
              tracker.pilot_end)
    assert (f"The pilot “Digital claim status tracker” ran in Claims from {day(tracker.pilot_start)} to "
            f"{day(tracker.pilot_end)}: one of this pilot's control units, so that control would no longer be a "
            f"comparison without a change.") in overlap_warning(at)

    clean = today + dt.timedelta(days=5 * 365)
    set_draft(at, "Retail Stores", ["Claims"], clean, clean + dt.timedelta(weeks=12), clean + dt.timedelta(weeks=24))
    assert overlap_warning(at) == "" and not at.warning


def test_names_in_the_overlap_warning_are_shown_as_typed_not_as_markdown(demo_org):
    today = dt.date.today()
    name = "**Loud** <b>launch</b> :material/add: [click](http://example.com) _now_"
    store.add_pilot(demo_org, COMMAND_LINE, PilotDraft(
        name=name, unit="Field Service", primary_metric="nps", baseline_start=today + dt.timedelta(days=400),
        baseline_end=today + dt.timedelta(days=483), pilot_start=today + dt.timedelta(days=484),
        pilot_end=today + dt.timedelta(days=567)))
    at = open_page("edit")
    set_draft(at, "Field Service", [], today + dt.timedelta(days=300), today + dt.timedelta(days=400),
              today + dt.timedelta(days=600))
    source = [w.value for w in at.warning if "would overlap" in w.value][0]
    assert f"“{name}” will run" in read(source)
    for markup in ("**Loud**", "<b>", ":material/add:", "[click](", "_now_"):
        assert markup not in source, f"{markup!r} would be rendered as Markdown"

    widget(at, "text_input", "Name *").input("_Quiet_ *twin*")
    click(at, "Register pilot")
    assert "“_Quiet_ *twin*” as pilot" in read(at.success[0].value) and "_Quiet_" not in at.success[0].value


def test_two_sessions_edit_the_same_pilot_and_the_second_save_is_refused(app_db):
    db, pilot_id = app_db
    first = app("cco@example.com", "edit", id=str(pilot_id))
    users.set_user(db, COMMAND_LINE, "ann@example.com", "editor")
    second = app("ann@example.com", "edit", id=str(pilot_id))
    widget(first, "text_input", "Owner").input("Olga")
    click(first, "Save changes")
    assert "Saved" in first.success[0].value
    widget(second, "text_input", "Sponsor").input("Sam")
    click(second, "Save changes")
    assert "Someone else saved this pilot after you opened it" in second.error[0].value
    pilot = store.get_pilot(db, CCO, pilot_id)
    assert (pilot.owner, pilot.sponsor, pilot.version) == ("Olga", "", 2)
    click(second, "Load the current version")
    assert widget(second, "text_input", "Owner").value == "Olga"
    widget(second, "text_input", "Sponsor").input("Sam")
    click(second, "Save changes")
    pilot = store.get_pilot(db, CCO, pilot_id)
    assert (pilot.owner, pilot.sponsor, pilot.version) == ("Olga", "Sam", 3)
    assert audit.list_audit(db, CCO, audit.AuditFilter(actions=("update",), entities=("pilot",)))["actor"].tolist() \
        == ["ann@example.com", "cco@example.com"]


def test_the_unit_and_primary_metric_of_a_registered_pilot_cannot_be_picked(app_db):
    _, pilot_id = app_db
    at = app(page="edit", id=str(pilot_id))
    assert widget(at, "selectbox", "Business unit *").disabled
    assert widget(at, "selectbox", "Primary metric *").disabled


def test_lifecycle_decision_with_evidence_and_rollout_then_the_pilot_page_shows_the_snapshot(app_db):
    db, pilot_id = app_db
    at = app(page="edit", id=str(pilot_id))
    widget(at, "selectbox", "Move to").set_value("evaluating")
    click(at, "Move")
    assert store.get_pilot(db, CCO, pilot_id).status == "evaluating"
    widget(at, "date_input", "Decided on *").set_value(dt.date(2025, 7, 14))
    click(at, "Record decision")
    assert "The rationale must not be empty." == following_error(at, "text_area", "Rationale *")
    assert following_error(at, "text_input", "Approved by *") == "The approving body must not be empty."
    assert store.get_pilot(db, CCO, pilot_id).decision is None
    assert widget(at, "date_input", "Decided on *").value == dt.date(2025, 7, 14)  # kept after the refusal
    widget(at, "selectbox", "Decision *").set_value("roll_out")
    widget(at, "text_input", "Approved by *").input("Steering committee")
    widget(at, "text_area", "Rationale *").input("NPS up by more than the target, no guardrail harmed")
    click(at, "Record decision")
    pilot = store.get_pilot(db, CCO, pilot_id)
    assert (pilot.status, pilot.decision, pilot.version) == ("decided", "roll_out", 3)
    taken = audit.decisions(db, CCO, pilot_id)
    assert [(d.approved_by, d.decided_on, d.recorded_by) for d in taken] == [
        ("Steering committee", dt.date(2025, 7, 14), "cco@example.com")]
    assert taken[0].evidence["pilot_id"] == pilot_id
    assert [m["metric"] for m in taken[0].evidence["metrics"]] == ["nps", "cost_to_serve"]
    widget(at, "multiselect", "Units adopting the change *").set_value(["Online", "Claims"])
    click(at, "Record wave 1")
    assert store.get_pilot(db, CCO, pilot_id).status == "rolled_out"
    (wave,) = store.rollout_waves(db, CCO, [pilot_id])[pilot_id]
    assert wave.unit_names == ("Claims", "Online")
    # The next wave offers only the units that have not adopted it yet.
    assert widget(at, "multiselect", "Units adopting the change *").options == []
    assert any(read(m.value).startswith("**Wave 1**") for m in at.markdown)

    page = app("board@example.com")
    page.query_params["id"] = str(pilot_id)
    page.switch_page("pages/pilot.py").run()
    assert not page.exception, [e.value for e in page.exception]
    assert "Decisions" in [s.value for s in page.subheader]
    assert any("approved by Steering committee" in read(m.value) for m in page.markdown)
    assert not [d for d in page.dataframe if "effect then" in d.value.columns], \
        "the evidence then and now waits until its expander is opened"
    page.session_state[f"evidence_then_{taken[0].decision_id}"] = True
    page.run()
    snapshot = [d.value for d in page.dataframe if "effect then" in d.value.columns]
    assert snapshot and snapshot[0]["metric"].tolist() == [m["label"] for m in taken[0].evidence["metrics"]]
    assert "effect now" in snapshot[0].columns


def test_a_unit_head_comments_on_their_pilot_and_steering_reads_it(app_db):
    db, pilot_id = app_db
    at = app("rita@example.com")
    at.query_params["id"] = str(pilot_id)
    at.switch_page("pages/pilot.py").run()
    widget(at, "text_area", "Add a comment").input("Staff on the floor like the callback")
    click(at, "Post comment")
    assert [(c.author, c.body) for c in comments.list_comments(db, CCO, pilot_id)] == [
        ("rita@example.com", "Staff on the floor like the callback")]
    board = app("board@example.com")
    board.query_params["id"] = str(pilot_id)
    board.switch_page("pages/pilot.py").run()
    assert "Staff on the floor like the callback" in [t.value for t in board.text]


def test_signed_out_people_see_only_the_sign_in_page_and_unmapped_ones_are_sent_to_the_cco_office(app_db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets = AUTH
    at.user = {"is_logged_in": False}
    at.run()
    assert [t.value for t in at.title] == ["CX Pilot Tracker"]
    assert [b.label for b in at.button] == ["Sign in"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/portfolio.py")
    stranger = app("stranger@example.com")
    assert [t.value for t in stranger.title] == ["Ask the CCO office for access"]
    assert "stranger@example.com" in read(stranger.markdown[0].value)
    assert not stranger.dataframe and not stranger.metric
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        stranger.switch_page("pages/pilots.py")


def test_a_signed_in_person_sees_who_they_are_and_no_role_switcher(app_db):
    at = app("rita@example.com")
    assert "Signed in as **rita@example.com** · head of Retail" == read(at.sidebar.caption[0].value)
    assert not at.sidebar.selectbox and "Local demo mode" not in " ".join(m.value for m in at.markdown)


def test_the_local_demo_shows_a_banner_and_switches_roles(app_db):
    db, pilot_id = app_db
    online = store.add_pilot(db, COMMAND_LINE, dataclasses.replace(
        store.pilot_draft(store.get_pilot(db, CCO, pilot_id)), name="Chat bot", unit="Online", controls=[],
        status="proposed"))
    at = app(None)
    assert "Local demo mode" in at.markdown[0].value
    view_as = at.sidebar.selectbox(key="view_as")
    assert view_as.value == "editor"
    assert view_as.options == [
        "editor (CCO office)", "steering committee", "head of Claims", "head of Online", "head of Retail"]
    at.switch_page("pages/pilots.py").run()
    assert sorted(at.dataframe[0].value["id"].tolist()) == sorted([pilot_id, online])
    online_id = store.unit_lookup(store.list_units(db, CCO))["online"].unit_id
    at.sidebar.selectbox(key="view_as").set_value(f"unit:{online_id}").run()
    assert not at.exception
    assert at.dataframe[0].value["id"].tolist() == [online]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/edit.py")

    at.sidebar.selectbox(key="view_as").set_value("steering").run()
    assert sorted(at.dataframe[0].value["id"].tolist()) == sorted([pilot_id, online])
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/audit.py")


def test_editors_give_and_take_access_on_the_settings_page(app_db):
    db, _ = app_db
    at = app()
    at.switch_page("pages/settings.py").run()
    assert "rita@example.com" in at.dataframe[-1].value["e-mail"].tolist()
    widget(at, "text_input", "E-mail address").input("Omar@Example.com")
    widget(at, "selectbox", "Role").set_value("unit_head")
    widget(at, "multiselect", "Units (unit heads only)").set_value(["Online"])
    click(at, "Save access")
    assert "omar@example.com is now unit head of Online." == read(at.success[0].value)
    assert users.actor_for(db, "omar@example.com").role == "unit_head"
    widget(at, "selectbox", "E-mail address").set_value("board@example.com")
    widget(at, "checkbox", "Yes, remove this person's access").check()
    click(at, "Remove access")
    assert users.actor_for(db, "board@example.com") is None
    steering = app("rita@example.com")
    steering.switch_page("pages/settings.py").run()
    assert "Who has access" not in [s.value for s in steering.subheader]


def test_the_audit_page_filters_entries(app_db):
    db, pilot_id = app_db
    comments.add_comment(db, Actor("rita@example.com", "unit_head", frozenset({1})), pilot_id, "Odd baseline")
    at = app()
    at.switch_page("pages/audit.py").run()
    total = audit.count_audit(db, CCO)
    assert len(at.dataframe[0].value) == total
    widget(at, "multiselect", "Who").set_value(["rita@example.com"]).run()
    ritas = audit.list_audit(db, CCO, audit.AuditFilter(actors=("rita@example.com",)))
    assert ritas["entity"].tolist() == ["comment"]
    assert at.dataframe[0].value["audit_id"].tolist() == ritas["audit_id"].tolist()
    assert at.caption[0].value.startswith("1 entry")
