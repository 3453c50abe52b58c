"""Data-analysis agent: Lagent + InternLM2-Chat-7B + a sandboxed Python kernel per session.

Layout only: the settings, files and conversation are drawn by demo_ui (agent_settings,
agent_files, agent_chat, agent_view, agent_workspace) over demo_core.agent.
"""

from __future__ import annotations

import streamlit as st

from demo_core.i18n import N_
from demo_ui import how_it_works
from demo_ui.agent_chat import (
    clear_button,
    first_steps,
    follow_run,
    notices,
    question_box,
    shown_turns,
    transcript,
    warm_up_for_files,
)
from demo_ui.agent_files import files_panel
from demo_ui.agent_settings import agent_settings
from demo_ui.agent_view import sandbox_badge
from demo_ui.agent_workspace import agent_session, history_panel, persist, restored_notice
from demo_ui.widgets import page_header

page_header(
    N_("Data-analysis agent"),
    "📊",
    N_(
        "Upload a table, ask in words. InternLM2 writes Python, runs it in your own sandboxed "
        "kernel (no network, limited memory and time), reads the result and answers."
    ),
)
session = agent_session()  # the workspace's, transcript restored
persist(session)

with st.sidebar:
    settings = agent_settings()
    st.divider()
    files_panel(session)
    clear_button(session)
    sandbox_badge(session)
    how_it_works.toggle()
    warm_up_for_files(session, settings.interpreter)
    history_panel(session)

restored_notice(session)
notices(session)
transcript(session)
first_steps(session)
settings.params = how_it_works.flag(settings.params)
how_it_works.agent_panel(shown_turns(session), settings.model_key, settings)
question_box(session, settings)
follow_run(session)
