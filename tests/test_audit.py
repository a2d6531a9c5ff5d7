"""The audit log: every kind of write leaves an entry saying who, when, what, before and after, in
the same transaction as the write; filters find entries; only editors read it; and no code in the
project changes or deletes audit or decision entries."""

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from pilots import analysis, audit, backup, cells, comments, ingest, lifecycle, store, users
from pilots.access import COMMAND_LINE, AccessDenied, Actor
from pilots.model import Metric, ValidationError

REPO = Path(__file__).resolve().parents[1]
CCO = Actor("cco@example.com", "editor")


def entries_after(db, audit_id: int) -> list[dict]:
    columns = ["audit_id", "logged_at", "actor", "action", "entity", "entity_id", "before", "after"]
    with db.cursor() as cur:
        rows = cur.execute(f"SELECT {', '.join(columns)} FROM audit_log WHERE audit_id > ? ORDER BY audit_id",
                           [audit_id]).fetchall()
    entries = [dict(zip(columns, row)) for row in rows]
    for entry in entries:
        for side in ("before", "after"):
            entry[side] = None if entry[side] is None else json.loads(entry[side])
    return entries


def last_id(db) -> int:
    with db.cursor() as cur:
        return cur.execute("SELECT coalesce(max(audit_id), 0) FROM audit_log").fetchone()[0]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def pilot_version(db, pilot_id):
    return store.get_pilot(db, CCO, pilot_id).version


# Each write: what it does, then (action, entity, entity id, a key expected in before, a key in after).
def add_unit(db, pilot_id, tmp):
    unit = store.add_unit(db, CCO, "Field Service", head="Fay")
    return [("add", "unit", str(unit.unit_id), None, {"name": "Field Service", "head": "Fay"})]


def update_unit(db, pilot_id, tmp):
    unit = store.unit_lookup(store.list_units(db, CCO))["claims"]
    store.update_unit(db, CCO, dataclasses.replace(unit, head="Chris"))
    return [("update", "unit", str(unit.unit_id), {"head": "Chen"}, {"head": "Chris"})]


def add_metric(db, pilot_id, tmp):
    store.add_metric(db, CCO, Metric("wait_minutes", "Wait", "minutes", "lower", "mean", 0, 600))
    return [("add", "metric", "wait_minutes", None, {"key": "wait_minutes", "direction": "lower"})]


def add_pilot(db, pilot_id, tmp):
    draft = dataclasses.replace(store.pilot_draft(store.get_pilot(db, CCO, pilot_id)), name="Second pilot",
                                status="proposed")
    new_id = store.add_pilot(db, CCO, draft)
    return [("add", "pilot", str(new_id), None, {"name": "Second pilot", "unit": "Retail"})]


def update_pilot(db, pilot_id, tmp):
    draft = store.pilot_draft(store.get_pilot(db, CCO, pilot_id))
    store.update_pilot(db, CCO, pilot_id, dataclasses.replace(draft, owner="Olga", controls=["Claims"]), 1)
    return [("update", "pilot", str(pilot_id), {"owner": "", "controls": ["Online"], "version": 1},
             {"owner": "Olga", "controls": ["Claims"], "version": 2})]


def set_status(db, pilot_id, tmp):
    lifecycle.set_status(db, CCO, pilot_id, "running", expected_version=1)
    return [("status", "pilot", str(pilot_id), {"status": "proposed"}, {"status": "running", "version": 2})]


def record_decision(db, pilot_id, tmp):
    lifecycle.record_decision(db, CCO, pilot_id, "roll_out", "Clear lift", "Steering committee", dt.date(2025, 7, 1))
    return [("decide", "pilot", str(pilot_id), {"decision": None},
             {"decision": "roll_out", "approved_by": "Steering committee", "decided_on": "2025-07-01"})]


def record_rollout(db, pilot_id, tmp):
    lifecycle.record_decision(db, COMMAND_LINE, pilot_id, "roll_out", "Clear lift", "Board", dt.date(2025, 7, 1))
    start = last_id(db)
    lifecycle.record_rollout(db, CCO, pilot_id, ["Online", "Claims"], dt.date(2025, 9, 1))
    return start, [("roll out", "pilot", str(pilot_id), {"status": "decided"},
                    {"status": "rolled_out", "units": ["Online", "Claims"], "adopted_on": "2025-09-01"})]


