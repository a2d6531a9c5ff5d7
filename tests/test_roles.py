"""Roles hold whatever the entry point: a unit head reads only their own units' pilots and data and
writes nothing but comments on them; steering reads everything and changes no data. Checked on the
domain functions, on the command line acting as the user, and on the app's pages and URLs."""

import dataclasses
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pilots import analysis, audit, cells, comments, ingest, lifecycle, store, trends, users
from pilots import org as organisation
from pilots.access import COMMAND_LINE, AccessDenied
from pilots.cli import main
from pilots.model import Metric, PilotDraft

APP = str(Path(__file__).resolve().parents[1] / "app.py")
AUTH = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-only",
                 "client_id": "tracker", "client_secret": "test-only",
                 "server_metadata_url": "http://localhost:9/.well-known/openid-configuration"}}


@pytest.fixture
def org(small_org, tmp_path):
    """The small organisation plus a pilot in Online, some data in every unit, and three mapped users."""
    db, retail_pilot = small_org
    online_pilot = store.add_pilot(db, COMMAND_LINE, PilotDraft(
        name="Chat bot for returns", unit="Online", primary_metric="nps",
        baseline_start=dt.date(2025, 1, 6), baseline_end=dt.date(2025, 3, 30),
        pilot_start=dt.date(2025, 3, 31), pilot_end=dt.date(2025, 6, 29), controls=["Claims"]))
    rows = "".join(f"{unit},nps,2025-0{month}-1{day},{(day * 3 + month) % 11}\n"
                   for unit in ("Retail", "Online", "Claims") for month in (2, 5) for day in range(6))
    (tmp_path / "answers.csv").write_text("unit,metric,date,value\n" + rows, encoding="utf-8")
    batch = ingest.import_file(db, COMMAND_LINE, tmp_path / "answers.csv", "observations").batch_id
    (tmp_path / "fcr.csv").write_text("unit,metric,period_start,value,n\nRetail,fcr,2025-02-03,0.7,50\n"
                                      "Online,fcr,2025-02-03,0.6,80\n", encoding="utf-8")
    ingest.import_file(db, COMMAND_LINE, tmp_path / "fcr.csv", "measurements")
    users.set_user(db, COMMAND_LINE, "rita@example.com", "unit_head", ["Retail"])
    users.set_user(db, COMMAND_LINE, "board@example.com", "steering")
    users.set_user(db, COMMAND_LINE, "cco@example.com", "editor")
    return dict(db=db, retail=retail_pilot, online=online_pilot, batch=batch, tmp=tmp_path,
                head=users.actor_for(db, "rita@example.com"), steering=users.actor_for(db, "board@example.com"),
                units=store.unit_lookup(store.list_units(db, COMMAND_LINE)))


def forbidden_writes(o, pilot_id):
    """Every data write there is, aimed at `pilot_id` where it concerns a pilot."""
    db = o["db"]
    draft = store.pilot_draft(store.get_pilot(db, COMMAND_LINE, pilot_id))
    frame = pd.DataFrame({"unit": ["Retail"], "metric": ["fcr"], "period_start": [dt.date(2025, 2, 3)],
                          "value": [0.9], "n": [50], "sd": [None]})
    return {
        "add unit": lambda a: store.add_unit(db, a, "Field Service"),
        "update unit": lambda a: store.update_unit(db, a, dataclasses.replace(o["units"]["retail"], head="Me")),
        "add metric": lambda a: store.add_metric(db, a, Metric("wait", "Wait", "min", "lower", "mean")),
        "add pilot": lambda a: store.add_pilot(db, a, dataclasses.replace(draft, name="Mine", status="proposed")),
        "update pilot": lambda a: store.update_pilot(db, a, pilot_id, dataclasses.replace(draft, owner="Me"), 1),
        "set status": lambda a: lifecycle.set_status(db, a, pilot_id, "running"),
        "decide": lambda a: lifecycle.record_decision(db, a, pilot_id, "roll_out", "Why not", "Me", dt.date(2025, 7, 1)),
        "roll out": lambda a: lifecycle.record_rollout(db, a, pilot_id, ["Claims"], dt.date(2025, 8, 1)),
        "import": lambda a: ingest.import_file(db, a, o["tmp"] / "answers.csv", "observations"),
        "undo import": lambda a: ingest.undo_batch(db, a, o["batch"]),
        "redo import": lambda a: ingest.redo_batch(db, a, o["batch"]),
        "organisation settings": lambda a: organisation.save_org_settings(db, a, organisation.OrgSettings(name="Mine"),
                                                                         expected_version=0),
        "correct measurements": lambda a: ingest.save_measurements(db, a, frame),
        "rollout assumptions": lambda a: cells.save_assumptions(db, a, pilot_id, cells.RolloutAssumptions(1.0)),
        "give access": lambda a: users.set_user(db, a, "x@example.com", "editor"),
        "remove access": lambda a: users.remove_user(db, a, "board@example.com"),
    }


