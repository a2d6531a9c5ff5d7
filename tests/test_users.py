"""Who may use the tracker: mapping e-mail addresses to roles, resolving a signed-in person to their
Actor (only with a verified address, and only from the provider account first tied to it), refusal of
bad input, and the `users` commands of the command line."""

import io
import json

import pytest

from conftest import database_before
from pilots import store, users
from pilots.access import COMMAND_LINE, AccessDenied
from pilots.cli import main
from pilots.db import Database
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


# ---------------------------------------------------------------- trusted sign-in

ISSUER = "https://login.example.com"


def claims(email="cco@example.com", sub="account-1", iss=ISSUER, **extra):
    """The OpenID claims of a sign-in, as Streamlit's `st.user` holds them; verified unless told."""
    return {"email": email, "sub": sub, "iss": iss, "email_verified": True, **extra}


def sign_in_entries(db):
    with db.cursor() as cur:
        rows = cur.execute("SELECT actor, entity_id, after FROM audit_log WHERE action = 'first_sign_in' "
                           "ORDER BY audit_id").fetchall()
    return [(actor, email, json.loads(after)) for actor, email, after in rows]


@pytest.fixture
def cco(small_org, monkeypatch):
    """The small organisation with the CCO office mapped, and no verified-claim setting in the environment."""
    monkeypatch.delenv(users.VERIFIED_CLAIM_VARIABLE, raising=False)
    db, _ = small_org
    users.set_user(db, COMMAND_LINE, "cco@example.com", "editor")
    return db


def test_a_verified_sign_in_gets_its_role_and_ties_the_address_to_its_account(cco):
    actor = users.actor_for_identity(cco, claims(email="CCO@Example.com "))
    assert (actor.email, actor.role) == ("cco@example.com", "editor")
    assert sign_in_entries(cco) == [("cco@example.com", "cco@example.com",
                                     {"issuer": ISSUER, "subject": "account-1"})]
    assert users.actor_for_identity(cco, claims()) == actor  # the same account again: no second entry
    assert len(sign_in_entries(cco)) == 1


@pytest.mark.parametrize("verified", [False, None, "false", "", 1, "yes"])
def test_an_address_the_provider_has_not_verified_gets_no_role_and_ties_nothing(cco, verified):
    assert users.actor_for_identity(cco, claims(email_verified=verified)) is None
    assert sign_in_entries(cco) == []
    # ...so the real owner's first verified sign-in still ties the address to their own account
    assert users.actor_for_identity(cco, claims(sub="owner")).role == "editor"


@pytest.mark.parametrize("missing", ["email_verified", "email", "sub", "iss"])
def test_a_sign_in_missing_a_claim_gets_no_role(cco, missing):
    incomplete = {name: value for name, value in claims().items() if name != missing}
    assert users.actor_for_identity(cco, incomplete) is None
    assert sign_in_entries(cco) == []


def test_verified_as_text_counts_as_some_providers_send_it(cco):
    assert users.actor_for_identity(cco, claims(email_verified=" True ")).role == "editor"


@pytest.mark.parametrize("impostor", [claims(sub="account-2"), claims(iss="https://other.example.com")],
                         ids=["other subject", "other issuer"])
def test_once_tied_another_account_showing_the_same_address_is_refused(cco, impostor):
    assert users.actor_for_identity(cco, claims()) is not None
    assert users.actor_for_identity(cco, impostor) is None
    assert users.actor_for_identity(cco, claims()).role == "editor"
    assert len(sign_in_entries(cco)) == 1


def test_an_unmapped_address_gets_no_role_even_verified_and_writes_nothing(cco):
    before = store.table_counts(cco)
    assert users.actor_for_identity(cco, claims(email="stranger@example.com")) is None
    assert store.table_counts(cco) == before


def test_a_change_of_role_keeps_the_account_and_removing_the_user_forgets_it(cco):
    users.actor_for_identity(cco, claims())
    users.set_user(cco, COMMAND_LINE, "cco@example.com", "steering")
    assert users.actor_for_identity(cco, claims(sub="account-2")) is None
    assert users.actor_for_identity(cco, claims()).role == "steering"
    users.remove_user(cco, COMMAND_LINE, "cco@example.com")
    users.set_user(cco, COMMAND_LINE, "cco@example.com", "editor")
    assert users.actor_for_identity(cco, claims(sub="account-2")).role == "editor"
    assert users.actor_for_identity(cco, claims()) is None


def test_two_first_sign_ins_at_once_tie_the_address_to_the_first(cco):
    actor = users.actor_for(cco, "cco@example.com")
    users._remember_account(cco, actor, (ISSUER, "account-1"))
    users._remember_account(cco, actor, (ISSUER, "account-2"))  # looked the address up before the first wrote
    assert users.actor_for_identity(cco, claims(sub="account-2")) is None
    assert users.actor_for_identity(cco, claims(sub="account-1")) == actor
    assert [after["subject"] for _, _, after in sign_in_entries(cco)] == ["account-1"]


def test_the_verified_claim_can_be_named_in_the_settings_or_the_environment(cco, monkeypatch):
    # e.g. Entra ID sends no email_verified; its optional claim xms_edov says the domain owner verified it
    entra = claims(email_verified=None, xms_edov=True)
    assert users.actor_for_identity(cco, entra) is None
    assert users.actor_for_identity(cco, entra, verified_claim="xms_edov").role == "editor"
    assert users.actor_for_identity(cco, claims(), verified_claim="xms_edov") is None  # only the named claim counts
    monkeypatch.setenv(users.VERIFIED_CLAIM_VARIABLE, "xms_edov")
    assert users.actor_for_identity(cco, entra).role == "editor"
    assert users.actor_for_identity(cco, claims()) is None
    assert users.actor_for_identity(cco, claims(), verified_claim="email_verified").role == "editor"


def test_a_database_from_before_sign_in_accounts_keeps_its_users_and_ties_them_at_their_next_sign_in(tmp_path):
    path = tmp_path / "old.duckdb"
    old = database_before(path, 9)
    old.execute("INSERT INTO users (email, role, added_by) VALUES ('board@example.com', 'steering', 'command-line')")
    old.close()
    db = Database(path)
    try:
        assert db.schema_version() >= 9
        assert users.actor_for(db, "board@example.com").role == "steering"
        assert users.actor_for_identity(db, claims(email="board@example.com")).role == "steering"
        assert users.actor_for_identity(db, claims(email="board@example.com", sub="account-2")) is None
    finally:
        db.close()
