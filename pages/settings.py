"""Settings: business units, metric definitions, the organisation (name, logo, currency and "prepared
by" on every deck, who sees the units' commercial figures), who has access, and the backups."""

import dataclasses

import streamlit as st

from pages._ui import (current_actor, database, form_reset, form_saved, fresh_form, in_app_shell, literal,
                       show_problems, users_section)
from pilots import backup, org, store
from pilots.model import AGGREGATIONS, DIRECTIONS, Metric, ValidationError

in_app_shell()

db, actor = database(), current_actor()
st.title("Settings")

st.subheader("Business units")
units = store.list_units(db, actor)
st.dataframe([{"unit": u.name, "head": u.head, "customers": u.customers,
               "annual revenue per customer": u.revenue_per_customer} for u in units],
             hide_index=True, width="stretch")


def unit_fields(unit: store.Unit | None) -> tuple:
    """Name, head, customers and revenue per customer, in a row of inputs starting from `unit`."""
    name_col, head_col, customers_col, revenue_col = st.columns(4)
    name = name_col.text_input("Name", unit.name if unit else "")
    head = head_col.text_input("Head", (unit.head or "") if unit else "")
    customers = customers_col.number_input("Customers", min_value=0, value=unit.customers if unit else None, step=1000)
    revenue = revenue_col.number_input("Annual revenue per customer", min_value=0.0,
                                       value=unit.revenue_per_customer if unit else None)
    return name.strip(), head.strip() or None, None if customers is None else int(customers), revenue


if actor.is_editor:
    with fresh_form("add_unit"):
        st.markdown("**Add a business unit**")
        name, head, customers, revenue = unit_fields(None)
        if st.form_submit_button("Add unit"):
            try:
                store.add_unit(db, actor, name, head=head, customers=customers, revenue_per_customer=revenue)
                form_saved("add_unit", f"Added {name}.")
            except ValidationError as refused:
                show_problems(refused.problems)
    if units:
        by_id = {u.unit_id: u for u in units}
        chosen = st.selectbox("Correct a business unit", list(by_id), format_func=lambda i: by_id[i].name,
                              key="correct_unit", help="Its size figures drive every rollout value.")
        # The unit as this session first showed it: a save is checked against it (optimistic locking).
        opened = st.session_state.setdefault("units_opened", {})
        loaded = opened.setdefault(chosen, by_id[chosen])
        with fresh_form(f"correct_unit_{chosen}"):
            name, head, customers, revenue = unit_fields(loaded)
            if st.form_submit_button("Save unit"):
                try:
                    store.update_unit(db, actor, store.Unit(chosen, name, head, customers, revenue), expected=loaded)
                    opened.pop(chosen)
                    form_saved(f"correct_unit_{chosen}", f"Saved {name}.")
                except store.StaleEdit as stale:
                    opened.pop(chosen)  # the next run shows the unit as it is stored now
                    form_reset(f"correct_unit_{chosen}")
                    show_problems(stale.problems)
                except ValidationError as refused:
                    show_problems(refused.problems)

st.subheader("Metrics")
metrics = store.list_metrics(db)
st.dataframe([{"key": m.key, "label": m.label, "unit": m.unit, "good when": m.direction,
               "aggregation": m.aggregation, "answer range": f"{m.min_value:g} – {m.max_value:g}"
               if m.min_value is not None and m.max_value is not None else (
                   f"≥ {m.min_value:g}" if m.min_value is not None else "any"),
               "role": (m.role_hint or "").replace("_", " "), "description": m.description} for m in metrics],
             hide_index=True, width="stretch")
if actor.is_editor:
    with fresh_form("add_metric"):
        st.markdown("**Define a metric**")
        first = st.columns(4)
        key = first[0].text_input("Key", help="lower-case letters, digits and _")
        label = first[1].text_input("Label")
        unit = first[2].text_input("Unit", placeholder="e.g. days")
        direction = first[3].selectbox("Good when", DIRECTIONS, format_func=lambda d: f"{d} is better")
        second = st.columns(4)
        aggregation = second[0].selectbox("Aggregation", AGGREGATIONS)
        low = second[1].number_input("Lowest valid answer", value=None)
        high = second[2].number_input("Highest valid answer", value=None)
        whole = second[3].checkbox("Whole numbers only")
        description = st.text_input("Description")
        if st.form_submit_button("Add metric"):
            try:
                store.add_metric(db, actor, Metric(key.strip(), label.strip(), unit.strip(), direction, aggregation,
                                                   low, high, whole, None, description.strip()))
                form_saved("add_metric", f"Added {key}.")
            except ValidationError as refused:
                show_problems(refused.problems)


