"""Data: import a file (preview, every problem, a file identical to an earlier batch flagged and
imported again only when confirmed, commit only when clean), the batches with their status, undo
and redo (each confirmed, naming the batch), example templates, manual entry of period
measurements, and the coverage of what data exist.

An upload is handed to the import as the file object Streamlit holds (never copied into the
session), and once imported it is let go: the page forgets its check and Streamlit drops the file."""


import pandas as pd
import streamlit as st
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from pages._ui import current_actor, database, in_app_shell, literal, metric_labels, show_problems
from pilots import charts, ingest, reading, store
from pilots.model import ValidationError

TABS = ["Import a file", "Batches", "Enter measurements", "Coverage", "Templates"]


def when(stamp) -> str:
    return "" if stamp is None or pd.isna(stamp) else f"{pd.Timestamp(stamp):%Y-%m-%d %H:%M}"


def batch_words(row: pd.Series, typed=str) -> str:
    """A batch as the pickers and confirmations name it: file, rows, who imported it and when
    (`typed` applied to what someone typed: `literal` inside a Markdown message)."""
    return (f"{typed(row['file'])}, {row['rows']:,} {row['kind']} imported on {when(row['imported_at'])} "
            f"by {typed(row['imported_by'])}")


def batch_table(listed: pd.DataFrame) -> pd.DataFrame:
    """The batches as a table that fits 1366 px: status first, then what, what it covers, and its history."""
    def covers(row) -> str:
        dates = "" if pd.isna(row["first_date"]) else \
            f"{pd.Timestamp(row['first_date']):%Y-%m-%d} to {pd.Timestamp(row['last_date']):%Y-%m-%d}"
        return " · ".join(str(part) for part in (row["units"], row["metrics"], dates)
                          if part is not None and not pd.isna(part) and part != "")

    def history(row) -> str:
        steps = [f"imported {when(row['imported_at'])} by {row['imported_by']}"]
        if row["redone_at"] is not None and not pd.isna(row["redone_at"]):
            steps.append(f"redone {when(row['redone_at'])} by {row['redone_by']}")
        if row["undone"]:
            steps.append(f"undone {when(row['undone_at'])} by {row['undone_by']}")
        return "; ".join(steps)

    return pd.DataFrame({
        "status": listed["status"], "batch": listed["batch"],
        "file": [f"{r['file']} · {r['rows']:,} {r['kind']}" for _, r in listed.iterrows()],
        "covers": [covers(r) for _, r in listed.iterrows()],
        "history": [history(r) for _, r in listed.iterrows()]})


def release_upload(upload) -> None:
    """Let go of an imported upload: a fresh (empty) uploader from the next run on, and the file
    dropped from Streamlit's memory now, not when the session ends. (Streamlit offers no public call
    for the second; its own chat input drops its files the same way.)"""
    st.session_state["import_round"] = st.session_state.get("import_round", 0) + 1
    st.session_state.pop("import_validation", None)
    st.session_state.pop("import_checked_key", None)
    context = get_script_run_ctx()
    # The in-memory store Streamlit serves uploads from (what its chat input also drops files from).
    if context is not None and isinstance(context.uploaded_file_mgr, MemoryUploadedFileManager):
        context.uploaded_file_mgr.remove_file(context.session_id, upload.file_id)


def newest_first_choice(key: str, options: list) -> None:
    """Preselect the first option (the newest) whenever it changes, and whenever the choice kept from
    an earlier run is no longer offered: a batch imported or undone since never leaves an older one
    preselected. A choice the person made among unchanged options stays."""
    marker = f"{key}_first"
    if st.session_state.get(marker) != options[0] or st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
        st.session_state[marker] = options[0]
        st.session_state.pop(f"{key}_pending", None)


def confirmed_action(verb: str, options: list, info: pd.DataFrame, question, act, done) -> None:
    """A picker of batches (newest first), a button that asks, and a confirmation naming the batch."""
    key = f"{verb}_choice"
    newest_first_choice(key, options)
    chosen = st.selectbox(f"Batch to {verb}", options, key=key,
                          format_func=lambda b: f"batch {b}: {batch_words(info.loc[b])}")
    pending_key = f"{key}_pending"
    if st.session_state.get(pending_key) != chosen:
        if st.button(f"{verb.capitalize()} this batch…", key=f"{verb}_ask"):
            st.session_state[pending_key] = chosen
            st.rerun()
        return
    st.warning(question(chosen, info.loc[chosen]), icon=":material/help:")
    yes, no = st.columns(2)
    if yes.button(f"Yes, {verb} batch {chosen}", type="primary", key=f"{verb}_confirm"):
        try:
            count = act(chosen)
        except ValidationError as refused:
            show_problems(refused.problems)
            return
        st.session_state.pop(pending_key, None)
        st.session_state["batches_flash"] = done(chosen, info.loc[chosen], count)
        st.session_state["data_tab_next"] = "Batches"  # the tabs exist already in this run
        st.rerun()
    if no.button("Cancel", key=f"{verb}_cancel"):
        st.session_state.pop(pending_key, None)
        st.rerun()