def import_observations(db, pilot_id, tmp):
    path = write_csv(tmp / "obs.csv", "unit,metric,date,value\nRetail,nps,2025-01-07,9\nOnline,nps,2025-01-08,3\n")
    result = ingest.import_file(db, CCO, path, "observations")
    return [("import", "batch", str(result.batch_id), None, {"kind": "observations", "rows": 2})]


def undo_import(db, pilot_id, tmp):
    path = write_csv(tmp / "obs.csv", "unit,metric,date,value\nRetail,nps,2025-01-07,9\n")
    batch = ingest.import_file(db, COMMAND_LINE, path, "observations").batch_id
    start = last_id(db)
    ingest.undo_batch(db, CCO, batch)
    copy = backup.list_backups(db.path)[0].name  # an undo is preceded by a backup of what it takes out
    return start, [("backup", "database", copy, None, {"reason": f"before undo of batch {batch}"}),
                   ("undo", "batch", str(batch), {"kind": "observations", "rows": 1}, {"undone_by": CCO.email})]


def redo_import(db, pilot_id, tmp):
    path = write_csv(tmp / "obs.csv", "unit,metric,date,value\nRetail,nps,2025-01-07,9\n")
    batch = ingest.import_file(db, COMMAND_LINE, path, "observations").batch_id
    ingest.undo_batch(db, COMMAND_LINE, batch)
    start = last_id(db)
    ingest.redo_batch(db, CCO, batch)
    return start, [("redo", "batch", str(batch), {"undone_by": COMMAND_LINE.email, "kept_for_redo": 1},
                    {"kind": "observations", "rows": 1, "redone_by": CCO.email})]


def replace_measurements(db, pilot_id, tmp):
    path = write_csv(tmp / "m.csv", "unit,metric,period_start,value,n\nRetail,fcr,2025-01-06,0.70,100\n")
    ingest.import_file(db, COMMAND_LINE, path, "measurements")
    start = last_id(db)
    frame = pd.DataFrame({"unit": ["Retail"], "metric": ["fcr"], "period_start": [dt.date(2025, 1, 6)],
                          "value": [0.75], "n": [100], "sd": [None]})
    result = ingest.save_measurements(db, CCO, frame)
    return start, [("replace", "measurements", str(result.batch_id),
                    [{"metric_key": "fcr", "value": 0.70, "n": 100}], {"batch_id": result.batch_id}),
                   ("import", "batch", str(result.batch_id), None, {"kind": "measurements", "rows": 1})]


def save_assumptions(db, pilot_id, tmp):
    cells.save_assumptions(db, CCO, pilot_id, cells.RolloutAssumptions(value_per_point=2.5, realisation=0.5),
                           expected_version=1)
    return [("assumptions", "pilot", str(pilot_id), {"value_per_point": None, "version": 1},
             {"value_per_point": 2.5, "realisation": 0.5, "version": 2})]


def add_comment(db, pilot_id, tmp):
    comment = comments.add_comment(db, CCO, pilot_id, "  Looks promising  ")
    return [("add", "comment", str(comment.comment_id), None, {"pilot_id": pilot_id, "body": "Looks promising"})]


def set_user(db, pilot_id, tmp):
    users.set_user(db, CCO, "Board@Example.com", "steering")
    return [("add", "user", "board@example.com", None, {"role": "steering", "unit_ids": []})]


def remove_user(db, pilot_id, tmp):
    users.set_user(db, COMMAND_LINE, "board@example.com", "steering")
    start = last_id(db)
    users.remove_user(db, CCO, "board@example.com")
    return start, [("remove", "user", "board@example.com", {"role": "steering"}, None)]


