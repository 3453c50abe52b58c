"""The sidebar's history list: past conversations of a chat (the story page, each
persona) and past sessions of the data agent, one mechanism for both.

Newest first, titled from their first message: search, open (resume), rename, delete
with Undo, and New. A :class:`HistorySource` says where the items live and what opening
one means; everything goes through the workspace store. Chats also get Import of a JSON
export.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from demo_core.conversation import ConversationFileError, from_json, store_conversation
from demo_core.i18n import _
from demo_core.store import StoreError, get_store
from demo_ui import undo
from demo_ui.prefs import workspace_id

MAX_LISTED = 30
MAX_IMPORT_BYTES = 5 * 1024**2


@dataclass
class HistorySource:
    """One kind of saved item, listed by :func:`history_list`."""

    prefix: str  # of the widget keys: "{prefix}_hist_..."
    heading: str
    new_label: str
    empty: str  # "nothing saved yet"
    rows: Callable[[str], list[dict]]  # search text -> [{"id", "title", "updated"}], newest first
    current: Callable[[], str | None]
    open: Callable[[str | None], None]  # None: a new, empty one
    rename: Callable[[str, str], None]
    delete: Callable[[str], None]
    restore: Callable[[str], None]
    busy: bool = False  # a reply runs: opening another waits


def _when(ts: float) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(ts))


def _rename(src: HistorySource, iid: str) -> None:
    title = st.session_state.get(f"{src.prefix}_hist_title_{iid}", "").strip()
    if title:
        try:
            src.rename(iid, title)
        except StoreError:
            pass


def _delete(src: HistorySource, iid: str, title: str) -> None:
    if undo.delete(f"{src.prefix}_hist_deleted", iid, title, src.delete) and src.current() == iid:
        src.open(None)


def history_list(src: HistorySource) -> None:
    """New, Undo, search and the list of ``src`` (call inside the sidebar's expander)."""
    p, current = src.prefix, src.current()
    st.button(
        src.new_label,
        icon="➕",
        key=f"{p}_hist_new",
        disabled=current is None or src.busy,
        on_click=src.open,
        args=(None,),
        width="stretch",
    )
    undo.undo_row(
        f"{p}_hist_deleted", f"{p}_hist_undo", src.restore, src.open, [3, 2], disabled=src.busy
    )
    query = st.text_input(
        _("Search"),
        key=f"{p}_hist_query",
        placeholder=_("Search titles and messages"),
        label_visibility="collapsed",
    )
    rows = src.rows(query)
    if not rows:
        st.caption(_("No conversations found.") if query else src.empty)
    for c in rows[:MAX_LISTED]:
        iid = c["id"]
        title = c["title"] or _("Untitled")
        mine = iid == current
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.button(
            ("▶ " if mine else "") + title,
            key=f"{p}_hist_open_{iid}",
            help=_("Last change {when}").format(when=_when(c["updated"])),
            disabled=mine or src.busy,
            on_click=src.open,
            args=(iid,),
            type="tertiary",
        )
        with right.popover("", icon=":material/more_vert:"):
            st.text_input(_("Title"), value=c["title"], key=f"{p}_hist_title_{iid}")
            st.button(_("Rename"), key=f"{p}_hist_rename_{iid}", on_click=_rename, args=(src, iid))
            st.button(
                _("Delete"),
                icon="🗑️",
                key=f"{p}_hist_delete_{iid}",
                disabled=mine and src.busy,
                on_click=_delete,
                args=(src, iid, title),
            )
    if len(rows) > MAX_LISTED:
        st.caption(
            _("{n} older conversations: search to find them.").format(n=len(rows) - MAX_LISTED)
        )


def _import(cfg) -> None:
    from demo_ui.chat import open_conversation

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
    open_conversation(cfg, cid)


def chat_source(cfg) -> HistorySource:
    """The conversations of chat ``cfg`` in this workspace."""
    from demo_ui.chat import current_cid, open_conversation

    store, ws = get_store(), workspace_id()
    return HistorySource(
        prefix=cfg.prefix,
        heading=_("🗂 Conversations"),
        new_label=_("New chat"),
        empty=_("No saved conversations yet."),
        rows=lambda q: [c for c in store.conversations(ws, cfg.prefix, q) if c["leaf"]],
        current=lambda: current_cid(cfg),
        open=lambda cid: open_conversation(cfg, cid),
        rename=store.rename,
        delete=store.delete_conversation,
        restore=store.restore_conversation,
    )


def history_panel(cfg) -> None:
    """The history expander of chat ``cfg`` (drawn in the sidebar)."""
    src = chat_source(cfg)
    with st.expander(src.heading, expanded=True):
        history_list(src)
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
