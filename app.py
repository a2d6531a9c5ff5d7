"""CX Pilot Tracker: entry point and navigation. Run with `streamlit run app.py`."""

import streamlit as st

from pages._ui import database
from pilots import store

st.set_page_config(page_title="CX Pilot Tracker", page_icon=":material/insights:", layout="wide")

db = database()
if store.is_empty(db):
    from pilots.demo import load_demo

    with st.spinner("Empty database: loading the demo organisation…"):
        summary = load_demo(db)
    st.session_state["demo_loaded"] = str(summary)
if "demo_loaded" in st.session_state:
    st.success(f"The database was empty, so the demo organisation was loaded: {st.session_state['demo_loaded']}",
               icon=":material/info:")

navigation = st.navigation({
    "Pilots": [
        st.Page("pages/portfolio.py", title="Portfolio", icon=":material/dashboard:", url_path="portfolio",
                default=True),
        st.Page("pages/pilots.py", title="Pilots", icon=":material/list:", url_path="pilots"),
        st.Page("pages/pilot.py", title="Pilot", icon=":material/insights:", url_path="pilot"),
    ],
    "Administration": [
        st.Page("pages/data.py", title="Data", icon=":material/upload_file:", url_path="data"),
        st.Page("pages/settings.py", title="Settings", icon=":material/settings:", url_path="settings"),
    ],
})
navigation.run()
