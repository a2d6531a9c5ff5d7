import dataclasses
import datetime as dt

import pytest

from pilots import lifecycle, store
from pilots.access import COMMAND_LINE, AccessDenied, Actor
from pilots.model import PilotDraft, ValidationError

STEERING = Actor("board@example.com", "steering")


def draft(**changes):
    base = dict(name="Returns at the door", unit="Retail", primary_metric="resolution_days",
                baseline_start=dt.date(2025, 1, 6), baseline_end=dt.date(2025, 3, 30),
                pilot_start=dt.date(2025, 3, 31), pilot_end=dt.date(2025, 6, 29), controls=["Online"])
    base.update(changes)
    return PilotDraft(**base)


def test_pilot_round_trips_with_its_controls_and_metrics(small_org):
    db, pilot_id = small_org
    pilot = store.get_pilot(db, COMMAND_LINE, pilot_id)
    assert (pilot.unit_name, pilot.primary_metric, pilot.target_effect) == ("Retail", "nps", 5.0)
    assert pilot.control_unit_names == ("Online",) and pilot.guardrail_metrics == ("cost_to_serve",)
    assert pilot.metric_roles() == [("nps", "primary"), ("cost_to_serve", "guardrail")]


def test_bad_pilot_lists_every_problem_and_writes_nothing(small_org):
    db, _ = small_org
    before = store.table_counts(db)
    with pytest.raises(ValidationError) as refused:
        store.add_pilot(db, COMMAND_LINE, draft(unit="Retial", primary_metric="nsp", controls=["Online", "Onlien"],
                                                pilot_start=dt.date(2025, 3, 1)))
    text = str(refused.value)
    assert "unknown unit 'Retial': did you mean 'Retail'?" in text
    assert "did you mean 'Online'?" in text
    assert "no metric 'nsp'" in text
    assert "baseline window must end before the pilot window starts" in text
    assert store.table_counts(db) == before


def test_control_must_differ_from_pilot_unit(small_org):
    db, _ = small_org
    with pytest.raises(ValidationError, match="control unit must differ"):
        store.add_pilot(db, COMMAND_LINE, draft(controls=["retail"]))


def test_unit_names_are_unique_whatever_their_case(small_org):
    db, _ = small_org
    with pytest.raises(ValidationError, match="exists already"):
        store.add_unit(db, COMMAND_LINE, "  RETAIL ")


def test_a_unit_in_use_can_be_renamed(small_org):
    db, pilot_id = small_org
    retail = store.unit_lookup(store.list_units(db, COMMAND_LINE))["retail"]
    store.update_unit(db, COMMAND_LINE, store.Unit(retail.unit_id, "Retail Stores", "Rita", 130_000, 310.0))
    assert store.get_pilot(db, COMMAND_LINE, pilot_id).unit_name == "Retail Stores"


def test_only_editors_write(small_org):
    db, pilot_id = small_org
    with pytest.raises(AccessDenied):
        store.add_unit(db, STEERING, "Shadow unit")
    with pytest.raises(AccessDenied):
        lifecycle.set_status(db, STEERING, pilot_id, "running")
    assert "Shadow unit" not in [u.name for u in store.list_units(db, COMMAND_LINE)]


def test_unit_head_sees_only_their_units_pilots(small_org):
    db, pilot_id = small_org
    units = store.unit_lookup(store.list_units(db, COMMAND_LINE))
    online_head = Actor("omar@example.com", "unit_head", frozenset({units["online"].unit_id}))
    retail_head = Actor("rita@example.com", "unit_head", frozenset({units["retail"].unit_id}))
    assert store.list_pilots(db, online_head) == []
    with pytest.raises(AccessDenied):
        store.get_pilot(db, online_head, pilot_id)
    assert [p.pilot_id for p in store.list_pilots(db, retail_head)] == [pilot_id]


def test_lifecycle_decision_and_rollout_are_audited_and_locked(small_org):
    db, pilot_id = small_org
    lifecycle.set_status(db, COMMAND_LINE, pilot_id, "running", expected_version=1)
    with pytest.raises(store.StaleEdit, match="changed by someone else"):
        lifecycle.set_status(db, COMMAND_LINE, pilot_id, "evaluating", expected_version=1)
    with pytest.raises(ValidationError, match="rationale"):
        lifecycle.record_decision(db, COMMAND_LINE, pilot_id, "roll_out", " ", "Steering", dt.date(2025, 7, 1))
    lifecycle.record_decision(db, COMMAND_LINE, pilot_id, "roll_out", "Lift beat target", "Steering committee",
                              dt.date(2025, 7, 1), expected_version=2)
    lifecycle.record_rollout(db, COMMAND_LINE, pilot_id, ["Online", "Claims"], dt.date(2025, 9, 1))
    pilot = store.get_pilot(db, COMMAND_LINE, pilot_id)
    assert (pilot.status, pilot.decision, pilot.version) == ("rolled_out", "roll_out", 4)
    with db.cursor() as cur:
        actions = [r[0] for r in cur.execute(
            "SELECT action FROM audit_log WHERE entity = 'pilot' ORDER BY audit_id").fetchall()]
        evidence = cur.execute("SELECT evidence->>'pilot_id', evidence->>'status' FROM decision_log").fetchone()
    assert actions == ["add", "status", "decide", "roll out"]
    assert evidence == (str(pilot_id), "running")  # the case as it stood when decided