WRITES = [add_unit, update_unit, add_metric, add_pilot, update_pilot, set_status, record_decision, record_rollout,
          import_observations, undo_import, redo_import, replace_measurements, save_assumptions, add_comment, set_user,
          remove_user]


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__ for w in WRITES])
def test_every_kind_of_write_is_audited_with_who_what_before_and_after(small_org, tmp_path, write):
    db, pilot_id = small_org
    start = last_id(db)
    moment = dt.datetime.now() - dt.timedelta(minutes=1)
    expected = write(db, pilot_id, tmp_path)
    if isinstance(expected, tuple):
        start, expected = expected
    found = entries_after(db, start)
    assert [(e["action"], e["entity"], e["entity_id"]) for e in found] == [x[:3] for x in expected]
    for entry, (_, _, _, before, after) in zip(found, expected):
        assert entry["actor"] == CCO.email
        assert entry["logged_at"] >= moment
        for side, wanted in (("before", before), ("after", after)):
            if wanted is None:
                assert entry[side] is None, (side, entry)
            elif isinstance(wanted, list):
                assert [{k: row.get(k) for k in w} for row, w in zip(entry[side], wanted)] == wanted, (side, entry)
            else:
                assert {k: entry[side].get(k) for k in wanted} == wanted, (side, entry)


def test_a_refused_write_leaves_no_change_and_only_a_refusal_of_access_is_logged(small_org):
    """A write refused for bad input or a stale version leaves nothing; one refused for lack of
    rights leaves a "refused" entry naming who tried what (nothing else of it is written)."""
    db, pilot_id = small_org
    start = last_id(db)
    draft = store.pilot_draft(store.get_pilot(db, CCO, pilot_id))
    with pytest.raises(ValidationError):
        store.update_pilot(db, CCO, pilot_id, dataclasses.replace(draft, pilot_end=dt.date(2025, 1, 1)), 1)
    lifecycle.set_status(db, CCO, pilot_id, "baseline", expected_version=1)
    with pytest.raises(store.StaleEdit):
        store.update_pilot(db, CCO, pilot_id, dataclasses.replace(draft, owner="Late"), 1)
    with pytest.raises(ValidationError):
        users.set_user(db, CCO, "bad", "steering")
    head = Actor("omar@example.com", "unit_head", frozenset({1}))
    with pytest.raises(AccessDenied):
        store.update_pilot(db, head, pilot_id, dataclasses.replace(draft, owner="Omar"), 2)
    entries = entries_after(db, start)
    assert [(e["action"], e["entity"], e["actor"]) for e in entries] == [
        ("status", "pilot", CCO.email), ("refused", "access", "omar@example.com")]
    assert entries[1]["after"]["doing"] == "edit a pilot" and entries[1]["after"]["role"] == "unit_head"
    assert store.get_pilot(db, CCO, pilot_id).owner == draft.owner


def test_filters_find_entries_by_who_what_action_id_date_and_value(small_org):
    db, pilot_id = small_org
    lifecycle.set_status(db, CCO, pilot_id, "baseline", expected_version=1)
    comments.add_comment(db, Actor("rita@example.com", "unit_head", frozenset({1})), pilot_id, "Baseline looks odd")
    everything = audit.list_audit(db, CCO)
    assert audit.count_audit(db, CCO) == len(everything) > 5
    assert everything["audit_id"].is_monotonic_decreasing

    def ids(**found):
        return audit.list_audit(db, CCO, audit.AuditFilter(**found))["audit_id"].tolist()

    by_who = ids(actors=("rita@example.com",))
    assert len(by_who) == 1 and by_who == ids(entities=("comment",)) == ids(text="LOOKS ODD")
    assert len(ids(actors=("command-line",))) == len(everything) - 2
    assert len(ids(entities=("pilot",), entity_id=str(pilot_id))) == 2
    assert len(ids(actions=("status",))) == 1
    assert ids(since=dt.date.today(), until=dt.date.today()) == everything["audit_id"].tolist()
    assert ids(until=dt.date.today() - dt.timedelta(days=1)) == []
    assert ids(actors=("nobody",)) == []
    assert len(audit.list_audit(db, CCO, limit=3)) == 3
    choices = audit.audit_choices(db, CCO)
    assert choices["actor"] == ["cco@example.com", "command-line", "rita@example.com"]
    assert {"unit", "pilot", "comment"} <= set(choices["entity"])


def test_only_editors_read_the_audit_log(small_org):
    db, _ = small_org
    for actor in (Actor("board@example.com", "steering"), Actor("rita@example.com", "unit_head", frozenset({1}))):
        for read in (audit.list_audit, audit.count_audit, audit.audit_choices):
            with pytest.raises(AccessDenied):
                read(db, actor)


