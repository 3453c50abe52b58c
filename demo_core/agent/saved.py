"""The data agent's transcripts kept in the workspace store, so they come back after a
reload or a restart (the session's files and figures stay in its folder on disk).

A workspace has any number of saved agent sessions (docs of kind ``agent``), listed
newest first in the sidebar; the one being worked on is the workspace's preference
``agent_current`` (the first one, from before there were several, is ``agent:<ws>``).

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
from demo_core.store.db import title_from

log = logging.getLogger(__name__)

KIND = "agent"
LEGACY_TITLE = "Data-analysis agent"  # what the first version titled every session


def doc_id(ws: str) -> str:
    """The id of a workspace's first agent session."""
    return f"agent:{ws}"


def save(store: Store, ws: str, session: AgentSession, did: str | None = None) -> None:
    """Write the finished turns as session ``did`` (raises :class:`StoreError`)."""
    turns = [t.snapshot() for t in session.turns if t.status != "running"]
    body = {
        "turns": base64.b64encode(pickle.dumps(turns)).decode("ascii"),
        "history": session.history,
        "questions": len(turns),
        "text": "\n".join(t.question for t in turns),  # what the search looks in
    }
    did = did or doc_id(ws)
    old = store.doc(did)
    keep = old and old.get("title") and old["title"] != LEGACY_TITLE  # renamed by the user
    title = old["title"] if keep else title_from(turns[0].question if turns else "")
    store.put_doc(ws, KIND, did, title, body)


def restore(store: Store, ws: str, session: AgentSession, did: str | None = None) -> bool:
    """Bring back stored session ``did`` into an empty session; True if there was one."""
    doc = store.doc(did or doc_id(ws))
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


def sessions(store: Store, ws: str, query: str = "") -> list[dict]:
    """The saved agent sessions of ``ws``, newest first; ``query`` matches titles and
    questions, case-insensitively."""
    rows = store.docs(ws, KIND)
    q = query.strip().casefold()
    if not q:
        return rows
    found = []
    for r in rows:
        doc = store.doc(r["id"]) or {}
        text = f"{r['title']}\n{(doc.get('body') or {}).get('text', '')}"
        if q in text.casefold():
            found.append(r)
    return found


def forget(store: Store, ws: str, did: str | None = None) -> None:
    try:
        store.delete_doc(did or doc_id(ws))
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
