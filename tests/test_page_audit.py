"""AppTest of the Audit log page: before and after as a list of changes in words, the full JSON one
click below, an entry picked in the table shown in detail, and nothing anyone typed rendered as
Markdown or HTML."""

import json

import pytest

from apptests import open_page
from pilots import comments, lifecycle
from pilots.access import COMMAND_LINE

TYPED = "**bold** <b>html</b> :red[alarm] [link](http://example.com)"


@pytest.fixture
def audited(small_org, monkeypatch):
    db, pilot_id = small_org
    monkeypatch.setenv("PILOTS_DB", str(db.path))
    lifecycle.set_status(db, COMMAND_LINE, pilot_id, "running", expected_version=1)
    comments.add_comment(db, COMMAND_LINE, pilot_id, TYPED)
    return db, pilot_id


def test_the_log_shows_changes_in_words_and_the_json_one_click_below(audited):
    db, pilot_id = audited
    at = open_page("audit")
    table = at.dataframe[0].value
    assert list(table.columns) == ["audit_id", "logged_at", "actor", "what", "changes"]
    assert "before" not in table.columns and "after" not in table.columns
    status = table.loc[table["what"] == f"status pilot {pilot_id}", "changes"].item()
    assert status == "status: proposed → running"
    assert not any(value.startswith("{") for value in table["changes"])

    # the newest entry (the comment) is shown in detail until another one is picked
    heading, changes = [t.value for t in at.text][:2]
    assert heading.startswith(f"#{table['audit_id'].iloc[0]} · ") and "add comment" in heading
    assert changes == f"body: {TYPED}\npilot id: {pilot_id}"
    [expander] = [e for e in at.expander if e.label == "Full before and after (JSON)"]
    assert json.loads(expander.code[0].value) == {"before": None, "after": {"body": TYPED, "pilot_id": pilot_id}}

    row = table.index[table["what"] == f"status pilot {pilot_id}"][0]
    at.session_state["audit_table"] = {"selection": {"rows": [int(row)], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    heading, changes = [t.value for t in at.text][:2]
    assert f"status pilot {pilot_id}" in heading and changes == "status: proposed → running"
    assert json.loads(at.code[0].value)["after"] == {"status": "running", "version": 2}


def test_nothing_typed_is_rendered_as_markdown(audited):
    at = open_page("audit")
    rendered = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error] + \
        [w.value for w in at.warning] + [s.value for s in at.success] + [i.value for i in at.info]
    assert not [text for text in rendered if "alarm" in text or "<b>" in text]
    assert any(TYPED in t.value for t in at.text), "the comment is shown, as plain text"


def test_the_page_says_whether_the_chain_is_whole_and_where_it_was_altered(audited):
    db, pilot_id = audited
    at = open_page("audit")
    assert any("Intact: all" in s.value for s in at.success) and not at.error
    with db.cursor() as cur:  # someone with the file edits an entry behind the app's back
        altered = cur.execute("SELECT min(audit_id) FROM audit_log WHERE action = 'status'").fetchone()[0]
        cur.execute("UPDATE audit_log SET actor = 'someone@else' WHERE audit_id = ?", [altered])
    at = open_page("audit")
    assert any(f"altered outside the app at entry {altered}" in e.value for e in at.error) and not at.success
