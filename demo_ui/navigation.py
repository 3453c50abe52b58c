"""The app's pages, their titles, icons and menu sections, in one table.

``st.navigation`` draws the sidebar menu from it (translated on every run, so the menu
follows the language switch), and the home page's cards are made from the same rows.
Page files stay in pages/; titles are marked with ``N_`` here and translated where shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from demo_core.i18n import N_, _

PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"


@dataclass(frozen=True)
class PageEntry:
    file: str  # in pages/
    icon: str
    title: str  # English msgid, translated with _() where shown
    blurb: str
    section: str


DEMOS_SECTION = N_("Demos")
TOOLS_SECTION = N_("Tools")

PAGES = [
    PageEntry(
        "1_Story_Chat.py",
        "📖",
        N_("Story chat"),
        N_("InternLM2-Chat-1.8B writes a 300-character story and chats."),
        DEMOS_SECTION,
    ),
    PageEntry(
        "2_Bajie.py",
        "🐷",
        N_("Bajie role-play"),
        N_("Chat with 猪八戒 (BaJie-Chat-mini) or other personas."),
        DEMOS_SECTION,
    ),
    PageEntry(
        "3_Data_Agent.py",
        "📊",
        N_("Data-analysis agent"),
        N_("Lagent + InternLM2-Chat-7B write and run Python on your data."),
        DEMOS_SECTION,
    ),
    PageEntry(
        "4_XComposer2.py",
        "🖼️",
        N_("XComposer2"),
        N_("Illustrated articles and image Q&A with InternLM-XComposer2."),
        DEMOS_SECTION,
    ),
    PageEntry(
        "5_Models.py",
        "📦",
        N_("Models & downloads"),
        N_("Download models from Hugging Face, ModelScope or OpenXLab."),
        TOOLS_SECTION,
    ),
    PageEntry(
        "6_Class.py",
        "🏫",  # one code point: a ZWJ emoji (🧑‍🏫) falls apart into two, cut off, on older fonts
        N_("Class"),
        N_("For the teacher: who is connected, what each model is doing, resets."),
        TOOLS_SECTION,
    ),
]


def installed_pages() -> list[PageEntry]:
    return [p for p in PAGES if (PAGES_DIR / p.file).exists()]


def leave_old_multipage_mode() -> None:
    """Make Streamlit run app.py (and so this menu) for every page, from the first run on.

    Streamlit still treats a folder named pages/ beside the entry point as an old-style
    multipage app until the entry point has called ``st.navigation`` once in the process
    (``PagesManager.uses_pages_directory``, a class-wide flag). Until then a page's
    address runs the page file on its own, under an automatic menu of English file names
    ("Story Chat", "Data Agent") and without the language switch: that is what the very
    first visitor of a fresh server sees when they open a page's address (a bookmark, a
    reload), and what every AppTest run does. A page whose run did not come through
    app.py calls this first: it clears the flag, as app.py's ``st.navigation`` would
    have, and reruns, so the run goes through app.py. A page run on its own
    (``streamlit run pages/X.py``) has no pages/ folder beside it: the flag is already
    off and nothing happens.

    Once per process, as the flag it clears: AppTest sets the flag again before each of
    its runs, and a rerun there would drop a button click the run was started for (that
    run then goes on without app.py, and ``page_header`` sets the language itself).
    """
    global _left
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not _left:
        _left = True
        PagesManager.uses_pages_directory = False
        st.rerun()


_left = False


def navigation(home) -> st.navigation:
    """The menu: Home, then each section's pages, titles in the current language."""
    sections: dict[str, list] = {"": [st.Page(home, title=_("Home"), icon="🏠", default=True)]}
    for entry in installed_pages():
        sections.setdefault(_(entry.section), []).append(
            st.Page(f"pages/{entry.file}", title=_(entry.title), icon=entry.icon)
        )
    return st.navigation(sections, position="sidebar")
