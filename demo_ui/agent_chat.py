"""The data agent's conversation: notes above the transcript, the finished turns, the
question box, and the running turn redrawn until it ends.

A question runs as a background job of the session (:meth:`AgentSession.ask`); this
module only draws it, so a rerun, a reload or Stop never loses the answer being made.
"""

from __future__ import annotations

import time

import streamlit as st

from demo_core.agent.session import AgentSession, AgentSettings
from demo_core.agent.transcript import Turn
from demo_core.i18n import _
from demo_ui.agent_view import needs_sandbox_consent, render_turn, sandbox_consent
from demo_ui.agent_workspace import P, note, show_notes
from demo_ui.prefs import workspace_id
from demo_ui.widgets import open_engine

REDRAW_S = 0.25  # how often the running turn is drawn again


def clear_button(session: AgentSession) -> None:
    """Clear conversation (not while a question runs)."""
    if st.button(_("Clear conversation"), key=P + "clear", disabled=session.running):
        session.clear()
        st.rerun()


def warm_up_for_files(session: AgentSession, interpreter: bool) -> None:
    """Start the kernel early when a file is here: a question about it is coming, and a
    kernel's first start takes seconds (not before the user agreed to run code without
    a sandbox)."""
    if interpreter and session.files() and not needs_sandbox_consent(session):
        session.warm_up()


def notices(session: AgentSession) -> None:
    """One-time notes, the kernel's notice, and which uploads go with the next question."""
    show_notes()
    notice = session.take_notice()
    if notice:
        st.info(_(notice))
    for f in session.pending_files:
        st.caption(
            "📎 "
            + _("{name} will be given to the model with your next question.").format(name=f.name)
        )


def shown_turns(session: AgentSession) -> list[Turn]:
    """The finished turns (the running one is drawn live by :func:`follow_run`)."""
    return session.turns[:-1] if session.running else session.turns


def transcript(session: AgentSession) -> None:
    """The finished turns, each under its own key for its widgets."""
    for i, turn in enumerate(shown_turns(session)):
        render_turn(turn.snapshot(), key=f"{P}turn{i}")


def first_steps(session: AgentSession) -> None:
    """What to do on an empty session: the page's main area is otherwise blank until the
    first question, and the uploader sits in the sidebar, where a newcomer may not look."""
    if shown_turns(session) or session.running:
        return
    st.info(
        _(
            "Upload a table (CSV or Excel) in the sidebar, then ask about it below, for "
            "example: “Which month sold the most? Draw a bar chart.” Without a file the agent "
            "can still compute: “Solve 2*X=1360 for X.”"
        ),
        icon="💡",
    )


def question_box(session: AgentSession, settings: AgentSettings) -> None:
    """The sandbox question first where there is no sandbox, then the chat input; a
    question that cannot be sent (the model does not load) goes back into the box."""
    waiting_for_consent = settings.interpreter and needs_sandbox_consent(session)
    if waiting_for_consent:
        sandbox_consent(session)

    if P + "unsent" in st.session_state:
        st.session_state[P + "input"] = st.session_state.pop(P + "unsent")
    question = st.chat_input(
        _("Working… (Stop to interrupt)") if session.running else _("Ask about your data…"),
        disabled=session.running or waiting_for_consent,
        key=P + "input",
    )
    if not question or session.running:
        return
    engine, problem = open_engine(settings.model_key)
    if engine is None:
        note("error", problem)
        note("info", _("Your question was not sent; it is back in the box below."))
        st.session_state[P + "unsent"] = question
    else:
        session.ask(question, engine, settings, workspace_id())
    st.rerun()  # redraw with the input disabled and the upload notes gone


def follow_run(session: AgentSession) -> None:
    """While a question runs: Stop, and the live turn redrawn until the job ends, then
    a rerun that draws it as a finished turn."""
    if not session.running:
        return
    run = session.run
    st.button("⏹ " + _("Stop"), key=P + "stop", on_click=session.stop)
    live = st.empty()
    while not run.done:
        run.beat()
        with live.container():
            render_turn(run.turn.snapshot(), live=True)
        time.sleep(REDRAW_S)
    st.rerun()
