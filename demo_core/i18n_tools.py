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


def missing(lang: str = "zh_CN") -> list[str]:
    """msgids of ``lang``'s catalog with no (or a fuzzy) translation, and those of the
    template that the catalog does not have at all."""
    from babel.messages.pofile import read_po

    with po_path(lang).open("rb") as f:
        catalog = read_po(f)
    out = []
    for msg in catalog:
        if not msg.id:
            continue
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        if msg.fuzzy or not all(strings):
            out.append(msg.id if isinstance(msg.id, str) else msg.id[0])
    if POT.is_file():
        with POT.open("rb") as f:
            template = read_po(f)
        out += [m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id and m.id not in catalog]
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
