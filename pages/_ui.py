"""What every page shares: the database handle, the acting user, and small rendering helpers.
Pages stay thin: gather input, call `pilots`, render what it returns."""

from __future__ import annotations

import streamlit as st

from pilots import store
from pilots.access import Actor
from pilots.db import Database


def database() -> Database:
    """The app's database ($PILOTS_DB or data/pilots.duckdb); its handle is opened once per process."""
    return Database()


def current_actor() -> Actor:
    """The person using the app. Until sign-in is configured, the local demo acts as the CCO office."""
    return st.session_state.setdefault("actor", Actor("demo@localhost", "editor"))


def show_problems(problems) -> None:
    """Refused input as a table: row, column, value, reason."""
    st.error(f"Refused, nothing was saved: {len(problems)} problem{'s' if len(problems) != 1 else ''}.")
    st.dataframe(
        [{"row": p.row, "column": p.column, "value": p.value, "reason": p.reason} for p in problems],
        hide_index=True, width="stretch")


def metric_labels() -> dict[str, str]:
    return {m.key: m.label for m in store.list_metrics(database())}


def in_app_shell() -> None:
    """Make sure a page runs inside app.py's navigation. Until `st.navigation` has run once in the
    server process, Streamlit treats `pages/` as its older page folder, and a page URL that is the
    server's first request would run that page's script alone: no demo loading, no wide layout.
    Switch that mode off and run again, so app.py and its navigation apply. (The page files are
    named after their URL paths, so the rerun lands on the same page.)"""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
