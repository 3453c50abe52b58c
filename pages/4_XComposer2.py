"""XComposer2: illustrated-article composition and image Q&A (UI only; logic in demo_core)."""

import streamlit as st

from demo_ui.xcomposer_page import render_page

st.set_page_config(page_title="XComposer2 · InternLM Demo Studio", page_icon="🖼", layout="wide")
render_page()
