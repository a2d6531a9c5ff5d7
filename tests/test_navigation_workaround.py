"""The one work-around the app relies on (pages._ui.in_app_shell): a page script that Streamlit runs
alone (a page URL as the server's first request, or AppTest) hands over to app.py's navigation. It
reads a private flag of Streamlit's; if an upgrade renames or changes it, these tests fail first and
say where to look."""

from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "pages"


def test_streamlit_still_has_the_flag_the_work_around_reads():
    assert isinstance(getattr(PagesManager, "uses_pages_directory", None), (bool, type(None))), (
        "streamlit.runtime.pages_manager.PagesManager.uses_pages_directory is gone or changed: "
        "pages/_ui.py in_app_shell() relies on it; check how this Streamlit version runs a page of pages/ alone")


def test_a_page_run_alone_runs_inside_the_apps_shell(small_org, monkeypatch):
    db, _ = small_org
    monkeypatch.setenv("PILOTS_DB", str(db.path))
    at = AppTest.from_file(str(PAGES / "pilots.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # Streamlit ran the page alone (its old pages-folder mode); the work-around switched that off and
    # handed the run to app.py, whose navigation ran the page: rendered whole, no exception.
    assert PagesManager.uses_pages_directory is False
    assert "Pilots" in [t.value for t in at.title]
