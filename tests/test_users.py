"""Who may use the tracker: mapping e-mail addresses to roles, resolving a signed-in address to its
Actor, refusal of bad input, and the `users` commands of the command line."""

import io
import json

import pytest

from pilots import store, users
from pilots.access import COMMAND_LINE, AccessDenied
from pilots.cli import main
from pilots.model import ValidationError


def cli(db, *args):
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", str(db.path), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def unit_ids(db, *names):
    units = store.unit_lookup(store.list_units(db, COMMAND_LINE))
    return frozenset(units[name.casefold()].unit_id for name in names)


def test_a_mapped_address_resolves_to_its_role_and_units_whatever_its_case(small_org):
    db, _ = small_org
    users.set_user(db, COMMAND_LINE, "Rita.Head@Example.com", "unit_head", ["retail", "Claims "])
    users.set_user(db, COMMAND_LINE, "board@example.com", "steering")
    actor = users.actor_for(db, "  RITA.HEAD@example.COM ")
    assert (actor.email, actor.role, actor.unit_ids) == ("rita.head@example.com", "unit_head",
                                                         unit_ids(db, "Retail", "Claims"))
    assert users.actor_for(db, "board@example.com").role == "steering"
    assert users.actor_for(db, "board@example.com").unit_ids == frozenset()
    assert users.actor_for(db, "nobody@example.com") is None
    assert users.actor_for(db, "") is None and users.actor_for(db, None) is None
    listed = users.list_users(db, COMMAND_LINE)
    assert [(u.email, u.role, u.unit_names) for u in listed] == [
        ("board@example.com", "steering", ()), ("rita.head@example.com", "unit_head", ("Claims", "Retail"))]


def test_setting_again_replaces_the_role_and_removing_takes_access_away(small_org):
    db, _ = small_org
    users.set_user(db, COMMAND_LINE, "omar@example.com", "unit_head", ["Online", "Retail"])
    users.set_user(db, COMMAND_LINE, "omar@example.com", "unit_head", ["Claims"])
    assert users.actor_for(db, "omar@example.com").unit_ids == unit_ids(db, "Claims")
    users.set_user(db, COMMAND_LINE, "omar@example.com", "editor")
    assert users.actor_for(db, "omar@example.com").is_editor
    users.remove_user(db, COMMAND_LINE, "OMAR@example.com")
    assert users.actor_for(db, "omar@example.com") is None
    assert users.list_users(db, COMMAND_LINE) == []


