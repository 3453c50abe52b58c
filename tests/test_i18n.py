"""Chinese and English: catalogs complete and in step with the code, every page in zh_CN
under AppTest with no English left (and the check can fail), plurals, formats, CLIs."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest

from demo_core import i18n
from demo_core.i18n import _, ngettext, set_language
from demo_core.i18n_tools import messages, missing, read_catalog
from tests.conftest import ROOT
from tests.i18n_check import english_left, keep_names, untranslated

PAGES = [None, "1_Story_Chat.py", "2_Bajie.py", "3_Data_Agent.py", "4_XComposer2.py", "5_Models.py"]


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    set_language("en")


def open_in(language: str, page: str | None, timeout: float = 120) -> AppTest:
    """The app in ``language`` (as the switch would set it), on ``pages/<page>`` or home."""
    from demo_ui.resources import get_manager

    get_manager.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.session_state["_language_choice"] = language
    at.run()
    if page is not None:
        at.switch_page(f"pages/{page}")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def report(bad) -> str:
    return (
        "English on a zh_CN page (wrap it in _() and run `python -m demo_core.i18n_tools update`):\n"
        + "\n".join(f"  {kind}: {text!r} -> {words}" for kind, text, words in bad)
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p or "home")
def test_every_page_in_chinese_has_no_english_left(studio_home, page):
    from demo_core.download.jobs import REGISTRY

    # downloads are shared by every tab and keep the words of the tab that started them:
    # the English tests' finished jobs are not this page's text
    REGISTRY.clear_finished()
    at = open_in("zh_CN", page)
    bad = untranslated(at)
    assert not bad, report(bad)
    assert any(t.value.startswith(("🧪", "📖", "🐷", "📊", "🖼", "📦")) for t in at.title)


def test_the_check_catches_an_unwrapped_string(studio_home):
    """Negative control: a page with one string outside the catalog fails the check, and
    only that string is reported."""

    def script():
        import streamlit as st

        from demo_core.i18n import _, set_language

        set_language("zh_CN")
        st.button("Untranslated button")
        st.caption(_("Stop the reply here; what it wrote so far is kept."))
        st.info(_("{model} is not downloaded yet.").format(model="InternLM2-Chat-7B"))

    at = AppTest.from_function(script).run()
    bad = untranslated(at)
    assert [text for _kind, text, _words in bad] == ["Untranslated button"]


def test_the_check_fails_a_real_page_without_its_catalog(studio_home, monkeypatch):
    """Negative control on a real page: with the zh_CN catalog missing, the story page is
    English, and the check says so."""
    monkeypatch.setattr(i18n, "translations", lambda lang: gettext.NullTranslations())
    bad = untranslated(open_in("zh_CN", "1_Story_Chat.py"))
    assert any(text == "📖 Story chat" for _kind, text, _words in bad), report(bad)


def test_the_english_page_stays_english(studio_home):
    at = open_in("en", "1_Story_Chat.py")
    assert at.title[0].value == "📖 Story chat"
    assert not re.search(r"[\u4e00-\u9fff]", at.title[0].value + at.caption[0].value)


def test_zh_catalog_is_complete():
    lacking = missing("zh_CN")
    assert not lacking, "zh_CN lacks translations for:\n" + "\n".join(map(repr, lacking))


def test_catalogs_are_in_step_with_the_code(tmp_path):
    """Every string the code marks is in the catalogs (else run the update command)."""
    from babel.messages.frontend import CommandLineInterface

    pot = tmp_path / "now.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "N_",
            "-o",
            str(pot),
            str(ROOT),
        ]
    )
    now = {ids[0] for ids, _s, _f in messages(read_catalog(pot))}
    for lang in i18n.LANGUAGES:
        have = {ids[0] for ids, _s, _f in messages(read_catalog(i18n.po_path(lang)))}
        new = sorted(now - have)
        assert not new, (
            f"{lang} catalog misses strings the code now uses; run "
            "`python -m demo_core.i18n_tools update` and translate:\n" + "\n".join(map(repr, new))
        )


def _marked_in_fstrings(tree) -> list[tuple[int, str]]:
    """(line, msgid) of each ``_("…")``/``N_("…")``/``ngettext("…", …)`` written inside an
    f-string: pybabel's extractor does not look into f-strings, so these never reach the
    catalog and show in English on a Chinese page."""
    import ast

    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr):
            continue
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id in {"_", "N_", "ngettext"}
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
            ):
                found.append((call.lineno, call.args[0].value))
    return found


def test_no_marked_string_hides_in_an_fstring():
    """The How it works popup's table headers were ``f"…{_('settings')}…"``: extraction
    missed them and the Chinese popup said "settings" and "raw"."""
    import ast

    dirs = ("pages", "demo_ui", "demo_core")
    sources = [ROOT / "app.py", *(p for d in dirs for p in (ROOT / d).rglob("*.py"))]
    catalog = {ids[0] for ids, _s, _f in messages(read_catalog(i18n.po_path("zh_CN")))}
    hidden = [  # (one the catalog has from another, visible call is translated anyway)
        f"{path.relative_to(ROOT)}:{line}: {msgid!r}"
        for path in sources
        for line, msgid in _marked_in_fstrings(ast.parse(path.read_text(encoding="utf-8")))
        if msgid not in catalog
    ]
    assert not hidden, (
        "marked only inside an f-string, where pybabel cannot see it (take the _() out of "
        "the f-string and run `python -m demo_core.i18n_tools update`):\n" + "\n".join(hidden)
    )


def test_the_fstring_check_finds_one():
    """Negative control: the form the popup had is found."""
    import ast

    code = "cols = f\"<td>{_('settings')}</td>\" + _('seen')"
    assert _marked_in_fstrings(ast.parse(code)) == [(1, "settings")]


def test_translations_keep_their_placeholders():
    fields = re.compile(r"\{[a-z_]*\}")
    wrong = []
    for ids, strings, _fuzzy in messages(read_catalog(i18n.po_path("zh_CN"))):
        for text in strings:
            if sorted(fields.findall(text)) not in [sorted(fields.findall(i)) for i in ids]:
                wrong.append((ids[0], text))
    assert not wrong


def test_plural_forms_in_both_languages():
    for lang, one, many in (("en", "1 token", "5 tokens"), ("zh_CN", "1 个 token", "5 个 token")):
        set_language(lang)
        assert ngettext("{n} token", "{n} tokens", 1).format(n=1) == one
        assert ngettext("{n} token", "{n} tokens", 5).format(n=5) == many
    set_language("zh_CN")
    assert _("Stop") == "停止"
    set_language("fr")  # not a language of the app: English
    assert _("Stop") == "Stop"


def test_numbers_sizes_and_dates_follow_the_language():
    when = datetime(2026, 12, 1, 22, 5, 0)
    set_language("en")
    assert i18n.format_size(1_500_000) == "1.5 MB" and i18n.format_number(12345.6, 1) == "12,345.6"
    assert i18n.format_datetime(when) == "Dec 1, 2026, 10:05:00\u202fPM"
    assert i18n.format_duration(180) == "3 minutes"
    set_language("zh_CN")
    assert i18n.format_size(2 * 1024**2, binary=True) == "2.0 MiB"
    assert i18n.format_datetime(when) == "2026年12月1日 22:05:00"
    assert i18n.format_duration(180) == "3分钟"


def test_browser_locale_picks_the_language():
    assert i18n.language_for_locale("zh-CN") == "zh_CN"
    assert i18n.language_for_locale("zh_TW.UTF-8") == "zh_CN"
    assert i18n.language_for_locale("en-US") == "en"
    assert i18n.language_for_locale(None) == "en"


def test_mo_is_built_when_missing_or_older_than_the_po(tmp_path, monkeypatch):
    """A clean clone has no .mo: the first use compiles it; an edited .po recompiles."""
    locale = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, locale, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    i18n.translations.cache_clear()
    try:
        mo = locale / "zh_CN" / "LC_MESSAGES" / "messages.mo"
        assert not mo.exists()
        set_language("zh_CN")
        assert _("Stop") == "停止" and mo.is_file()
        po = i18n.po_path("zh_CN")
        po.write_text(
            po.read_text(encoding="utf-8").replace('msgstr "停止"', 'msgstr "停"'), "utf-8"
        )
        later = time.time() + 5
        os.utime(po, (later, later))
        i18n.translations.cache_clear()
        assert _("Stop") == "停"
    finally:
        i18n.translations.cache_clear()


def test_the_download_cli_speaks_the_terminal_language(tmp_path):
    env = {**os.environ, "LANG": "zh_CN.UTF-8", "LANGUAGE": "", "DEMO_STUDIO_HOME": str(tmp_path)}
    env.pop("LC_ALL", None)
    run = [sys.executable, "-m", "demo_core.download", "internlm2-chat-1_8b", "--timeout", "-1"]
    proc = subprocess.run(run, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "错误：超时必须是正数（秒）" in proc.stderr
    env["LANG"] = "en_US.UTF-8"
    proc = subprocess.run(run, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert "the timeout must be a positive number of seconds" in proc.stderr


def test_names_kept_as_they_are_do_not_count_as_english():
    names = keep_names()
    assert english_left("正在使用 InternLM2-Chat-1.8B（`/root/models`）", names) == []
    assert english_left("正在使用 the model", names) == ["the", "model"]
