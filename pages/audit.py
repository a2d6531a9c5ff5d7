"""Audit log: every write to the tracker, who made it, when, and the values before and after, for
the CCO office to browse and filter. Nothing here (or anywhere in the app) changes or deletes it."""

import streamlit as st

from pages._ui import current_actor, database, in_app_shell
from pilots import audit

in_app_shell()

db, actor = database(), current_actor()
st.title("Audit log")
if not actor.is_editor:
    st.error("Only the CCO office reads the audit log.")
    st.stop()

choices = audit.audit_choices(db, actor)
first = st.columns(3)
who = first[0].multiselect("Who", choices["actor"], placeholder="Anyone")
entities = first[1].multiselect("What", choices["entity"], placeholder="Everything")
actions = first[2].multiselect("Action", choices["action"], placeholder="Any action")
second = st.columns([1, 1, 1, 2])
since = second[0].date_input("From", value=None)
until = second[1].date_input("To", value=None)
entity_id = second[2].text_input("Id", placeholder="e.g. 12 or name@example.com")
text = second[3].text_input("Values contain", placeholder="text in the before or after values")

found = audit.AuditFilter(tuple(who), tuple(entities), tuple(actions), entity_id or None, since, until, text or None)
entries = audit.list_audit(db, actor, found, limit=1000)
total = audit.count_audit(db, actor, found)
st.caption(f"{total} entr{'y' if total == 1 else 'ies'}" + (", the newest 1000 shown" if total > len(entries) else ""))
st.dataframe(entries, hide_index=True, width="stretch", column_config={
    "audit_id": st.column_config.NumberColumn("#", width="small"),
    "logged_at": st.column_config.DatetimeColumn("when", format="YYYY-MM-DD HH:mm:ss"),
    "actor": "who", "entity_id": "id",
    "before": st.column_config.TextColumn("before", width="large"),
    "after": st.column_config.TextColumn("after", width="large"),
})
st.download_button("Download these entries (CSV)", entries.to_csv(index=False).encode(), "audit_log.csv",
                   "text/csv", icon=":material/download:")
