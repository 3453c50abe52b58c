"""The sidebar's workspace panel (the link and code that open it elsewhere) and the
store's one-line notices (a damaged file replaced, a full disk, ...)."""

from __future__ import annotations

import streamlit as st

from demo_core.i18n import _
from demo_core.store import get_store
from demo_ui.prefs import WS_PARAM, remember_in_cookie, workspace_id


def store_notices() -> None:
    """Each problem of the store once per browser session, in one line."""
    notices = get_store().notices
    seen = st.session_state.get("_store_notices_seen", 0)
    for text in notices[seen:]:
        st.warning(text, icon="💾")
    st.session_state["_store_notices_seen"] = len(notices)


def workspace_panel() -> None:
    """Where the student's work lives, and how to open it on another device."""
    ws = workspace_id()
    remember_in_cookie(ws)
    with st.expander(_("🔗 Your workspace"), expanded=False):
        st.caption(
            _(
                "Your chats and articles are saved on this server in your workspace. Open "
                "it on another device with this link (keep it to yourself):"
            )
        )
        base = ""
        try:
            base = (st.context.url or "").split("?")[0]
        except Exception:
            pass
        st.code(f"{base}?{WS_PARAM}={ws}", language=None, wrap_lines=True)
        st.caption(
            _(
                "Workspace code: {code}. On another device, open this app's address "
                "followed by ?ws= and the code."
            ).format(code=ws)
        )
