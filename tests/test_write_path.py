"""The one door for writes (`Database.write`): writers take turns, every write leaves its audit
entry as the acting user and the machine user, refusals of access are logged, a conflict reads as
"someone else saved", the audit chain shows any later change, and no code writes around the door."""

import ast
import dataclasses
import getpass
import re
import threading
from pathlib import Path

import pytest

from pilots import audit, comments, lifecycle, store
from pilots.access import COMMAND_LINE, AccessDenied, Actor
from pilots.db import Database, WriteConflict
from pilots.model import ValidationError

from conftest import database_before

REPO = Path(__file__).resolve().parents[1]


def run_together(jobs) -> list[BaseException]:
    errors, start = [], threading.Barrier(len(jobs))

    def run(job):
        start.wait()
        try:
            job()
        except BaseException as error:  # collected: the test asserts on them
            errors.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_writers_take_turns_so_no_save_is_lost_or_refused_by_duckdb(small_org):
    db, pilot_id = small_org
    bodies = [f"comment {i}" for i in range(24)]
    errors = run_together([lambda b=b: comments.add_comment(db, COMMAND_LINE, pilot_id, b) for b in bodies])
    assert errors == []
    assert sorted(c.body for c in comments.list_comments(db, COMMAND_LINE, pilot_id)) == sorted(bodies)
    assert audit.verify_chain(db, COMMAND_LINE).intact


def test_the_same_unit_added_at_once_by_many_editors_exists_once(small_org):
    db, _ = small_org
    errors = run_together([lambda i=i: store.add_unit(db, Actor(f"e{i}@example.com", "editor"),
                                                      "Dup Unit" if i % 2 else "dup unit ") for i in range(8)])
    assert len(errors) == 7 and all(isinstance(e, ValidationError) and "exists already" in str(e) for e in errors)
    assert [u.name.casefold().strip() for u in store.list_units(db, COMMAND_LINE)].count("dup unit") == 1


def test_a_rename_onto_another_units_name_is_refused_whatever_the_capitals(small_org):
    db, _ = small_org
    online = next(u for u in store.list_units(db, COMMAND_LINE) if u.name == "Online")
    with pytest.raises(ValidationError, match="exists already"):
        store.update_unit(db, COMMAND_LINE, dataclasses.replace(online, name="RETAIL"))
    renamed = store.update_unit(db, COMMAND_LINE, dataclasses.replace(online, name="Online & App"))
    store.add_unit(db, COMMAND_LINE, "Online")  # the old name is free again
    assert renamed.name == "Online & App"


def test_one_pilot_edited_by_many_at_once_keeps_exactly_one_edit_per_version(small_org):
    db, pilot_id = small_org
    draft = store.pilot_draft(store.get_pilot(db, COMMAND_LINE, pilot_id))
    owners = [f"Owner {i}" for i in range(8)]
    errors = run_together([lambda o=o: store.update_pilot(db, COMMAND_LINE, pilot_id,
                                                          dataclasses.replace(draft, owner=o), 1) for o in owners])
    assert len(errors) == 7 and all(isinstance(e, store.StaleEdit) for e in errors)
    pilot = store.get_pilot(db, COMMAND_LINE, pilot_id)
    assert pilot.version == 2 and pilot.owner in owners


def test_a_write_conflict_from_outside_the_door_reads_as_someone_else_saved(small_org):
    db, pilot_id = small_org
    other = db._handle.cursor()  # a writer that is not this process's door: another session's engine
    try:
        other.begin()
        other.execute("UPDATE pilots SET status = 'baseline', version = version + 1 WHERE pilot_id = ?", [pilot_id])
        with pytest.raises(WriteConflict, match="someone else saved at the same moment"):
            lifecycle.set_status(db, COMMAND_LINE, pilot_id, "baseline", expected_version=1)
        other.rollback()
    finally:
        other.close()
    assert store.get_pilot(db, COMMAND_LINE, pilot_id).status == "proposed"


def test_a_write_without_an_audit_entry_is_rolled_back(db):
    with pytest.raises(RuntimeError, match="no audit entry"):
        with db.write(COMMAND_LINE, "sneak a unit in") as w:
            w.execute("INSERT INTO business_units (name) VALUES ('unlogged')")
    assert store.list_units(db, COMMAND_LINE) == []


def test_entries_name_the_acting_user_and_the_machine_user(small_org):
    db, pilot_id = small_org
    comments.add_comment(db, Actor("rita@example.com", "unit_head", frozenset({1})), pilot_id, "Looks good")
    with db.cursor() as cur:
        actor, os_user = cur.execute("SELECT actor, os_user FROM audit_log ORDER BY audit_id DESC LIMIT 1").fetchone()
    assert (actor, os_user) == ("rita@example.com", getpass.getuser())


