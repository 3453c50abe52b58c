"""Which workspaces have a browser connected right now, for background jobs and teachers.

A workspace is what one student owns (chats, articles, preferences); its id lives in the
browser (see ``demo_ui.prefs``). Several tabs -- or a phone and a laptop -- may work in
one workspace. Background jobs belong to the workspace, not to a tab, so a reply goes on
while *any* of its tabs is connected and a reloaded tab finds it again. This module is
the process-wide list of the sessions of each workspace, each with a probe "is this
browser session still connected?" (the UI passes Streamlit's; nothing here imports
Streamlit).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_lock = threading.Lock()
_sessions: dict[str, dict[str, tuple[Callable[[], bool], float]]] = {}


def register_session(ws: str, session_id: str, alive: Callable[[], bool]) -> None:
    """Browser session ``session_id`` works in ``ws`` (called on its first script run)."""
    with _lock:
        for other in _sessions.values():
            other.pop(session_id, None)  # a session moved to another workspace
        _sessions.setdefault(ws, {})[session_id] = (alive, time.time())


def _alive(probe: Callable[[], bool]) -> bool:
    try:
        return bool(probe())
    except Exception:
        return False


def live_sessions(ws: str) -> list[str]:
    """The sessions of ``ws`` still connected (the gone ones are forgotten)."""
    with _lock:
        entries = dict(_sessions.get(ws, {}))
    live = [sid for sid, (probe, _) in entries.items() if _alive(probe)]
    with _lock:
        current = _sessions.get(ws, {})
        for sid in set(entries) - set(live):
            current.pop(sid, None)
        if not current:
            _sessions.pop(ws, None)
    return live


def workspace_alive(ws: str) -> bool:
    """Is any browser connected to workspace ``ws``?"""
    return bool(live_sessions(ws))


def live_workspaces() -> dict[str, int]:
    """Workspace id -> number of connected browser sessions (for the Class page)."""
    with _lock:
        ids = list(_sessions)
    out = {ws: len(live_sessions(ws)) for ws in ids}
    return {ws: n for ws, n in out.items() if n}
