"""CX Pilot Tracker's domain: storage, import, analysis, charts, export and the command line.

Never imports streamlit: the pages call into this package and render what it returns."""
