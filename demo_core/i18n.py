"""User-visible text goes through here, so the app can speak Chinese and English.

This is the seam every module uses for a string a person reads (pages, notices, errors,
the CLI): ``_("Stop")``, ``ngettext("{n} message", "{n} messages", n).format(n=n)``, and
``N_("...")`` to mark a string for extraction where it is defined at import time (a table
of labels) and translated where it is shown (``_(label)``).

Catalogs are standard gettext (.po/.mo) managed with Babel: the .po files under
``demo_core/locale/<lang>/LC_MESSAGES/messages.po`` are the source of truth (committed),
the .mo files are built from them and never committed. They are built by the install
(``setup.py``'s ``build_py`` step compiles them into a wheel) and, so that an editable
install and a plain clean clone work too, here on first use when the .mo is missing or
older than its .po (written next to the .po, or into a cache folder when the package is
read-only). ``python -m demo_core.i18n_tools update`` re-extracts every string, updates
the .po files and compiles them (see README).

The language is chosen per browser session (``set_language``, called at the top of every
script run), not per process, because one Streamlit process serves every tab: a
ContextVar keeps it per thread/context. Model prompts are never passed through here.

Dates, sizes and numbers shown to a person are formatted here too (``format_size``,
``format_number``, ``format_datetime``), with Babel's locale data for the same language,
so "1,234.5 MB" and "2026年12月1日" come from one place.
"""

from __future__ import annotations

import functools
import gettext as _gettext
import os
import tempfile
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("zh_CN", "en")
# what the language switch shows: each language in its own words
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_current: ContextVar[str] = ContextVar("demo_studio_language", default=DEFAULT_LANGUAGE)


def set_language(code: str) -> None:
    """Use ``code`` (``"zh_CN"`` or ``"en"``) for the strings of this thread/context."""
    _current.set(code if code in LANGUAGES else DEFAULT_LANGUAGE)


def current_language() -> str:
    return _current.get()


def language_for_locale(locale: str | None) -> str:
    """The app language for a browser or system locale (``"zh-CN"``, ``"zh_TW.UTF-8"``,
    ``"en-US"``, None): Chinese for any ``zh``, English otherwise."""
    if locale and locale.replace("-", "_").lower().startswith("zh"):
        return "zh_CN"
    return DEFAULT_LANGUAGE


def language_from_environment() -> str:
    """The language of a terminal (the CLIs): ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``,
    ``LANG``, first set wins, as gettext itself reads them."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return language_for_locale(value.split(":")[0])
    return DEFAULT_LANGUAGE


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _cache_mo_path(lang: str) -> Path:
    home = os.environ.get("DEMO_STUDIO_HOME") or os.path.join(tempfile.gettempdir(), "demo-studio")
    return Path(home) / "locale-cache" / lang / f"{DOMAIN}.mo"


def compile_catalog(po: Path, mo: Path) -> None:
    """Compile one .po into a .mo with Babel (fuzzy entries are left out, as msgfmt does).
    Written to a temporary file first, so a reader never sees half a catalog."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f)
    mo.parent.mkdir(parents=True, exist_ok=True)
    tmp = mo.with_name(f".{mo.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        write_mo(f, catalog, use_fuzzy=False)
    os.replace(tmp, mo)


def _fresh(mo: Path, po: Path) -> bool:
    return mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime


def mo_path(lang: str) -> Path | None:
    """The compiled catalog for ``lang``, compiling it first when it is missing or older
    than its .po; None when the language has no catalog."""
    po = po_path(lang)
    beside = po.with_suffix(".mo")
    if not po.is_file():
        return beside if beside.is_file() else None  # a wheel may ship the .mo alone
    if _fresh(beside, po):
        return beside
    for target in (beside, _cache_mo_path(lang)):
        if target != beside and _fresh(target, po):
            return target
        try:
            compile_catalog(po, target)
            return target
        except OSError:  # read-only install: try the cache folder
            continue
    return None


@functools.cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The gettext catalog of ``lang`` (loaded once per process)."""
    mo = mo_path(lang)
    if mo is None:
        return _gettext.NullTranslations()
    with mo.open("rb") as f:
        return _gettext.GNUTranslations(f)


def _translations() -> _gettext.NullTranslations:
    return translations(_current.get())


def _(message: str) -> str:
    """``message`` in the current language."""
    return _translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language."""
    return _translations().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now."""
    return message


# -- numbers, sizes, dates in the current language (Babel's CLDR data) --------------------
def babel_locale() -> str:
    return {"zh_CN": "zh_Hans_CN", "en": "en_US"}.get(_current.get(), "en_US")


def format_number(value: float, digits: int = 0) -> str:
    """``value`` with the language's digit grouping and exactly ``digits`` decimals."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(value, format=pattern, locale=babel_locale())


_UNITS = ("B", "KB", "MB", "GB", "TB")


def format_size(n: float, *, binary: bool = False, digits: int | None = None) -> str:
    """A byte count for a person: ``"1.5 GB"``, ``"12 KB"``, ``"830 B"``.

    Decimal units (1 KB = 1000 B) unless ``binary`` (KiB, MiB: the agent's quotas are
    set in MiB). The unit symbols stay as they are in both languages (Chinese software
    writes "MB" too); the number follows the language's conventions. ``digits``: fixed
    decimals; one by default ("17.0 GB")."""
    base = 1024.0 if binary else 1000.0
    units = ("B", "KiB", "MiB", "GiB", "TiB") if binary else _UNITS
    value = float(n)
    unit = units[0]
    for unit in units:
        if abs(value) < base or unit == units[-1]:
            break
        value /= base
    if unit == units[0]:
        return f"{format_number(value)} {unit}"
    if digits is None:
        digits = 1
    return f"{format_number(value, digits)} {unit}"


def format_datetime(when: datetime | float, *, with_time: bool = True) -> str:
    """A date (and time) in the language's medium format: ``"Dec 1, 2026, 10:05:00 PM"``
    / ``"2026年12月1日 22:05:00"``. A float is a POSIX timestamp (local time)."""
    from babel.dates import format_date
    from babel.dates import format_datetime as _fmt

    if not isinstance(when, datetime):
        when = datetime.fromtimestamp(when)
    if with_time:
        return _fmt(when, format="medium", locale=babel_locale())
    return format_date(when, format="medium", locale=babel_locale())


def format_duration(seconds: float) -> str:
    """A duration for a person: ``"3 minutes"`` / ``"3分钟"`` (Babel rounds to the largest
    sensible unit)."""
    from babel.dates import format_timedelta

    return format_timedelta(seconds, threshold=1.0, locale=babel_locale())
