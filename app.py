"""CX Pilot Tracker: entry point, sign-in gate and navigation. Run with `streamlit run app.py`.

Each role gets only its pages: a page left out of the navigation cannot be reached by typing its
URL either (Streamlit then opens the default page), and the domain refuses what a role may not do
whatever the page."""

import time

import streamlit as st

from pages._ui import PAGE_ICON, access_state, database, identity_bar, load_demo_once, no_access_page, sign_in_page
from pilots import backup, cli, handoff, store
from pilots.db import DatabaseDamaged, DatabaseInUse

# The icon is a file the app serves itself: no request for it leaves this machine.
st.set_page_config(page_title="CX Pilot Tracker", page_icon=PAGE_ICON, layout="wide")

try:
    db = database()
except DatabaseInUse:
    # A command (a nightly load, say) holds the file while no app runs; it lets go when it is done.
    st.info("A scheduled load or another command is writing to the database; this page opens as soon as it "
            "is done.", icon=":material/hourglass_top:")
    time.sleep(2)
    st.rerun()
except DatabaseDamaged as damaged:
    st.error(f"The database cannot be opened: {damaged}", icon=":material/error:")
    st.stop()
# Commands run while the app serves (`pilots import …` from a scheduler) are handed to it and run here.
handoff.start_serving(db.path, cli.answer_handed_over(db))
lost = db.file_problem()
if lost:
    latest = backup.latest_backup(db.path)
    st.error(f"{lost[0].upper()}{lost[1:]}. Nothing more can be saved until the app is restarted on a restored "
             f"file{f': the latest backup is {latest.path}' if latest else ''}.", icon=":material/error:")
actor, how = access_state()
if actor is None:
    gate = st.Page(sign_in_page if how == "signed_out" else no_access_page, url_path="welcome",
                   title="Sign in" if how == "signed_out" else "Ask for access", icon=":material/lock:")
    st.navigation([gate], position="hidden").run()
    st.stop()

# Only the local demo fills an empty database by itself; a deployment with sign-in starts empty. An
# empty file beside backups is a deployment's lost database, never a place for the demo.
if how == "demo" and store.is_empty(db):
    latest = backup.latest_backup(db.path)
    if latest is not None:
        st.error(f"The database is empty but backups of it exist: the file may have been lost. Restore the "
                 f"latest with `pilots restore {latest.path} --force` (the app stopped).", icon=":material/error:")
        st.stop()
    with st.spinner("Empty database: loading the demo organisation…"):
        summary = load_demo_once(db)
    if summary is not None:
        st.session_state["demo_loaded"] = str(summary)
pilots_pages = [
    st.Page("pages/portfolio.py", title="Portfolio", icon=":material/dashboard:", url_path="home", default=True),
    st.Page("pages/pilots.py", title="Pilots", icon=":material/list:", url_path="pilots"),
    st.Page("pages/pilot.py", title="Pilot", icon=":material/insights:", url_path="pilot"),
    st.Page("pages/unit.py", title="Unit", icon=":material/domain:", url_path="unit"),
    st.Page("pages/present.py", title="Present", icon=":material/slideshow:", url_path="present"),
    st.Page("pages/scorecard.py", title="Scorecard", icon=":material/scoreboard:", url_path="scorecard"),
]
def portfolio_by_name() -> None:
    st.switch_page("pages/portfolio.py")


# The home page is served at "/"; a bookmark or link to /portfolio lands on it too, not on "page not found".
pilots_pages.append(st.Page(portfolio_by_name, title="Portfolio", url_path="portfolio", visibility="hidden"))
admin_pages = [st.Page("pages/settings.py", title="Settings", icon=":material/settings:", url_path="settings")]
if actor.is_editor:
    pilots_pages.append(st.Page("pages/edit.py", title="Register or edit", icon=":material/edit_note:",
                                url_path="edit"))
    admin_pages = [
        st.Page("pages/data.py", title="Data", icon=":material/upload_file:", url_path="data"),
        *admin_pages,
        st.Page("pages/audit.py", title="Audit log", icon=":material/history:", url_path="audit"),
    ]
page = st.navigation({"Pilots": pilots_pages, "Administration": admin_pages})
presenting = page.url_path == "present"
# Present mode collapses the sidebar; every other page opens it again, so Exit brings it back. The
# browser acts only on a change of this setting, so a sidebar someone closes on a page stays closed.
st.set_page_config(initial_sidebar_state="collapsed" if presenting else "expanded")
# In present mode the slides fill the screen: the demo notices go to the (collapsed) sidebar.
if "demo_loaded" in st.session_state:
    (st.sidebar if presenting else st).success(
        f"The database was empty, so the demo organisation was loaded: {st.session_state['demo_loaded']}",
        icon=":material/info:")
identity_bar(actor, how, banner=not presenting)
page.run()
