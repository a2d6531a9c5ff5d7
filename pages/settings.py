"""Settings: business units and metric definitions."""

import streamlit as st

from pages._ui import current_actor, database, form_reset, form_saved, fresh_form, in_app_shell, show_problems, users_section
from pilots import store
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

users_section(actor)
