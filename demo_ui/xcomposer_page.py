"""The XComposer2 page body: two tabs over two models (composition, image Q&A)."""

from __future__ import annotations

import streamlit as st

from demo_core.i18n import _
from demo_ui.xcomposer_qa import render_qa_tab


def render_page() -> None:
    compose_tab, qa_tab = st.tabs(["📝 " + _("Illustrated article"), "🖼 " + _("Image Q&A")])
    with compose_tab:
        try:
            from demo_ui.xcomposer_compose import render_compose_tab
        except ImportError:
            st.info(_("The composition tab is not available in this build."))
        else:
            render_compose_tab()
    with qa_tab:
        render_qa_tab()