def organisation_section() -> None:
    """The organisation's name, logo, currency and "prepared by": set by the CCO office, read by everyone
    else. A save is checked against the version this session loaded (optimistic locking)."""
    st.subheader("Organisation")
    st.caption("On the title slide of every deck (name, logo, date and who prepared it); the currency is how "
               "money is shown.")
    stored = org.org_settings(db)
    if not actor.is_editor:
        if stored.logo:
            st.image(stored.logo, width=240, caption="Logo")
        name_col, prepared_col, code_col, symbol_col = st.columns([3, 3, 1, 1])
        name_col.text_input("Organisation name", stored.name, disabled=True)
        prepared_col.text_input("Prepared by", stored.prepared_by or "the person exporting", disabled=True)
        code_col.text_input("Currency code", stored.currency_code or "none set", disabled=True)
        symbol_col.text_input("Currency symbol", stored.currency_symbol or "none set", disabled=True)
        st.caption("Only the CCO office changes these.")
        return
    # The settings as this session first showed them: a save made from them is refused if someone saved since.
    loaded = st.session_state.setdefault("org_opened", stored)
    if loaded.logo:
        st.image(loaded.logo, width=240, caption="Current logo")
    with fresh_form("org_settings"):
        name_col, prepared_col = st.columns(2)
        name = name_col.text_input("Organisation name", loaded.name, max_chars=org.MAX_TEXT)
        prepared = prepared_col.text_input(
            "Prepared by (default)", loaded.prepared_by, max_chars=org.MAX_TEXT, placeholder="e.g. CCO office",
            help="Written on every deck's title slide, with the e-mail address of the person exporting it.")
        code_col, symbol_col = st.columns(2)
        code = code_col.text_input("Currency code (ISO 4217)", loaded.currency_code, placeholder="e.g. EUR",
                                   help="Leave empty for no currency: money is then shown as plain numbers.")
        symbol = symbol_col.text_input("Currency symbol", loaded.currency_symbol, max_chars=org.MAX_SYMBOL,
                                       placeholder="e.g. €")
        upload = st.file_uploader(f"Logo (PNG or JPEG, at most {org.MAX_LOGO_BYTES / 1e6:g} MB)",
                                  type=["png", "jpg", "jpeg"])
        remove = st.checkbox("Remove the logo") if loaded.logo else False
        open_figures = st.checkbox(
            "Unit heads see every unit's customers and revenue per customer", loaded.unit_figures_for_unit_heads,
            help="Off: a unit head sees these figures for their own units only. Editors and the steering "
                 "committee always see them.")
        st.caption(f"Money reads: {literal(org.format_money(1_234_567, loaded))} (as saved now).")
        if st.form_submit_button("Save organisation settings"):
            logo = upload.getvalue() if upload is not None else None if remove else loaded.logo
            try:
                org.save_org_settings(db, actor, dataclasses.replace(
                    loaded, name=name, prepared_by=prepared, currency_code=code, currency_symbol=symbol, logo=logo,
                    unit_figures_for_unit_heads=open_figures),
                    expected_version=loaded.version)
                st.session_state.pop("org_opened", None)
                form_saved("org_settings", "Saved the organisation settings.")
            except store.StaleEdit as stale:
                st.session_state.pop("org_opened", None)  # the next run shows the settings as stored now
                form_reset("org_settings")
                show_problems(stale.problems)
            except ValidationError as refused:
                show_problems(refused.problems)


def backups_section() -> None:
    """The backups beside the database file, newest first, and one taken on demand (CCO office only)."""
    st.subheader("Backups")
    folder = backup.backup_folder(db.path)
    st.caption(f"Kept in {folder}: one before every upgrade and every undo of an import, and whenever someone "
               f"makes one; the newest {backup.keep_count()} are kept. Restore one with "
               f"`pilots restore PATH --force` while the app is stopped.")
    if st.button("Make a backup now", icon=":material/backup:"):
        with st.spinner("Copying the database…"):
            made = backup.make_backup(db, actor)
        st.success(f"Backup made: {made.name} ({made.bytes / 1e6:,.1f} MB in {made.seconds:.1f} s).")
    listed = backup.list_backups(db.path)
    if listed:
        st.dataframe([{"backup": b.name, "taken": b.taken_at, "why": b.reason, "size (MB)": round(b.bytes / 1e6, 1),
                       "pilots": b.rows.get("pilots"), "audit entries": b.rows.get("audit_log")} for b in listed],
                     hide_index=True, width="stretch")
    else:
        st.info("No backup yet.")


organisation_section()
users_section(actor)
if actor.is_editor:
    backups_section()