in_app_shell()

db = database()
actor = current_actor()
st.title("Data")
st.caption("Observations are row-level answers or cases (unit, metric, date, value); measurements are period "
           "aggregates (unit, metric, period_start, value, optional n and sd). Every import is a batch that can "
           "be undone, and an undone batch can be redone.")

if "data_flash" in st.session_state:
    st.success(st.session_state.pop("data_flash"), icon=":material/check_circle:")

# After an undo or redo the page comes back on the Batches tab, its message at the top.
if "data_tab_next" in st.session_state:
    st.session_state["data_tab"] = st.session_state.pop("data_tab_next")
imports, batches, manual, coverage, templates = st.tabs(TABS, key="data_tab", on_change="rerun")

with imports:
    kind = st.radio("Kind of data", ingest.KINDS, horizontal=True, key="import_kind",
                    captions=["one row per answer or case", "one row per unit, metric and period"])
    upload = st.file_uploader("CSV or Excel file", type=["csv", "xlsx"],
                              key=f"import_file_{st.session_state.get('import_round', 0)}")
    replace = kind == "measurements" and st.checkbox(
        "Replace measurements already stored for the same unit, metric and period (recorded in the audit log)",
        key="import_replace")
    if upload is not None:
        key = (upload.file_id, kind, replace)
        if st.session_state.get("import_checked_key") != key:
            bar = st.progress(0.0, text="Reading the file…")
            validation = ingest.validate_file(db, actor, upload, kind, upload.name, replace=replace,
                                              progress=lambda f, m: bar.progress(f, text=m))
            bar.empty()
            st.session_state["import_checked_key"] = key
            st.session_state["import_validation"] = validation
        validation = st.session_state["import_validation"]
        st.subheader(f"{literal(validation.file_name)}: {validation.rows:,} data rows")
        if validation.preview is not None and not validation.preview.empty:
            st.caption(f"The first {min(len(validation.preview), reading.PREVIEW_ROWS)} rows as read from the file")
            st.dataframe(validation.preview, hide_index=True, width="stretch")
        same = validation.identical_to
        if validation.problems:
            show_problems(validation.problems)
            if validation.problem_count > len(validation.problems):
                st.caption(f"{validation.problem_count:,} problems in all; the first of each kind are listed.")
        else:
            go_ahead = True
            if same is not None and not same.undone:
                again = (f"would count its {same.rows:,} {same.kind} twice" if same.kind == "observations" else
                         "would write the same values over them")
                st.warning(f"This file is identical to batch {same.batch_id} imported on "
                           f"{same.imported_at:%Y-%m-%d %H:%M} by {literal(same.imported_by)} "
                           f"({literal(same.source)}, {same.rows:,} {same.kind}). Importing it again {again}.",
                           icon=":material/content_copy:")
                go_ahead = st.checkbox(f"Yes, import this file again although batch {same.batch_id} holds it",
                                       key=f"import_duplicate_ok_{upload.file_id}")
            elif same is not None:
                st.info(f"This file is identical to batch {same.batch_id} ({literal(same.source)}), imported on "
                        f"{same.imported_at:%Y-%m-%d %H:%M} by {literal(same.imported_by)} and undone on "
                        f"{same.undone_at:%Y-%m-%d %H:%M} by {literal(same.undone_by)}. To bring those rows back as "
                        f"they were, redo batch {same.batch_id} on the Batches tab instead.",
                        icon=":material/info:")
            if st.button(f"Import {validation.rows:,} {kind}", type="primary", key="import_commit",
                         disabled=not go_ahead):
                bar = st.progress(0.0, text="Writing…")
                try:
                    result = ingest.commit(db, actor, validation, progress=lambda f, m: bar.progress(f, text=m),
                                           allow_duplicate=same is not None and go_ahead)
                except ValidationError as refused:
                    bar.empty()
                    show_problems(refused.problems)
                else:
                    release_upload(upload)
                    st.session_state["data_flash"] = f"Imported {literal(result)}"
                    st.rerun()

