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
        N_("Download models with huggingface_hub or ModelScope."),
        TOOLS_SECTION,
    ),
]


def installed_pages() -> list[PageEntry]:
    return [p for p in PAGES if (PAGES_DIR / p.file).exists()]


def navigation(home) -> st.navigation:
    """The menu: Home, then each section's pages, titles in the current language."""
    sections: dict[str, list] = {"": [st.Page(home, title=_("Home"), icon="🏠", default=True)]}
    for entry in installed_pages():
        sections.setdefault(_(entry.section), []).append(
            st.Page(f"pages/{entry.file}", title=_(entry.title), icon=entry.icon)
        )
    return st.navigation(sections, position="sidebar")
