"""The data agent's session as part of the workspace: one session per workspace (its
folder keeps the uploads and figures across reloads and restarts), its transcript saved
in the store after every answer and brought back on the next visit, with a way to
rebuild the kernel's variables, which cannot come back by themselves."""

from __future__ import annotations

import streamlit as st

from demo_core.agent import saved
from demo_core.agent.session import AgentSession
from demo_core.i18n import _, ngettext
from demo_core.store import StoreError, get_store
from demo_ui.agent_view import get_kernel_registry
from demo_ui.prefs import workspace_id

P = "data_agent_"


def agent_session() -> AgentSession:
    """This workspace's agent session, restored from the store on a session's first run."""
    ss = st.session_state
    if P + "session" not in ss:
        ws = workspace_id()
        session = AgentSession(ws, get_kernel_registry())
        ss[P + "restored"] = saved.restore(get_store(), ws, session)
        ss[P + "saved_fp"] = _fingerprint(session)
        ss[P + "session"] = session
        ss[P + "seen_uploads"] = {}
        ss[P + "upload_errors"] = {}
        ss[P + "messages"] = []  # (level, text) shown once after a rerun
    return ss[P + "session"]


def _fingerprint(session: AgentSession) -> tuple:
    return tuple((t.question, t.status, len(t.steps)) for t in session.turns)


def persist(session: AgentSession) -> None:
    """Save the transcript when an answer has ended since the last save."""
    if session.running:
        return
    fp = _fingerprint(session)
    if fp == st.session_state.get(P + "saved_fp"):
        return
    try:
        if session.turns:
            saved.save(get_store(), workspace_id(), session)
        else:
            saved.forget(get_store(), workspace_id())
    except StoreError:
        return  # the store's notice says so
    st.session_state[P + "saved_fp"] = fp


def restored_notice(session: AgentSession) -> None:
    """Say what came back and what did not, and offer to rebuild the variables."""
    if not st.session_state.get(P + "restored"):
        return
    code = saved.session_code(session)
    st.info(
        _(
            "Your transcript, files and figures are back. The kernel's variables are not: "
            "they lived in the Python process that ran your code before."
        ),
        icon="♻️",
    )
    c1, c2 = st.columns([2, 1])
    if c1.button(
        ngettext(
            "Re-run the session's code ({n} cell)",
            "Re-run the session's code ({n} cells)",
            len(code),
        ).format(n=len(code)),
        key=P + "rerun_code",
        disabled=not code or session.running,
        help=_("Runs the code of the answers above again, in order, to rebuild the variables."),
    ):
        with st.spinner(_("Running the session's code again…")):
            results = saved.rerun_code(session)
        bad = [r for r in results if not r.ok]
        st.session_state[P + "messages"].append(
            (
                "warning",
                _("Stopped at a cell that failed: {n} of {total} ran.").format(
                    n=len(results) - 1, total=len(code)
                ),
            )
            if bad
            else ("success", _("The variables are rebuilt: {n} cells ran.").format(n=len(results)))
        )
        st.session_state[P + "restored"] = False
        st.rerun()
    if c2.button(_("Dismiss"), key=P + "restored_ok"):
        st.session_state[P + "restored"] = False
        st.rerun()