WRITES = [
    "add unit", "update unit", "add metric", "add pilot", "update pilot", "set status", "decide", "roll out",
    "import", "undo import", "redo import", "organisation settings", "correct measurements", "rollout assumptions",
    "give access", "remove access"]


def written_since(db, before: dict) -> list[str]:
    """The actions logged since `before` (table counts), after checking nothing else was written."""
    after = store.table_counts(db)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {k: v for k, v in before.items() if k != "audit_log"}
    added = after["audit_log"] - before["audit_log"]
    return audit.list_audit(db, COMMAND_LINE, limit=added)["action"].tolist()[::-1] if added else []


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("who, pilot", [("head", "retail"), ("head", "online"), ("steering", "retail")])
def test_no_one_but_the_cco_office_writes_data_even_on_their_own_units_pilot(org, who, pilot, write):
    db = org["db"]
    before = store.table_counts(db)
    with pytest.raises(AccessDenied):
        forbidden_writes(org, org[pilot])[write](org[who])
    # Nothing written but the refusal itself, logged as the one who tried.
    assert store.table_counts(db) == {**before, "audit_log": before["audit_log"] + 1}
    last = audit.list_audit(db, COMMAND_LINE, limit=1).iloc[0]
    assert (last["action"], last["actor"]) == ("refused", org[who].email)


def test_the_write_matrix_names_every_write(org):
    assert sorted(forbidden_writes(org, org["retail"])) == sorted(WRITES)


def test_a_unit_head_reads_only_their_own_units_pilots_and_data(org):
    db, head, online = org["db"], org["head"], org["online"]
    assert [p.pilot_id for p in store.list_pilots(db, head)] == [org["retail"]]
    assert store.pipeline(db, head)["unit"].tolist() == ["Retail"]
    own = store.get_pilot(db, head, org["retail"])
    assert analysis.analyze_pilot(db, head, own.pilot_id).pilot_id == own.pilot_id
    assert not trends.pilot_series(db, head, own, "nps").empty
    other = store.get_pilot(db, COMMAND_LINE, online)
    for read in (lambda: store.get_pilot(db, head, online),
                 lambda: analysis.analyze_pilot(db, head, online),
                 lambda: trends.pilot_series(db, head, other, "nps"),
                 lambda: trends.org_series(db, head, "nps", org["units"]["online"].unit_id, dt.date(2025, 1, 1),
                                          dt.date(2025, 12, 31)),
                 lambda: comments.list_comments(db, head, online),
                 lambda: comments.add_comment(db, head, online, "Peeking"),
                 lambda: audit.decisions(db, head, online),
                 lambda: audit.list_audit(db, head),
                 lambda: ingest.list_batches(db, head),
                 lambda: users.list_users(db, head)):
        with pytest.raises(AccessDenied):
            read()
    assert set(ingest.measurements_frame(db, head)["unit"]) == {"Retail"}
    assert set(ingest.coverage(db, head)["unit"]) == {"Retail"}
    assert [p.pilot_id for p in store.list_pilots(db, head, unit_ids=[org["units"]["online"].unit_id])] == []


def test_steering_reads_everything(org):
    db, steering = org["db"], org["steering"]
    assert {p.pilot_id for p in store.list_pilots(db, steering)} == {org["retail"], org["online"]}
    assert analysis.analyze_pilot(db, steering, org["online"]).pilot_id == org["online"]
    assert set(ingest.measurements_frame(db, steering)["unit"]) == {"Retail", "Online"}
    with pytest.raises(AccessDenied):
        audit.list_audit(db, steering)


