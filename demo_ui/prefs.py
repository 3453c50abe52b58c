"""Per-workspace preferences (language, presentation mode, panels shown, ...).

Pages read and write a user's preferences only through ``get_pref``/``set_pref`` so that
where they are kept is decided in one place: the browser session for now, the workspace
store once it exists.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

_PREFIX = "_pref_"


def get_pref(key: str, default: Any = None) -> Any:
    return st.session_state.get(_PREFIX + key, default)


def set_pref(key: str, value: Any) -> None:
    st.session_state[_PREFIX + key] = value


def workspace_id() -> str:
    """The id of the workspace this browser session works in (everything the user makes
    belongs to it). A per-tab id for now; the workspace store makes it outlive the tab."""
    import uuid

    if "_workspace_id" not in st.session_state:
        st.session_state["_workspace_id"] = uuid.uuid4().hex
    return st.session_state["_workspace_id"]
