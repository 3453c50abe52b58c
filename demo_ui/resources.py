"""Process-wide singletons for the Streamlit pages.

``st.cache_resource`` objects are shared by every browser session and thread, which is
exactly what a model should be: one copy for the whole classroom.
"""

from __future__ import annotations

import streamlit as st

from demo_core.engine.manager import ModelManager


@st.cache_resource(show_spinner=False)
def get_manager() -> ModelManager:
    return ModelManager()
