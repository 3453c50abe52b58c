"""Which language this browser session sees, and the sidebar switch that changes it.

Order: what the switch says in this session, else the language remembered for the
workspace (``prefs``: "language"), else the browser's (``st.context.locale``). The
remembered value is only written when the person uses the switch, so someone who never
touches it keeps following their browser. ``use_language`` runs at the top of every
script run (app.py, and ``page_header`` for a page run on its own), because the
language lives in a per-run ContextVar (demo_core.i18n), not in the process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import streamlit as st

from demo_core.i18n import LANGUAGE_NAMES, LANGUAGES, _, language_for_locale, set_language
from demo_ui.prefs import get_pref, set_pref

KEY = "_language_choice"
_ENTRY = "_entered_through_app"  # set by app.py for this run, taken by page_header


def browser_language() -> str:
    try:
        locale = st.context.locale
    except Exception:  # no browser behind this run (AppTest, bare mode)
        locale = None
    return language_for_locale(locale)


def chosen_language() -> str:
    """This session's language (read only: the switch's value, the workspace's, the
    browser's)."""
    lang = st.session_state.get(KEY)
    if lang in LANGUAGES:
        return lang
    remembered = get_pref("language")
    return remembered if remembered in LANGUAGES else browser_language()


def use_language() -> str:
    """Choose and set this run's language (the switch starts from it); returns it."""
    lang = chosen_language()
    if st.session_state.get(KEY) != lang:
        st.session_state[KEY] = lang
    set_language(lang)
    return lang


def fragment(run_every: float | None = None) -> Callable[[Callable], Callable]:
    """``st.fragment`` whose every run speaks this session's language.

    Streamlit runs a fragment's own reruns (``run_every``, a widget inside it) in a fresh
    context: the language :func:`use_language` set for the full run is not there, and
    every string in it would come out in English. Pages make fragments only through this.
    """

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*args, **kwargs):
            set_language(chosen_language())  # the switch is drawn already: read, never write
            return func(*args, **kwargs)

        return st.fragment(run, run_every=run_every)

    return decorate


def mark_entry() -> None:
    """app.py: this run went through the entry point (menu and switch are drawn)."""
    st.session_state[_ENTRY] = True


def entered_through_app() -> bool:
    """Whether app.py started this run (asked once per run, by the page's header)."""
    return bool(st.session_state.pop(_ENTRY, False))


def _remember_choice() -> None:
    set_pref("language", st.session_state[KEY])


def language_switch() -> None:
    """中文 / English in the sidebar; the change applies to this very run (the callback
    runs before the script) and is remembered for the workspace."""
    st.sidebar.segmented_control(
        _("Language"),
        LANGUAGES,
        format_func=LANGUAGE_NAMES.__getitem__,
        key=KEY,
        on_change=_remember_choice,
        selection_mode="single",
        required=True,
        label_visibility="collapsed",
        width="stretch",
    )