@pytest.mark.parametrize("email, role, units, column, reason", [
    ("not-an-address", "steering", [], "email", "is not an e-mail address"),
    ("a b@example.com", "steering", [], "email", "is not an e-mail address"),
    ("x@example.com", "admin", [], "role", "must be one of editor, unit_head, steering"),
    ("x@example.com", "unit_head", [], "unit", "a unit head needs at least one unit"),
    ("x@example.com", "steering", ["Retail"], "unit", "only a unit head has units"),
    ("x@example.com", "editor", ["Retail"], "unit", "only a unit head has units"),
    ("x@example.com", "unit_head", ["Retial"], "unit", "unknown unit 'Retial': did you mean 'Retail'?"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(small_org, email, role, units, column, reason):
    db, _ = small_org
    before = store.table_counts(db)
    with pytest.raises(ValidationError) as refused:
        users.set_user(db, COMMAND_LINE, email, role, units)
    assert any(p.column == column and reason in p.reason for p in refused.value.problems), refused.value.problems
    assert users.list_users(db, COMMAND_LINE) == []
    assert store.table_counts(db) == before


def test_removing_someone_without_access_is_refused(small_org):
    db, _ = small_org
    with pytest.raises(ValidationError, match="no one with this e-mail address"):
        users.remove_user(db, COMMAND_LINE, "ghost@example.com")


def test_only_editors_manage_access(small_org):
    db, _ = small_org
    users.set_user(db, COMMAND_LINE, "rita@example.com", "unit_head", ["Retail"])
    users.set_user(db, COMMAND_LINE, "board@example.com", "steering")
    for email in ("rita@example.com", "board@example.com"):
        actor = users.actor_for(db, email)
        with pytest.raises(AccessDenied):
            users.set_user(db, actor, email, "editor")
        with pytest.raises(AccessDenied):
            users.remove_user(db, actor, "rita@example.com")
        with pytest.raises(AccessDenied):
            users.list_users(db, actor)
    assert users.actor_for(db, "board@example.com").role == "steering"


def test_every_change_of_access_is_audited_with_before_and_after(small_org):
    db, _ = small_org
    retail = sorted(unit_ids(db, "Retail"))
    users.set_user(db, COMMAND_LINE, "rita@example.com", "unit_head", ["Retail"])
    users.set_user(db, COMMAND_LINE, "rita@example.com", "steering")
    users.remove_user(db, COMMAND_LINE, "rita@example.com")
    with db.cursor() as cur:
        rows = cur.execute("SELECT actor, action, entity_id, before, after FROM audit_log WHERE entity = 'user' "
                           "ORDER BY audit_id").fetchall()
    decoded = [(a, act, e, b and json.loads(b), af and json.loads(af)) for a, act, e, b, af in rows]
    assert decoded == [
        ("command-line", "add", "rita@example.com", None, {"role": "unit_head", "unit_ids": retail}),
        ("command-line", "update", "rita@example.com", {"role": "unit_head", "unit_ids": retail},
         {"role": "steering", "unit_ids": []}),
        ("command-line", "remove", "rita@example.com", {"role": "steering", "unit_ids": []}, None),
    ]


def test_command_line_adds_lists_and_removes_users(small_org):
    db, _ = small_org
    assert cli(db, "users", "add", "Rita@Example.com", "--role", "unit_head", "--unit", "Retail", "--unit",
               "Claims")[0] == 0
    code, out, _ = cli(db, "users", "add", "omar@example.com", "--role", "unit_head", "--unit", "Online", "Retail")
    assert code == 0 and out.strip() == "omar@example.com\tunit_head\tOnline, Retail"
    assert cli(db, "users", "add", "board@example.com", "--role", "steering")[0] == 0
    code, out, _ = cli(db, "users", "list")
    assert code == 0
    assert out.splitlines() == ["board@example.com\tsteering\t", "omar@example.com\tunit_head\tOnline, Retail",
                                "rita@example.com\tunit_head\tClaims, Retail"]
    code, out, _ = cli(db, "users", "remove", "rita@example.com")
    assert code == 0 and "removed rita@example.com" in out
    assert [u.email for u in users.list_users(db, COMMAND_LINE)] == ["board@example.com", "omar@example.com"]


def test_command_line_refuses_bad_users_with_exit_status_one(small_org):
    db, _ = small_org
    code, out, err = cli(db, "users", "add", "rita@example.com", "--role", "unit_head", "--unit", "Retial")
    assert code == 1 and out == ""
    assert "column 'unit': unknown unit 'Retial': did you mean 'Retail'?" in err
    code, _, err = cli(db, "users", "add", "rita@example.com", "--role", "unit_head")
    assert code == 1 and "needs at least one unit" in err
    code, _, err = cli(db, "users", "remove", "ghost@example.com")
    assert code == 1 and "no one with this e-mail address" in err
    assert users.list_users(db, COMMAND_LINE) == []


def test_command_line_acts_as_a_mapped_user_with_their_role(small_org):
    db, pilot_id = small_org
    store.add_unit(db, COMMAND_LINE, "Field Service")
    users.set_user(db, COMMAND_LINE, "omar@example.com", "unit_head", ["Online"])
    users.set_user(db, COMMAND_LINE, "rita@example.com", "unit_head", ["Retail"])
    code, out, _ = cli(db, "--as", "rita@example.com", "pilots", "list")
    assert code == 0 and out.startswith(f"{pilot_id}\tCallback instead of hold queue")
    code, out, _ = cli(db, "--as", "omar@example.com", "pilots", "list")
    assert code == 0 and out == ""
    code, _, err = cli(db, "--as", "omar@example.com", "users", "add", "omar@example.com", "--role", "editor")
    assert code == 1 and "may not give someone access" in err
    code, _, err = cli(db, "--as", "stranger@example.com", "units", "list")
    assert code == 1 and "stranger@example.com has no access" in err
