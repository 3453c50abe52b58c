"""XComposer2: illustrated-article composition and image Q&A (UI only; logic in demo_core)."""

import streamlit as st

from demo_core.i18n import N_
from demo_ui import how_it_works
from demo_ui.widgets import page_header
from demo_ui.xcomposer_page import render_page

page_header(
    N_("XComposer2"),
    "🖼️",
    N_(
        "浦语·灵笔: write an illustrated article from an instruction, or ask questions about images. "
        "One copy of each model serves everyone; requests take turns."
    ),
)
with st.sidebar:
    how_it_works.toggle()
render_page()
