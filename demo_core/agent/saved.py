"""The data agent's transcript kept in the workspace store, so it comes back after a
reload or a restart (the session's files and figures stay in its folder on disk).

The kernel's variables cannot come back: a restored session says so, and
:func:`rerun_code` runs the code of the transcript again, in order, in a fresh kernel
to rebuild them.

The turns are pickled (they hold kernel results with images and tables) into the
store, never into the session folder: code running in the kernel can write that folder,
and a pickle it wrote would run code in the app when loaded.
"""

from __future__ import annotations

import base64
import logging
import pickle

from demo_core.agent.kernel import ExecutionResult
from demo_core.agent.session import AgentSession
from demo_core.store import Store, StoreError

log = logging.getLogger(__name__)

KIND = "agent"


def doc_id(ws: str) -> str:
    return f"agent:{ws}"


def save(store: Store, ws: str, session: AgentSession) -> None:
    """Write the finished turns (raises :class:`StoreError`)."""
    turns = [t.snapshot() for t in session.turns if t.status != "running"]
    body = {
        "turns": base64.b64encode(pickle.dumps(turns)).decode("ascii"),
        "history": session.history,
        "questions": len(turns),
    }
    store.put_doc(ws, KIND, doc_id(ws), "Data-analysis agent", body)


def restore(store: Store, ws: str, session: AgentSession) -> bool:
    """Bring back the stored transcript into an empty session; True if there was one."""
    doc = store.doc(doc_id(ws))
    if doc is None or session.turns:
        return False
    try:
        turns = pickle.loads(base64.b64decode(doc["body"]["turns"]))  # noqa: S301 (our store)
    except Exception as exc:  # a transcript from an older version: start without it
        log.warning("agent transcript of %s not restored: %s", ws, exc)
        return False
    for t in turns:
        if t.status == "running":
            t.status = "stopped"
    session.turns = turns
    session.history = list(doc["body"].get("history", []))
    return bool(turns)


def forget(store: Store, ws: str) -> None:
    try:
        store.delete_doc(doc_id(ws))
    except StoreError:
        pass


def session_code(session: AgentSession) -> list[str]:
    """The code the session ran, in order (what rebuilds the kernel's variables)."""
    return [
        s.code
        for t in session.turns
        for s in t.steps
        if s.tool == "interpreter" and s.code.strip() and s.result is not None
    ]


def rerun_code(session: AgentSession, timeout_s: float = 60.0) -> list[ExecutionResult]:
    """Run the session's code again in its kernel; stops at the first failure."""
    results = []
    for code in session_code(session):
        res = session.kernel.execute(code, timeout_s)
        results.append(res)
        if not res.ok:
            break
    return results