def test_a_decision_keeps_its_evidence_snapshot_however_the_pilot_changes_later(small_org):
    db, pilot_id = small_org
    # The snapshot is the case as it stood when the decision was recorded, taken by the decision itself.
    snapshot = json.loads(json.dumps(analysis.case_as_dict(analysis.analyze_pilot(db, CCO, pilot_id)), default=str))
    lifecycle.record_decision(db, CCO, pilot_id, "extend", "Need more weeks", "Steering committee",
                              dt.date(2025, 7, 1), expected_version=1)
    lifecycle.record_decision(db, CCO, pilot_id, "roll_out", "Now clear", "Board", dt.date(2025, 9, 1))
    draft = store.pilot_draft(store.get_pilot(db, CCO, pilot_id))
    store.update_pilot(db, CCO, pilot_id, dataclasses.replace(draft, target_effect=8.0), 3)
    taken = audit.decisions(db, CCO, pilot_id)
    assert [(d.decision, d.approved_by, d.decided_on, d.recorded_by) for d in taken] == [
        ("roll_out", "Board", dt.date(2025, 9, 1), CCO.email),
        ("extend", "Steering committee", dt.date(2025, 7, 1), CCO.email)]
    assert taken[1].evidence == snapshot and taken[1].rationale == "Need more weeks"
    assert taken[1].evidence["target_effect"] == 5 != store.get_pilot(db, CCO, pilot_id).target_effect
    with pytest.raises(AccessDenied):
        audit.decisions(db, Actor("omar@example.com", "unit_head", frozenset({2})), pilot_id)


_TRAIL = r"\b(audit_log|decision_log)\b"


def test_no_code_changes_or_deletes_the_audit_or_decision_log():
    """DuckDB has no triggers or grants to forbid it, so the guarantee is that no code path does it:
    every statement naming these tables in the project's code is a read or the write path's INSERT.
    The two exceptions are migration 8, which adds the chain's columns and seals the entries written
    before it, once, inside the migration; the hash chain makes any other change visible."""
    sources = [*REPO.glob("pilots/**/*.py"), *REPO.glob("pilots/migrations/*.sql"), *REPO.glob("pages/*.py"),
               REPO / "app.py", *REPO.glob("bench/**/*.py")]
    changes = re.compile(r"\b(UPDATE|DELETE\s+FROM|TRUNCATE|DROP\s+TABLE|ALTER\s+TABLE|INSERT\s+OR\s+\w+\s+INTO)"
                         r"\s+(IF\s+EXISTS\s+)?" + _TRAIL, re.IGNORECASE)
    texts = {path.relative_to(REPO).as_posix(): path.read_text(encoding="utf-8") for path in sources}
    found = [(name, m.group(0)) for name, text in texts.items() for m in changes.finditer(text)]
    assert found == [("pilots/db.py", "UPDATE audit_log"),
                     ("pilots/migrations/008_audit_chain_and_unique_names.sql", "ALTER TABLE audit_log"),
                     ("pilots/migrations/008_audit_chain_and_unique_names.sql", "ALTER TABLE audit_log")]
    db_source = texts["pilots/db.py"]
    assert re.findall(r"def (\w+)\([^)]*\)[^:]*:(?:(?!\ndef ).)*UPDATE audit_log", db_source, re.DOTALL) == \
        ["_seal_existing_audit"]
    assert re.search(r"_AFTER_MIGRATION[^=]*= \{8: _seal_existing_audit\}", db_source)
    audit_inserts = [name for name, text in texts.items()
                     for _ in re.finditer(r"INSERT\s+INTO\s+audit_log", text, re.IGNORECASE)]
    assert audit_inserts == ["pilots/db.py"]
    assert re.findall(r"def (\w+)\([^)]*\)[^:]*:(?:(?!\ndef ).)*INSERT INTO audit_log", db_source, re.DOTALL) == \
        ["_append_audit"]


# ---------------------------------------------------------------- before and after in words

