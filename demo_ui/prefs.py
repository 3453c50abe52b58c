"""Which workspace a browser works in, and its preferences (language, presentation mode,
panels shown, ...), kept in the workspace store.

**The workspace id is held in the URL** (``?ws=<32 hex digits>``), with a cookie as the
browser's memory of its last workspace. Why the URL first: it survives reloads and
server restarts without any login (the default deployment is 127.0.0.1 behind an SSH
tunnel), the link *is* the way to open the same workspace on another device (the
sidebar shows it), it works where a browser blocks cookies, and two browser profiles
never share one by accident. Why also a cookie: a student who opens the bare address
(a bookmark, ``127.0.0.1:6006`` typed again) gets their workspace back instead of an
empty one. The id is 128 random bits, so it cannot be guessed; anyone given the link
can open the workspace, which is what sharing it means.

Pages read and write preferences only through :func:`get_pref`/:func:`set_pref`.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import streamlit as st

from demo_core.store import StoreError, get_store
from demo_core.workspace import register_session

_PREFIX = "_pref_"
WS_PARAM = "ws"
COOKIE = "demo_studio_ws"
_WS = "_workspace_id"
_ID = re.compile(r"^[0-9a-f]{32}$")


def valid_workspace_id(text: str | None) -> str | None:
    """``text`` as a workspace id (a pasted link or code works too), or None."""
    if not text:
        return None
    text = text.strip()
    m = re.search(r"[?&]ws=([0-9a-fA-F]{32})", text)
    code = (m.group(1) if m else text).lower()
    return code if _ID.match(code) else None


def _session_probe() -> tuple[str, Any] | None:
    try:
        from streamlit.runtime import Runtime, exists
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:
        return None
    ctx = get_script_run_ctx()
    if ctx is None:
        return None
    if not exists():  # AppTest: the test's own runs are the only signs of life
        return ctx.session_id, lambda: True
    runtime, sid = Runtime.instance(), ctx.session_id
    return sid, lambda: runtime.is_active_session(sid) is True


def _cookie() -> str | None:
    try:
        return valid_workspace_id(st.context.cookies.get(COOKIE))
    except Exception:  # no request context (AppTest)
        return None


def use_workspace(ws: str) -> None:
    """Make this browser session work in ``ws`` (a new one, or one opened by code)."""
    st.session_state[_WS] = ws
    for key in [k for k in st.session_state if str(k).startswith(_PREFIX)]:
        del st.session_state[key]
    st.session_state.pop("_prefs_loaded", None)
    probe = _session_probe()
    if probe is not None:
        register_session(ws, *probe)
    try:
        get_store().touch_workspace(ws)
    except StoreError:
        pass  # said once by the store's notices


def workspace_id() -> str:
    """The id of the workspace this browser session works in (everything the user makes
    belongs to it): from the URL, else the cookie, else a new one. It is written back to
    the URL on every run (switching pages drops query parameters)."""
    ws = st.session_state.get(_WS)
    if ws is None:
        ws = valid_workspace_id(st.query_params.get(WS_PARAM)) or _cookie() or uuid.uuid4().hex
        use_workspace(ws)
    if st.query_params.get(WS_PARAM) != ws:
        st.query_params[WS_PARAM] = ws
    return ws


def remember_in_cookie(ws: str) -> None:
    """Have the browser remember ``ws`` for a bare address (one small script, once per
    session and only when the cookie differs)."""
    if _cookie() == ws or st.session_state.get("_ws_cookie_set") == ws:
        return
    st.session_state["_ws_cookie_set"] = ws
    st.html(
        f"<script>document.cookie = '{COOKIE}={ws}; path=/; max-age=31536000; "
        "SameSite=Lax';</script>",
        unsafe_allow_javascript=True,
    )


def _prefs() -> dict[str, Any]:
    ws = workspace_id()
    if not st.session_state.get("_prefs_loaded"):
        for key, value in get_store().prefs(ws).items():
            st.session_state.setdefault(_PREFIX + key, value)
        st.session_state["_prefs_loaded"] = True
    return st.session_state


def get_pref(key: str, default: Any = None) -> Any:
    return _prefs().get(_PREFIX + key, default)


def set_pref(key: str, value: Any) -> None:
    """Keep ``value`` for this workspace (this session at once, the store for later)."""
    ss = _prefs()
    if ss.get(_PREFIX + key, object()) == value:
        return
    ss[_PREFIX + key] = value
    try:
        get_store().set_pref(workspace_id(), key, value)
    except StoreError:
        pass  # kept for this session; the store's notice says what went wrong
