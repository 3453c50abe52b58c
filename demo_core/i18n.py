"""User-visible text goes through here, so the app can speak Chinese and English.

This is the seam every module uses for a string a person reads (pages, notices, errors,
the CLI): ``_("Stop")``, ``ngettext("{n} message", "{n} messages", n).format(n=n)``, and
``N_("...")`` to mark a string for extraction where it is defined at import time (a table
of labels) and translated where it is shown (``_(label)``).

Catalogs are standard gettext (.po/.mo) managed with Babel; the language is chosen per
browser session (``set_language``), not per process, because one Streamlit process serves
every tab. Model prompts are never passed through here.
"""

from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("zh_CN", "en")

_current: ContextVar[str] = ContextVar("demo_studio_language", default=DEFAULT_LANGUAGE)


def set_language(code: str) -> None:
    """Use ``code`` (``"zh_CN"`` or ``"en"``) for the strings of this thread/context."""
    _current.set(code if code in LANGUAGES else DEFAULT_LANGUAGE)


def current_language() -> str:
    return _current.get()


def _translations() -> _gettext.NullTranslations:
    return _gettext.NullTranslations()


def _(message: str) -> str:
    """``message`` in the current language."""
    return _translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language."""
    return _translations().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now."""
    return message