def test_changes_read_as_a_list_not_json():
    assert audit.describe_changes({"status": "running", "version": 3}, {"status": "evaluating", "version": 4}) == \
        "status: running → evaluating"
    assert audit.describe_changes({"status": "running", "target_effect": 3.0, "owner": "Olga"},
                                  {"status": "evaluating", "target_effect": 5.0, "owner": "Olga"}) == \
        "status: running → evaluating; target effect: 3 → 5"
    assert audit.change_list({"controls": ["Online"], "released": False, "cost": None},
                             {"controls": ["Claims", "Online"], "released": True, "cost": 1200.5}) == \
        ["controls: Online → Claims, Online", "released: no → yes", "cost: — → 1200.5"]
    assert audit.change_list(None, {"name": "Field Service", "head": "Fay", "customers": None}) == \
        ["name: Field Service", "head: Fay"]
    assert audit.change_list({"role": "steering", "unit_ids": []}, None) == ["role: steering"]
    assert audit.change_list({"status": "running", "version": 1}, {"status": "running", "version": 2}) == \
        ["no value changed"]
    assert audit.change_list({"decided_on": "2025-07-01 00:00:00"}, {"decided_on": "2025-09-01T14:05:09.5"}) == \
        ["decided on: 2025-07-01 → 2025-09-01 14:05"]
    replaced = [{"unit_id": 1, "metric_key": "fcr", "period_start": "2025-01-06 00:00:00", "value": 0.7, "n": 100},
                {"unit_id": 1, "metric_key": "fcr", "period_start": "2025-01-13 00:00:00", "value": 0.72}] * 3
    assert audit.describe_changes(replaced, {"batch_id": 7}) == \
        ("6 stored rows replaced (fcr 2025-01-06: 0.7; fcr 2025-01-13: 0.72; fcr 2025-01-06: 0.7 and 3 more); "
         "batch id: 7")
    long = "a" * 200
    (line,) = audit.change_list(None, {"hypothesis": long})
    assert line == "hypothesis: " + "a" * (audit.MAX_VALUE_CHARS - 1) + "…"
    assert audit.change_list(None, {"hypothesis": long}, max_chars=None) == ["hypothesis: " + long]


def test_the_log_reads_in_words_what_each_write_changed(small_org, tmp_path):
    db, pilot_id = small_org
    lifecycle.set_status(db, CCO, pilot_id, "running", expected_version=1)
    draft = store.pilot_draft(store.get_pilot(db, CCO, pilot_id))
    store.update_pilot(db, CCO, pilot_id, dataclasses.replace(draft, target_effect=8.0, owner="Olga"), 2)
    path = write_csv(tmp_path / "obs.csv", "unit,metric,date,value\nRetail,nps,2025-01-07,9\nOnline,nps,2025-01-08,3\n")
    batch = ingest.import_file(db, CCO, path, "observations").batch_id
    ingest.undo_batch(db, CCO, batch)
    ingest.redo_batch(db, CCO, batch)
    users.set_user(db, CCO, "board@example.com", "steering")
    users.remove_user(db, CCO, "board@example.com")

    entries = audit.list_audit(db, CCO, limit=8)
    readable = audit.readable_audit(entries)
    assert list(readable.columns) == ["audit_id", "logged_at", "actor", "what", "changes"]
    assert readable["audit_id"].tolist() == entries["audit_id"].tolist()
    by_what = dict(zip(readable["what"], readable["changes"]))
    assert by_what[f"status pilot {pilot_id}"] == "status: proposed → running"
    assert by_what[f"update pilot {pilot_id}"] == "owner: — → Olga; target effect: 5 → 8"
    assert by_what[f"import batch {batch}"] == "kind: observations; rows: 2; source: obs.csv"
    assert by_what[f"undo batch {batch}"] == (
        "first date: 2025-01-07; kind: observations; last date: 2025-01-08; metrics: nps; rows: 2; source: obs.csv; "
        f"units: Online, Retail; kept for redo: 2; restored measurements: 0; undone by: {CCO.email}")
    assert re.fullmatch(r"kept for redo: 2; undone at: \d{4}-\d\d-\d\d \d\d:\d\d; undone by: cco@example.com; "
                        r"first date: 2025-01-07; kind: observations; last date: 2025-01-08; metrics: nps; "
                        r"redone by: cco@example.com; rows: 2; source: obs.csv; units: Online, Retail",
                        by_what[f"redo batch {batch}"]), by_what[f"redo batch {batch}"]
    assert by_what["add user board@example.com"] == "role: steering"
    assert by_what["remove user board@example.com"] == "role: steering"
    for changes in readable["changes"]:
        assert "{" not in changes and '"' not in changes, changes

    full = json.loads(audit.entry_json(entries.iloc[-1]))
    assert full["before"]["status"] == "proposed" and full["after"] == {"status": "running", "version": 2}
