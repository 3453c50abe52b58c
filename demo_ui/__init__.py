"""The app's Streamlit UI. Importing it installs the fix of ``demo_ui.streamlit_fixes``
(uploads lost when a script run starts), so every page, however it is run, has it."""

from demo_ui import streamlit_fixes as _streamlit_fixes  # noqa: F401
