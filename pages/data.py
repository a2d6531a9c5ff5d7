"""Data: import a file (preview, every problem, commit only when clean), the list of batches with
undo, example templates, manual entry of period measurements, and the coverage of what data exist."""

import streamlit as st

from pages._ui import current_actor, database, in_app_shell, metric_labels, show_problems
from pilots import charts, ingest, store
from pilots.model import ValidationError

in_app_shell()

db = database()
actor = current_actor()
st.title("Data")
st.caption("Observations are row-level answers or cases (unit, metric, date, value); measurements are period "
           "aggregates (unit, metric, period_start, value, optional n and sd). Every import is a batch that can "
           "be undone.")

if "data_flash" in st.session_state:
    st.success(st.session_state.pop("data_flash"), icon=":material/check_circle:")

imports, batches, manual, coverage, templates = st.tabs(
    ["Import a file", "Batches", "Enter measurements", "Coverage", "Templates"])

with imports:
    kind = st.radio("Kind of data", ingest.KINDS, horizontal=True, key="import_kind",
                    captions=["one row per answer or case", "one row per unit, metric and period"])
    upload = st.file_uploader("CSV or Excel file", type=["csv", "xlsx"], key="import_file")
    replace = kind == "measurements" and st.checkbox(
        "Replace measurements already stored for the same unit, metric and period (recorded in the audit log)",
        key="import_replace")
    if upload is not None:
        key = (upload.file_id, kind, replace)
        if st.session_state.get("import_checked_key") != key:
            bar = st.progress(0.0, text="Reading the file…")
            validation = ingest.validate_file(db, actor, upload.getvalue(), kind, upload.name, replace=replace,
                                              progress=lambda f, m: bar.progress(f, text=m))
            bar.empty()
            st.session_state["import_checked_key"] = key
            st.session_state["import_validation"] = validation
        validation = st.session_state["import_validation"]
        st.subheader(f"{validation.file_name}: {validation.rows:,} data rows")
        if not validation.preview.empty:
            st.caption(f"The first {min(len(validation.preview), ingest.PREVIEW_ROWS)} rows as read from the file")
            st.dataframe(validation.preview, hide_index=True, width="stretch")
        if validation.problems:
            show_problems(validation.problems)
            if validation.problem_count > len(validation.problems):
                st.caption(f"{validation.problem_count:,} problems in all; the first of each kind are listed.")
        elif st.session_state.get("import_committed") == key:
            st.info("This file has been imported; choose another file to import more.")
        elif st.button(f"Import {validation.rows:,} {kind}", type="primary", key="import_commit"):
            bar = st.progress(0.0, text="Writing…")
            try:
                result = ingest.commit(db, actor, validation, progress=lambda f, m: bar.progress(f, text=m))
            except ValidationError as refused:
                bar.empty()
                show_problems(refused.problems)
            else:
                st.session_state["import_committed"] = key
                st.session_state["data_flash"] = f"Imported {result}"
                st.rerun()

with batches:
    listed = ingest.list_batches(db, actor)
    if listed.empty:
        st.info("No imports yet.")
    else:
        st.dataframe(listed, hide_index=True, width="stretch", column_config={
            "imported_at": st.column_config.DatetimeColumn("imported", format="YYYY-MM-DD HH:mm"),
            "undone_at": st.column_config.DatetimeColumn("undone", format="YYYY-MM-DD HH:mm"),
            "undone": st.column_config.CheckboxColumn("undone?")})
        standing = listed.loc[~listed["undone"], "batch"].tolist()
        if standing and actor.is_editor:
            chosen = st.selectbox("Batch to undo", standing, key="undo_choice",
                                  format_func=lambda b: f"batch {b}: " + listed.set_index("batch").loc[b, "file"])
            pending = st.session_state.get("undo_pending")
            if pending != chosen:
                if st.button("Undo this batch…", key="undo_ask"):
                    st.session_state["undo_pending"] = chosen
                    st.rerun()
            else:
                row = listed.set_index("batch").loc[chosen]
                st.warning(f"Remove all {row['rows']:,} {row['kind']} of batch {chosen} ({row['file']})? "
                           "The undo is recorded in the audit log.")
                yes, no = st.columns(2)
                if yes.button("Yes, undo it", type="primary", key="undo_confirm"):
                    removed = ingest.undo_batch(db, actor, chosen)
                    st.session_state.pop("undo_pending")
                    st.session_state["data_flash"] = f"Batch {chosen} undone: {removed:,} rows removed."
                    st.rerun()
                if no.button("Cancel", key="undo_cancel"):
                    st.session_state.pop("undo_pending")
                    st.rerun()

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
            st.session_state["data_flash"] = f"Saved: {saved}"
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
