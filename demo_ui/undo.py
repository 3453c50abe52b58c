"""Delete with Undo, for the lists of stored items (a chat's history, the saved articles).

A delete in the store is soft; the session keeps the deleted item's ``(id, title)`` under
one key, so that the list shows "Deleted “title”." with an Undo button until it is undone
(or another item is deleted).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from demo_core.i18n import _
from demo_core.store import StoreError


def delete(key: str, item_id: str, title: str, remove: Callable[[str], object]) -> bool:
    """``remove(item_id)`` in the store and remember it under ``key`` for Undo; whether it
    was removed (the store's notice says why not)."""
    try:
        remove(item_id)
    except StoreError:
        return False
    st.session_state[key] = (item_id, title)
    return True


def undo(key: str, restore: Callable[[str], object], reopen: Callable[[str], None]) -> None:
    """Bring back the item deleted under ``key`` (``restore``) and ``reopen`` it."""
    deleted = st.session_state.pop(key, None)
    if deleted:
        try:
            restore(deleted[0])
        except StoreError:
            return
        reopen(deleted[0])


def undo_row(
    key: str,
    button_key: str,
    restore: Callable[[str], object],
    reopen: Callable[[str], None],
    widths: list[int],
    disabled: bool = False,
) -> None:
    """“Deleted “title”.” and Undo, in columns of ``widths``, while an item deleted under
    ``key`` can come back (``disabled``: not now, e.g. while a reply is being written)."""
    deleted = st.session_state.get(key)
    if deleted:
        c1, c2 = st.columns(widths, vertical_alignment="center")
        c1.caption(_("Deleted “{title}”.").format(title=deleted[1]))
        c2.button(
            _("Undo"),
            key=button_key,
            on_click=undo,
            args=(key, restore, reopen),
            disabled=disabled,
        )