with batches:
    if "batches_flash" in st.session_state:
        st.success(st.session_state.pop("batches_flash"), icon=":material/check_circle:")
    listed = ingest.list_batches(db, actor)
    if listed.empty:
        st.info("No imports yet.")
    else:
        info = listed.set_index("batch")
        undone_count = int(listed["undone"].sum())
        st.caption(f"{len(listed):,} import{'s' if len(listed) != 1 else ''}, newest first; {undone_count:,} "
                   "undone (left out of every analysis, kept for a redo).")
        if actor.is_editor:
            standing = listed.loc[~listed["undone"], "batch"].tolist()
            redoable = listed.loc[listed["can_redo"]].sort_values("undone_at", ascending=False)["batch"].tolist()
            undo_side, redo_side = st.columns(2)
            with undo_side:
                if standing:
                    confirmed_action(
                        "undo", standing, info,
                        lambda b, row: (f"Undo batch {b}: {batch_words(row, literal)}? Its rows leave every analysis "
                                        "at once; they are kept, so the batch can be redone. The undo is recorded "
                                        "in the audit log."),
                        lambda b: ingest.undo_batch(db, actor, b),
                        lambda b, row, count: (f"Batch {b} undone: {count:,} {row['kind']} of {literal(row['file'])} "
                                               "are out of every analysis and kept for a redo. Its status below "
                                               "is now Undone."))
                else:
                    st.caption("Every batch is undone.")
            with redo_side:
                if redoable:
                    confirmed_action(
                        "redo", redoable, info,
                        lambda b, row: (f"Redo batch {b}: {batch_words(row, literal)}, undone on "
                                        f"{when(row['undone_at'])} by {literal(row['undone_by'])}? Its rows come "
                                        "back exactly as they were. The redo is recorded in the audit log."),
                        lambda b: ingest.redo_batch(db, actor, b),
                        lambda b, row, count: (f"Batch {b} redone: {count:,} {row['kind']} of {literal(row['file'])} "
                                               "are back in every analysis, as they were. Its status below is now "
                                               "Redone."))
                else:
                    st.caption("No undone batch to redo.")
                legacy = int((listed["undone"] & ~listed["can_redo"]).sum())
                if legacy:
                    st.caption(f"{legacy} batch{'es' if legacy != 1 else ''} undone before undone rows were kept "
                               "cannot be redone: import the file again instead.")
        st.dataframe(batch_table(listed), hide_index=True, width="stretch", row_height=66, column_config={
            "status": st.column_config.TextColumn("status", width=80),
            "batch": st.column_config.NumberColumn("batch", width=60, format="%d"),
            "file": st.column_config.TextColumn("file and rows", width=220),
            "covers": st.column_config.TextColumn("units · metrics · dates", width=250),
            "history": st.column_config.TextColumn("history", width=250)})

with manual:
    st.caption("Add rows for new periods or correct stored values; the table is checked like a file and saved "
               "only if every cell is valid. Changed values replace the stored ones (recorded in the audit log). "
               "To take rows out, undo the batch that brought them in.")
    units = [u.name for u in store.list_units(db, actor)]
    labels = metric_labels()
    left, right = st.columns(2)
    unit = left.selectbox("Unit", [None] + units, key="manual_unit", format_func=lambda u: u or "all units")
    metric = right.selectbox("Metric", [None] + list(labels), key="manual_metric",
                             format_func=lambda k: labels.get(k, "all metrics"))
    edited = st.data_editor(
        ingest.measurements_frame(db, actor, unit, metric), num_rows="add", hide_index=True,
        width="stretch", key=f"manual_editor_{unit}_{metric}",
        column_config={"unit": st.column_config.SelectboxColumn("unit", options=units, required=True),
                       "metric": st.column_config.SelectboxColumn("metric", options=list(labels), required=True),
                       "period_start": st.column_config.DateColumn("period_start", required=True),
                       "value": st.column_config.NumberColumn("value", required=True),
                       "n": st.column_config.NumberColumn("n", min_value=1, step=1),
                       "sd": st.column_config.NumberColumn("sd", min_value=0.0)})
    if st.button("Save measurements", type="primary", key="manual_save"):
        try:
            saved = ingest.save_measurements(db, actor, edited)
        except ValidationError as refused:
            show_problems(refused.problems)
        else:
            st.session_state["data_flash"] = f"Saved: {literal(saved)}"
            st.rerun()

with coverage:
    labels = metric_labels()
    metric = st.selectbox("Metric", list(labels), key="coverage_metric", format_func=labels.get)
    frame = ingest.coverage(db, actor, metric)
    if frame.empty:
        st.info(f"No {labels[metric]} data yet.")
    else:
        st.altair_chart(charts.coverage_heatmap(frame, ingest.pilot_windows(db, actor, metric), labels[metric]),
                        width="stretch")
        st.caption("Shade = answers or cases per month; a triangle marks the start of a pilot's baseline on its "
                   "unit and its control units.")
        st.dataframe(ingest.coverage_summary(frame), hide_index=True, width="stretch")

with templates:
    st.caption("Example files with the current units and metrics, each value within its metric's valid range.")
    for kind_name in ingest.KINDS:
        csv_col, xlsx_col = st.columns(2)
        csv_col.download_button(f"{kind_name.capitalize()} template (CSV)", ingest.template(db, kind_name, "csv"),
                                file_name=f"{kind_name}_template.csv", mime="text/csv", key=f"tpl_{kind_name}_csv")
        xlsx_col.download_button(
            f"{kind_name.capitalize()} template (Excel)", ingest.template(db, kind_name, "xlsx"),
            file_name=f"{kind_name}_template.xlsx", key=f"tpl_{kind_name}_xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
