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
from demo_ui.prefs import get_pref, set_pref, workspace_id

P = "xc_cmp"
ARTICLE, DOC, FP = f"{P}_article", f"{P}_doc", f"{P}_saved_fp"
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
    try:
        get_store().delete_doc(did)
    except StoreError:
        return
    ss = st.session_state
    ss[f"{P}_deleted_doc"] = (did, title)
    if ss.get(DOC) == did:
        ss.pop(ARTICLE, None)
        ss[DOC], ss[FP] = None, None
        set_pref(PREF, None)


def _undo() -> None:
    deleted = st.session_state.pop(f"{P}_deleted_doc", None)
    if deleted:
        try:
            get_store().restore_doc(deleted[0])
        except StoreError:
            return
        _open(deleted[0])


def saved_articles_panel(busy: bool) -> None:
    docs = get_store().docs(workspace_id(), saved.KIND)
    current = st.session_state.get(DOC)
    with st.expander(_("🗂 Saved articles ({n})").format(n=len(docs))):
        deleted = st.session_state.get(f"{P}_deleted_doc")
        if deleted:
            c1, c2 = st.columns([4, 1], vertical_alignment="center")
            c1.caption(_("Deleted “{title}”.").format(title=deleted[1]))
            c2.button(_("Undo"), key=f"{P}_doc_undo", on_click=_undo)
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
            c2.button(
                "",
                icon=":material/open_in_new:",
                key=f"{P}_doc_open_{did}",
                help=_("Open"),
                disabled=mine or busy,
                on_click=_open,
                args=(did,),
            )
            c3.button(
                "",
                icon=":material/content_copy:",
                key=f"{P}_doc_dup_{did}",
                help=_("Duplicate"),
                disabled=busy,
                on_click=_duplicate,
                args=(did,),
            )
            c4.button(
                "",
                icon=":material/delete:",
                key=f"{P}_doc_del_{did}",
                help=_("Delete"),
                disabled=busy,
                on_click=_delete,
                args=(did, d["title"]),
            )
