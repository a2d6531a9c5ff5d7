"""Open the app in Streamlit's AppTest the way a person does: app.py first (its navigation, the
sign-in gate or the local demo's role switcher), then the page, with its query parameters; and
read what a person reads in Markdown the page escaped (pages._ui.literal)."""

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page(page: str = "portfolio", view_as: str | None = None, timeout: int = 60, **query) -> AppTest:
    """The local demo (no sign-in) in the role `view_as` ("editor", "steering", "unit:N"; None
    leaves the default) at pages/<page>.py with the query parameters `query`, run without exception."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if view_as is not None:
        at.session_state["view_as"] = view_as
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page != "portfolio":
        at.switch_page(f"pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def read(markdown: str) -> str:
    """What a person reads in Markdown whose text the page showed as typed: the backslash escapes
    and invisible word joiners of pages._ui.literal taken out, no-break spaces read as spaces."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "").replace("\u00a0", " ")
