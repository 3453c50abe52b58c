"""Keeping a paragraph's edit panel open while its proposal waits for Accept/Discard.

After "Write it" the page gains a live job view above the article and loses it when the
job ends; an expander without a key is then a new element and opens collapsed, hiding the
proposal it just received. A keyed expander keeps its identity, and it is opened
whenever a proposal for its paragraph waits, with a notice above the article saying so.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from demo_core.i18n import _
from demo_core.xcomposer.article import Article


def has_proposal(prefix: str, uid: str) -> bool:
    return uid in st.session_state.get(f"{prefix}_proposals", {})


def edit_expander(prefix: str, uid: str, index: int):
    """The "Edit paragraph N" expander of paragraph ``uid``: stable across reruns, and
    open while a proposal for it waits."""
    waiting = has_proposal(prefix, uid)
    label = _("✏️ Edit paragraph {n}").format(n=index + 1)
    if waiting:
        label += " · " + _("proposal ready")
    return st.expander(label, expanded=waiting, key=f"{prefix}_edit_exp_{uid}")


def proposal_ready_note(
    article: Article | None, uid: str, note: Callable[[str, str], None]
) -> None:
    """Say that a proposal is ready, and where (the paragraph's number now)."""
    if article is None:
        return
    try:
        n = article.index_of(uid) + 1
    except IndexError:
        return
    note(
        "success",
        _(
            "The proposal for paragraph {n} is ready: see ✏️ Edit paragraph {n} below, "
            "then Accept or Discard it."
        ).format(n=n),
    )
