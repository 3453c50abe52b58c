"""The data agent's session as part of the workspace: one session folder per workspace
(it keeps the uploads and figures across reloads and restarts), the transcript saved in
the store after every answer and brought back on the next visit, with a way to rebuild
the kernel's variables, which cannot come back by themselves. Past sessions are listed
in the sidebar (the chats' history list): New session, resume, rename, delete, search."""

from __future__ import annotations

import streamlit as st

from demo_core.agent import saved
from demo_core.agent.session import AgentSession
from demo_core.i18n import _, ngettext
from demo_core.store import StoreError, get_store, new_id
from demo_ui.agent_view import get_kernel_registry
from demo_ui.history import HistorySource, history_list
from demo_ui.prefs import get_pref, set_pref, workspace_id

P = "data_agent_"
CURRENT = "agent_current"  # the workspace preference: the saved session worked on


def current_id() -> str:
    """The id of the saved session this workspace works on (saved or about to be)."""
    return get_pref(CURRENT) or saved.doc_id(workspace_id())


def agent_session() -> AgentSession:
    """This workspace's agent session, restored from the store on a session's first run."""
    ss = st.session_state
    if P + "session" not in ss:
        ws = workspace_id()
        session = AgentSession(ws, get_kernel_registry())
        ss[P + "restored"] = saved.restore(get_store(), ws, session, current_id())
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
            saved.save(get_store(), workspace_id(), session, current_id())
        else:
            saved.forget(get_store(), workspace_id(), current_id())
    except StoreError:
        return  # the store's notice says so
    st.session_state[P + "saved_fp"] = fp


def note(level: str, text: str) -> None:
    """Show ``text`` once, above the transcript, on the next run of the page (most notes
    come from a click that reruns the page at once); ``level`` names the ``st`` notice:
    "info", "success", "warning", "error"."""
    st.session_state[P + "messages"].append((level, text))


def show_notes() -> None:
    """The notes kept by :func:`note`, each shown once."""
    for level, text in st.session_state[P + "messages"]:
        getattr(st, level)(text)
    st.session_state[P + "messages"] = []


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
        if bad:
            note(
                "warning",
                _("Stopped at a cell that failed: {n} of {total} ran.").format(
                    n=len(results) - 1, total=len(code)
                ),
            )
        else:
            note("success", _("The variables are rebuilt: {n} cells ran.").format(n=len(results)))
        st.session_state[P + "restored"] = False
        st.rerun()
    if c2.button(_("Dismiss"), key=P + "restored_ok"):
        st.session_state[P + "restored"] = False
        st.rerun()


def open_session(did: str | None) -> None:
    """Work on saved session ``did`` (None: a new, empty one). The one shown now is saved
    first; the kernel's variables go (the notice offers to rebuild them)."""
    ss = st.session_state
    session = agent_session()
    if session.running:
        return
    persist(session)
    session.clear()
    set_pref(CURRENT, did or new_id())
    ss[P + "restored"] = bool(did) and saved.restore(get_store(), workspace_id(), session, did)
    ss[P + "saved_fp"] = _fingerprint(session)


def history_panel(session: AgentSession) -> None:
    """The sidebar's list of past agent sessions (the chats' history mechanism)."""
    store, ws = get_store(), workspace_id()
    listed = session.turns and not session.running
    src = HistorySource(
        prefix="data_agent",
        heading=_("🗂 Agent sessions"),
        new_label=_("New session"),
        empty=_("No saved sessions yet."),
        rows=lambda q: saved.sessions(store, ws, q),
        current=lambda: current_id() if listed or store.doc(current_id()) else None,
        open=open_session,
        rename=store.rename_doc,
        delete=store.delete_doc,
        restore=store.restore_doc,
        busy=session.running,
    )
    with st.expander(src.heading, expanded=False):
        history_list(src)
