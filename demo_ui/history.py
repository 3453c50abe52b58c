"""The sidebar's conversation history for a chat (the story page, each persona).

Past conversations of this chat in this workspace, newest first, titled from their first
message: search, open (resume), rename, delete with Undo, New chat, and Import of a JSON
export. Everything goes through the workspace store.
"""

from __future__ import annotations

import functools
import time

import streamlit as st

from demo_core.conversation import ConversationFileError, from_json, store_conversation
from demo_core.i18n import _
from demo_core.store import StoreError, get_store
from demo_ui import undo
from demo_ui.prefs import workspace_id

MAX_LISTED = 30
MAX_IMPORT_BYTES = 5 * 1024**2


def _when(ts: float) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(ts))


def _open(cfg, cid: str | None) -> None:
    from demo_ui.chat import open_conversation

    open_conversation(cfg, cid)


def _rename(cfg, cid: str) -> None:
    title = st.session_state.get(f"{cfg.prefix}_hist_title_{cid}", "").strip()
    if title:
        try:
            get_store().rename(cid, title)
        except StoreError:
            pass


def _delete(cfg, cid: str, title: str) -> None:
    from demo_ui.chat import current_cid

    removed = undo.delete(_deleted(cfg), cid, title, get_store().delete_conversation)
    if removed and current_cid(cfg) == cid:
        _open(cfg, None)


def _deleted(cfg) -> str:
    return f"{cfg.prefix}_hist_deleted"


def _import(cfg) -> None:
    up = st.session_state.get(f"{cfg.prefix}_hist_import")
    key = f"{cfg.prefix}_hist_import_problem"
    st.session_state[key] = None
    if up is None:
        return
    try:
        if up.size > MAX_IMPORT_BYTES:
            raise ConversationFileError(_("larger than 5 MB"))
        conv = from_json(up.getvalue().decode("utf-8", errors="replace"))
        cid = store_conversation(get_store(), workspace_id(), cfg.prefix, conv)
    except (ConversationFileError, StoreError) as exc:
        st.session_state[key] = _("Not imported: {why}").format(why=exc)
        return
    _open(cfg, cid)


def history_panel(cfg) -> None:
    """The history expander of chat ``cfg`` (drawn in the sidebar)."""
    from demo_ui.chat import current_cid

    store, ws = get_store(), workspace_id()
    current = current_cid(cfg)
    with st.expander(_("🗂 Conversations"), expanded=True):
        st.button(
            _("New chat"),
            icon="➕",
            key=f"{cfg.prefix}_hist_new",
            disabled=current is None,
            on_click=_open,
            args=(cfg, None),
            width="stretch",
        )
        undo.undo_row(
            _deleted(cfg),
            f"{cfg.prefix}_hist_undo",
            store.restore_conversation,
            functools.partial(_open, cfg),
            [3, 2],
        )
        query = st.text_input(
            _("Search"),
            key=f"{cfg.prefix}_hist_query",
            placeholder=_("Search titles and messages"),
            label_visibility="collapsed",
        )
        rows = [c for c in store.conversations(ws, cfg.prefix, query) if c["leaf"]]
        if not rows:
            st.caption(_("No conversations found.") if query else _("No saved conversations yet."))
        for c in rows[:MAX_LISTED]:
            cid = c["id"]
            title = c["title"] or _("Untitled")
            mine = cid == current
            left, right = st.columns([5, 1], vertical_alignment="center")
            left.button(
                ("▶ " if mine else "") + title,
                key=f"{cfg.prefix}_hist_open_{cid}",
                help=_("Last change {when}").format(when=_when(c["updated"])),
                disabled=mine,
                on_click=_open,
                args=(cfg, cid),
                type="tertiary",
            )
            with right.popover("", icon=":material/more_vert:"):
                st.text_input(_("Title"), value=c["title"], key=f"{cfg.prefix}_hist_title_{cid}")
                st.button(
                    _("Rename"),
                    key=f"{cfg.prefix}_hist_rename_{cid}",
                    on_click=_rename,
                    args=(cfg, cid),
                )
                st.button(
                    _("Delete"),
                    icon="🗑️",
                    key=f"{cfg.prefix}_hist_delete_{cid}",
                    on_click=_delete,
                    args=(cfg, cid, title),
                )
        if len(rows) > MAX_LISTED:
            st.caption(
                _("{n} older conversations: search to find them.").format(n=len(rows) - MAX_LISTED)
            )
        st.file_uploader(
            _("Import a conversation (JSON export)"),
            type=["json"],
            key=f"{cfg.prefix}_hist_import",
            on_change=_import,
            args=(cfg,),
        )
        problem = st.session_state.get(f"{cfg.prefix}_hist_import_problem")
        if problem:
            st.warning(problem)