def test_stop_decision_cannot_be_rolled_out(small_org):
    db, pilot_id = small_org
    lifecycle.record_decision(db, COMMAND_LINE, pilot_id, "stop", "No lift", "Steering", dt.date(2025, 7, 1))
    with pytest.raises(ValidationError, match="only a pilot decided for roll-out"):
        lifecycle.record_rollout(db, COMMAND_LINE, pilot_id, ["Online"], dt.date(2025, 9, 1))


def test_a_unit_edit_based_on_an_old_copy_is_refused_and_bad_figures_too(db):
    loaded = store.add_unit(db, COMMAND_LINE, "Retail", customers=100_000)
    first = store.update_unit(db, COMMAND_LINE, dataclasses.replace(loaded, customers=120_000), expected=loaded)
    with pytest.raises(store.StaleEdit, match="changed by someone else"):
        store.update_unit(db, COMMAND_LINE, dataclasses.replace(loaded, head="Rita"), expected=loaded)
    with pytest.raises(ValidationError, match="must not be negative"):
        store.update_unit(db, COMMAND_LINE, dataclasses.replace(first, revenue_per_customer=-1.0), expected=first)
    store.add_unit(db, COMMAND_LINE, "Online")
    with pytest.raises(ValidationError, match="a unit named 'Online' exists already"):
        store.update_unit(db, COMMAND_LINE, dataclasses.replace(first, name=" online "), expected=first)
    assert store.unit_lookup(store.list_units(db, COMMAND_LINE))["retail"] == first


def test_a_pilot_may_start_in_several_units_fixed_once_registered(small_org):
    db, _ = small_org
    pilot_id = store.add_pilot(db, COMMAND_LINE, draft(unit="Retail", further_units=["Claims"], controls=["Online"]))
    pilot = store.get_pilot(db, COMMAND_LINE, pilot_id)
    assert (pilot.unit_names, pilot.units_label) == (("Retail", "Claims"), "Retail and Claims")
    assert store.pilot_draft(pilot).units == ["Retail", "Claims"]
    # A control among the pilot's units, or a unit named twice, is refused whole.
    with pytest.raises(ValidationError) as refused:
        store.add_pilot(db, COMMAND_LINE, draft(name="Twice", further_units=["Online", "retail"], controls=["Online"]))
    assert {(p.column, p.reason) for p in refused.value.problems} >= {
        ("control", "a control unit must differ from the pilot's units"), ("unit", "a pilot unit is named twice")}
    with pytest.raises(ValidationError, match="fixed at registration"):
        store.update_pilot(db, COMMAND_LINE, pilot_id, dataclasses.replace(store.pilot_draft(pilot), further_units=[]),
                           expected_version=pilot.version)
    # The head of either unit sees it; the head of its control does not.
    units = store.unit_lookup(store.list_units(db, COMMAND_LINE))
    claims_head = Actor("chen@example.com", "unit_head", frozenset({units["claims"].unit_id}))
    online_head = Actor("omar@example.com", "unit_head", frozenset({units["online"].unit_id}))
    assert store.get_pilot(db, claims_head, pilot_id).pilot_id == pilot_id
    assert [p.pilot_id for p in store.list_pilots(db, claims_head)] == [pilot_id]
    assert [p.pilot_id for p in store.list_pilots(db, COMMAND_LINE, unit_ids=[units["claims"].unit_id])] == [pilot_id]
    with pytest.raises(AccessDenied):
        store.get_pilot(db, online_head, pilot_id)


def test_rollout_waves_are_recorded_one_date_each_and_refuse_what_cannot_adopt(small_org):
    db, pilot_id = small_org
    store.add_unit(db, COMMAND_LINE, "Mobile")
    lifecycle.record_decision(db, COMMAND_LINE, pilot_id, "roll_out", "Lift beat target", "Steering",
                              dt.date(2025, 7, 1))
    lifecycle.record_rollout(db, COMMAND_LINE, pilot_id, ["Claims"], dt.date(2025, 9, 1))
    with pytest.raises(ValidationError) as refused:
        lifecycle.record_rollout(db, COMMAND_LINE, pilot_id, ["Retail", "claims", "Mobile", "Mobile"],
                                 dt.date(2025, 1, 1))
    assert [(p.column, p.value, p.reason) for p in refused.value.problems] == [
        ("units", None, "a unit is named twice"),
        ("units", "Retail", "is one of the pilot's own units"),
        ("units", "claims", "adopted the change on 2025-09-01 already"),
        ("start", "2025-01-01", "a wave goes live after the pilot started (2025-03-31)")]
    lifecycle.record_rollout(db, COMMAND_LINE, pilot_id, ["Mobile", "Online"], dt.date(2025, 11, 3))
    waves = store.rollout_waves(db, COMMAND_LINE, [pilot_id])[pilot_id]
    assert [(w.start, w.unit_names) for w in waves] == [(dt.date(2025, 9, 1), ("Claims",)),
                                                        (dt.date(2025, 11, 3), ("Mobile", "Online"))]
    retail_head = Actor("rita@example.com", "unit_head",
                        frozenset({store.unit_lookup(store.list_units(db, COMMAND_LINE))["retail"].unit_id}))
    mobile_head = Actor("m@example.com", "unit_head",
                        frozenset({store.unit_lookup(store.list_units(db, COMMAND_LINE))["mobile"].unit_id}))
    assert store.rollout_waves(db, retail_head) == store.rollout_waves(db, COMMAND_LINE)
    assert store.rollout_waves(db, mobile_head) == {}
