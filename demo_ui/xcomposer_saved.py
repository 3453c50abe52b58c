"""The composition tab's saved articles: the one being edited is written to the workspace
store on every change (so it survives a reload or a restart), and a list of saved
articles to reopen, duplicate or delete. A Compose starts a *new* saved article, so an
edited one is never replaced (it stays in the list)."""

from __future__ import annotations

import time

import streamlit as st

from demo_core.i18n import _
from demo_core.store import StoreError, get_store, new_id
from demo_core.xcomposer import saved
from demo_ui import undo
from demo_ui.prefs import get_pref, set_pref, workspace_id

P = "xc_cmp"
ARTICLE, DOC, FP = f"{P}_article", f"{P}_doc", f"{P}_saved_fp"
DELETED = f"{P}_deleted_doc"
PREF = "xcomposer_article"


def restore_article() -> None:
    """On a session's first run: bring back the article it was editing."""
    ss = st.session_state
    if DOC in ss:
        return
    did = get_pref(PREF)
    found = saved.load(get_store(), workspace_id(), did) if did else None
    ss[DOC] = did if found else None
    if found:
        ss[ARTICLE], body = found
        ss[FP] = saved.fingerprint(body)


def new_article() -> None:
    """The article in the session is a new one (a Compose): it gets its own entry."""
    st.session_state[DOC] = new_id()
    st.session_state.pop(FP, None)


def persist_article() -> None:
    """Write the article if it changed since it was last written."""
    ss = st.session_state
    article = ss.get(ARTICLE)
    if article is None:
        return
    ws = workspace_id()
    did = ss.get(DOC) or new_id()
    body = saved.to_body(article, ws)
    fp = saved.fingerprint(body)
    if fp == ss.get(FP) and ss.get(DOC) == did:
        return
    try:
        get_store().put_doc(ws, saved.KIND, did, saved.title_of(article), body)
    except StoreError:
        return  # the store's notice says so; the article stays in this session
    ss[DOC], ss[FP] = did, fp
    set_pref(PREF, did)


def _open(did: str) -> None:
    found = saved.load(get_store(), workspace_id(), did)
    if found is None:
        return
    ss = st.session_state
    ss[ARTICLE], body = found
    ss[DOC], ss[FP] = did, saved.fingerprint(body)
    ss.pop(f"{P}_proposals", None)
    set_pref(PREF, did)


def _duplicate(did: str) -> None:
    copy = saved.duplicate(get_store(), workspace_id(), did)
    if copy:
        _open(copy)


def _delete(did: str, title: str) -> None:
    ss = st.session_state
    if undo.delete(DELETED, did, title, get_store().delete_doc) and ss.get(DOC) == did:
        ss.pop(ARTICLE, None)
        ss[DOC], ss[FP] = None, None
        set_pref(PREF, None)


def saved_articles_panel(busy: bool) -> None:
    docs = get_store().docs(workspace_id(), saved.KIND)
    current = st.session_state.get(DOC)
    with st.expander(_("🗂 Saved articles ({n})").format(n=len(docs))):
        undo.undo_row(DELETED, f"{P}_doc_undo", get_store().restore_doc, _open, [4, 1])
        if not docs:
            st.caption(_("Composed articles are saved here as you edit them."))
        for d in docs:
            did = d["id"]
            mine = did == current
            c1, c2, c3, c4 = st.columns([5, 1, 1, 1], vertical_alignment="center")
            c1.markdown(
                ("**▶** " if mine else "")
                + (d["title"] or _("Untitled"))
                + f"  \n:gray[{time.strftime('%m-%d %H:%M', time.localtime(d['updated']))}]"
            )
            for column, icon, name, hint, off, on_click, args in [
                (c2, "open_in_new", "open", _("Open"), mine or busy, _open, (did,)),
                (c3, "content_copy", "dup", _("Duplicate"), busy, _duplicate, (did,)),
                (c4, "delete", "del", _("Delete"), busy, _delete, (did, d["title"])),
            ]:
                column.button(
                    "",
                    icon=f":material/{icon}:",
                    key=f"{P}_doc_{name}_{did}",
                    help=hint,
                    disabled=off,
                    on_click=on_click,
                    args=args,
                )
