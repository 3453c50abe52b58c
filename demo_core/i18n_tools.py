"""Catalog maintenance in one command: ``python -m demo_core.i18n_tools update``.

``update`` = extract every ``_()``/``ngettext()``/``N_()`` string of app.py, pages/,
demo_ui/ and demo_core/ into ``demo_core/locale/messages.pot`` (Babel, with babel.cfg),
merge it into each language's .po (new strings arrive untranslated, removed ones become
obsolete), then compile; ``compile`` only compiles; ``check`` lists what zh_CN lacks and
exits 1 if anything does. These are Babel's own ``pybabel extract/update/compile``
commands, run with this project's settings so nobody has to remember the flags.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from demo_core.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, compile_catalog, po_path

ROOT = Path(__file__).resolve().parents[1]
POT = LOCALE_DIR / f"{DOMAIN}.pot"
SOURCE_LANGUAGE = "en"


def _pybabel(*args: str) -> None:
    from babel.messages.frontend import CommandLineInterface

    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> None:
    _pybabel(
        "extract",
        "-F", str(ROOT / "babel.cfg"),
        "-k", "N_",
        "--no-location",  # line numbers would make every merge of a moved line a conflict
        "--sort-output",
        "--project", "InternLM Demo Studio",
        "--msgid-bugs-address", "",
        "-o", str(POT),
        str(ROOT),
    )  # fmt: skip


def update() -> None:
    for lang in LANGUAGES:
        po = po_path(lang)
        if not po.is_file():
            _pybabel("init", "-i", str(POT), "-d", str(LOCALE_DIR), "-D", DOMAIN, "-l", lang)
        _pybabel(
            "update", "-i", str(POT), "-d", str(LOCALE_DIR), "-D", DOMAIN, "-l", lang,
            "--no-fuzzy-matching",  # a guessed translation is worse than none
            "--ignore-obsolete",
        )  # fmt: skip


def compile_all() -> None:
    for lang in LANGUAGES:
        po = po_path(lang)
        compile_catalog(po, po.with_suffix(".mo"))


def read_catalog(path: Path):
    """A .po or .pot file as Babel's ``Catalog``."""
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        return read_po(f)


def messages(catalog) -> Iterator[tuple[tuple[str, ...], tuple[str, ...], bool]]:
    """Each message of ``catalog`` (the header left out): its msgids (the singular, and
    the plural where it has one), its translations, and whether they are fuzzy."""
    for m in catalog:
        if m.id:
            ids = m.id if isinstance(m.id, tuple) else (m.id,)
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            yield ids, strings, m.fuzzy


def missing(lang: str = "zh_CN") -> list[str]:
    """msgids of ``lang``'s catalog with no (or a fuzzy) translation, and those of the
    template that the catalog does not have at all."""
    catalog = read_catalog(po_path(lang))
    out = [ids[0] for ids, strings, fuzzy in messages(catalog) if fuzzy or not all(strings)]
    if POT.is_file():
        out += [ids[0] for ids, _s, _f in messages(read_catalog(POT)) if ids[0] not in catalog]
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "update"
    if command == "update":
        extract()
        update()
        compile_all()
    elif command == "extract":
        extract()
    elif command == "compile":
        compile_all()
    elif command != "check":
        print("usage: python -m demo_core.i18n_tools [update|extract|compile|check]")
        return 2
    lacking = missing("zh_CN")
    for msgid in lacking:
        print(f"zh_CN lacks a translation: {msgid!r}")
    print(f"zh_CN: {len(lacking)} string(s) without a translation")
    return 1 if (lacking and command == "check") else 0


if __name__ == "__main__":
    raise SystemExit(main())