def test_a_refusal_of_access_is_logged_and_writes_nothing_else(small_org):
    db, pilot_id = small_org
    outsider = Actor("omar@example.com", "unit_head", frozenset({2}))
    before = store.table_counts(db)
    for attempt in (lambda: comments.add_comment(db, outsider, pilot_id, "not my unit"),
                    lambda: store.add_unit(db, outsider, "Mine"),
                    lambda: lifecycle.set_status(db, outsider, pilot_id, "baseline")):
        with pytest.raises(AccessDenied):
            attempt()
    refused = audit.list_audit(db, COMMAND_LINE, audit.AuditFilter(actions=("refused",)))
    assert refused["actor"].tolist() == ["omar@example.com"] * 3
    assert store.table_counts(db) == {**before, "audit_log": before["audit_log"] + 3}
    assert audit.verify_chain(db, COMMAND_LINE).intact


def test_the_chain_shows_a_changed_a_deleted_and_a_forged_entry(small_org):
    db, _ = small_org
    store.add_unit(db, COMMAND_LINE, "Branches")
    check = audit.verify_chain(db, COMMAND_LINE)
    assert check.intact and check.entries == 5
    with db.cursor() as cur:
        ids = [r[0] for r in cur.execute("SELECT audit_id FROM audit_log ORDER BY audit_id").fetchall()]
        cur.execute("UPDATE audit_log SET actor = 'someone@else' WHERE audit_id = ?", [ids[1]])
    assert audit.verify_chain(db, COMMAND_LINE).broken_at == ids[1]
    with db.cursor() as cur:
        cur.execute("UPDATE audit_log SET actor = 'command-line' WHERE audit_id = ?", [ids[1]])
        assert audit.verify_chain(db, COMMAND_LINE).intact  # put back exactly as sealed: whole again
        cur.execute("DELETE FROM audit_log WHERE audit_id = ?", [ids[2]])
    assert audit.verify_chain(db, COMMAND_LINE).broken_at == ids[3]
    with pytest.raises(AccessDenied):
        audit.verify_chain(db, Actor("board@example.com", "steering"))


def test_an_entry_inserted_around_the_door_breaks_the_chain(small_org):
    db, _ = small_org
    with db.cursor() as cur:
        cur.execute("INSERT INTO audit_log (actor, action, entity) VALUES ('forger', 'add', 'unit')")
        forged = cur.execute("SELECT max(audit_id) FROM audit_log").fetchone()[0]
    check = audit.verify_chain(db, COMMAND_LINE)
    assert check.broken_at == forged and "no seal" in check.reason


def test_migration_8_seals_the_entries_written_before_it(tmp_path):
    path = tmp_path / "old.duckdb"
    handle = database_before(path, 8)
    handle.execute("INSERT INTO audit_log (actor, action, entity, entity_id, before, after) VALUES "
                   "('ana@example.com', 'add', 'unit', '1', NULL, '{\"name\": \"Retail\"}'), "
                   "('ana@example.com', 'update', 'unit', '1', '{\"name\": \"Retail\"}', '{\"name\": \"Shops\"}')")
    handle.close()
    db = Database(path)
    store.add_unit(db, COMMAND_LINE, "Online")
    check = audit.verify_chain(db, COMMAND_LINE)
    assert check.intact and check.entries == 3
    db.close()


# ---------------------------------------------------------------- nobody writes around the door

_WRITES = re.compile(r"^\s*(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+(\s+\w+)?\s+SET|DELETE\s+FROM"
                     r"|CREATE\s+(OR\s+REPLACE\s+)?TABLE|DROP\s+TABLE|ALTER\s+TABLE)\b", re.I)


def _writing_functions(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Constant) and isinstance(inner.value, str) and _WRITES.match(inner.value):
                    yield node, inner.value
                elif isinstance(inner, ast.JoinedStr) and inner.values and isinstance(inner.values[0], ast.Constant) \
                        and _WRITES.match(str(inner.values[0].value)):
                    yield node, str(inner.values[0].value)


def _opens_the_door(function: ast.FunctionDef) -> bool:
    takes_a_write = any(isinstance(a.annotation, ast.Name) and a.annotation.id == "Write"
                        for a in function.args.args)
    opens_one = any(isinstance(n, ast.withitem) and isinstance(n.context_expr, ast.Call)
                    and isinstance(n.context_expr.func, ast.Attribute) and n.context_expr.func.attr == "write"
                    for n in ast.walk(function))
    return takes_a_write or opens_one


def test_every_sql_write_in_the_package_goes_through_the_door():
    """Each function of `pilots` holding an INSERT/UPDATE/DELETE/CREATE TABLE either opens
    `db.write(...)` or is handed the open `Write`; the exceptions are the door itself and the
    migrations (pilots/db.py) and the user accounts, which move next."""
    outside = []
    for path in sorted((REPO / "pilots").glob("*.py")):
        if path.name == "db.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function, statement in _writing_functions(tree):
            if not _opens_the_door(function) and "TEMP" not in statement.upper():
                outside.append(f"{path.name}:{function.name}: {statement.strip()[:40]}")
    assert sorted(set(outside)) == []


def test_no_code_opens_a_transaction_of_its_own():
    """Only the door opens transactions; a backup opens one to read a single snapshot of the
    database into another file (it writes nothing of this one)."""
    found = [f"{path.relative_to(REPO)}:{n}" for path in [*REPO.glob("pilots/*.py"), *REPO.glob("pages/*.py")]
             if path.name not in ("db.py", "backup.py")
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"\.begin\(\)|\.transaction\(\)|\.commit\(\)", line)]
    assert found == []
