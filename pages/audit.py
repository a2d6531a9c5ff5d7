"""Audit log: every write to the tracker, who made it, when, and what changed, in words ("status:
running → evaluating; target effect: 3 → 5"), for the CCO office to browse and filter; a click on an
entry shows its changes line by line and the full before and after as JSON; above it, whether the
log's hash chain is whole (pilots.audit.verify_chain). The table fits 1366 px.
Nothing here (or anywhere in the app) changes or deletes the log, and nothing anyone typed is
rendered as Markdown or HTML: values go to table cells, plain text and code blocks only."""

import streamlit as st

from pages._ui import current_actor, database, in_app_shell
from pilots import audit

in_app_shell()

db, actor = database(), current_actor()
st.title("Audit log")
if not actor.is_editor:
    st.error("Only the CCO office reads the audit log.")
    st.stop()

chain = audit.verify_chain(db, actor)
if chain.intact:
    st.success(f"Intact: all {chain.entries:,} entries are sealed one onto the next; none has been changed, "
               f"removed or slipped in since it was written.", icon=":material/verified:")
else:
    st.error(f"The audit log has been altered outside the app at entry {chain.broken_at}: {chain.reason}. "
             f"Entries from there on cannot be trusted; compare with a backup.", icon=":material/gpp_bad:")

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
st.caption(f"{total} entr{'y' if total == 1 else 'ies'}" + (", the newest 1000 shown" if total > len(entries) else "")
           + ". Click an entry for its changes line by line and the full before and after.")

# Column widths (and the selection column) add up to less than the page is wide at 1366 px with the
# sidebar open (about 900 px); wider, the last column grows. Long change lists wrap onto a second and
# third line (rows taller than 4 rem wrap their text); the detail below shows all of it.
picked = st.dataframe(
    audit.readable_audit(entries), hide_index=True, width="stretch", row_height=72, key="audit_table",
    on_select="rerun", selection_mode="single-row",
    column_config={
        "audit_id": st.column_config.NumberColumn("#", width=60, format="%d"),
        "logged_at": st.column_config.DatetimeColumn("when", format="YYYY-MM-DD HH:mm", width=135),
        "actor": st.column_config.TextColumn("who", width=160),
        "what": st.column_config.TextColumn("what", width=160),
        "changes": st.column_config.TextColumn("changes", width=320),
    })

if not entries.empty:
    rows = picked.selection.rows if picked is not None else []
    entry = entries.iloc[rows[0] if rows else 0]
    with st.container(border=True):
        st.text(f"#{entry['audit_id']} · {entry['logged_at']:%Y-%m-%d %H:%M:%S} · {entry['actor']} · "
                f"{entry['action']} {entry['entity']} {entry['entity_id'] or ''}".rstrip()
                + ("" if rows else "  (the newest entry; click another one in the table)"))
        changes = audit.change_list(audit.parsed(entry["before"]), audit.parsed(entry["after"]), max_chars=None)
        st.text("\n".join(changes) or "nothing recorded")
        with st.expander("Full before and after (JSON)"):
            st.code(audit.entry_json(entry), language="json", wrap_lines=True)

st.download_button("Download these entries (CSV)", entries.to_csv(index=False).encode(), "audit_log.csv",
                   "text/csv", icon=":material/download:")
