"""What every page shares: the database handle, the acting user, and small rendering helpers.
Pages stay thin: gather input, call `pilots`, render what it returns."""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st

from pilots import store
from pilots.access import Actor
from pilots.db import Database

APP_SCRIPT = Path(__file__).resolve().parents[1] / "app.py"


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
    process, Streamlit treats `pages/` as its older page folder and runs a page's script alone (a page
    URL as the server's first request; every AppTest run): no demo loading, no wide layout, no
    navigation. Then run app.py here instead, whose navigation runs this page inside the shell, in
    this same run so that no click is lost, and stop the standalone run."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        runpy.run_path(str(APP_SCRIPT), run_name="__main__")
        st.stop()