def test_comments_are_open_to_whoever_sees_the_pilot(org):
    """Issue 6: comments on a pilot by anyone who can see it, so steering and the unit head too."""
    db = org["db"]
    comments.add_comment(db, org["head"], org["retail"], "Staff like it")
    comments.add_comment(db, org["steering"], org["online"], "Show us the guardrails next time")
    assert [c.author for c in comments.list_comments(db, org["steering"], org["retail"])] == ["rita@example.com"]
    assert [c.body for c in comments.list_comments(db, COMMAND_LINE, org["online"])] == [
        "Show us the guardrails next time"]


def cli(db, *args):
    out, err = io.StringIO(), io.StringIO()
    return main(["--db", str(db.path), *args], out=out, err=err), out.getvalue(), err.getvalue()


def test_the_command_line_acting_as_a_user_keeps_their_role(org):
    db = org["db"]
    code, _, err = cli(db, "--as", "rita@example.com", "analyze", str(org["online"]), "--json")
    assert code == 1 and "may not see pilot" in err
    assert cli(db, "--as", "rita@example.com", "analyze", str(org["retail"]), "--json")[0] == 0
    before = store.table_counts(db)
    for who in ("rita@example.com", "board@example.com"):
        for args in (["units", "add", "Field Service"], ["import", "observations", str(org["tmp"] / "answers.csv")],
                     ["pilots", "add", "--name", "X", "--unit", "Retail", "--metric", "nps", "--baseline",
                      "2025-01-01", "2025-01-31", "--pilot", "2025-02-01", "2025-03-01"],
                     ["metrics", "add", "wait", "--label", "Wait", "--direction", "lower", "--aggregation", "mean"],
                     ["users", "add", who, "--role", "editor"], ["demo"]):
            code, _, err = cli(db, "--as", who, *args)
            assert code == 1 and "may not" in err, (who, args, err)
    assert written_since(db, before) == ["refused"] * 12
    assert cli(db, "--as", "board@example.com", "pilots", "list")[1].count("\n") == 2


# ---------------------------------------------------------------- pages and URLs

def signed_in(email: str, page: str | None = None, **query) -> AppTest:
    at = AppTest.from_file(APP if page is None else str(Path(APP).parent / "pages" / f"{page}.py"),
                           default_timeout=60)
    at.secrets = AUTH
    at.user = {"is_logged_in": True, "email": email, "email_verified": True, "iss": "https://login.example.com",
               "sub": email}
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


@pytest.mark.parametrize("email, allowed", [
    ("rita@example.com", {"portfolio", "pilots", "pilot", "settings"}),
    ("board@example.com", {"portfolio", "pilots", "pilot", "settings"}),
    ("cco@example.com", {"portfolio", "pilots", "pilot", "settings", "edit", "data", "audit"}),
])
def test_each_role_can_reach_only_its_pages(org, monkeypatch, email, allowed):
    monkeypatch.setenv("PILOTS_DB", str(org["db"].path))
    at = signed_in(email)
    assert not at.exception, [e.value for e in at.exception]
    for page in ("portfolio", "pilots", "pilot", "settings", "edit", "data", "audit"):
        if page in allowed:
            at.switch_page(f"pages/{page}.py").run()
            assert not at.exception, (page, [e.value for e in at.exception])
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(f"pages/{page}.py")


def test_a_unit_head_typing_another_units_pilot_url_sees_nothing_of_it(org, monkeypatch):
    monkeypatch.setenv("PILOTS_DB", str(org["db"].path))
    at = signed_in("rita@example.com")
    at.query_params["id"] = str(org["online"])
    at.switch_page("pages/pilot.py").run()
    assert not at.exception
    assert "is yours to see" in at.warning[0].value
    shown = " ".join([t.value for t in at.title] + [m.value for m in at.markdown])
    assert "Chat bot for returns" not in shown and "Callback instead of hold queue" in shown


@pytest.mark.parametrize("page, refusal", [("edit", "Only the CCO office registers"),
                                           ("audit", "Only the CCO office reads the audit log")])
def test_editor_pages_run_on_their_own_refuse_other_roles(org, monkeypatch, page, refusal):
    monkeypatch.setenv("PILOTS_DB", str(org["db"].path))
    before = store.table_counts(org["db"])
    for email in ("rita@example.com", "board@example.com"):
        at = signed_in(email, page)
        assert not at.exception
        assert refusal in at.error[0].value
        assert not at.dataframe and not at.button
    # Only each person's first sign-in, which ties the address to their account.
    assert written_since(org["db"], before) == ["first_sign_in"] * 2
