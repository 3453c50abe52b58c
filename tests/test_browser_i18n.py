"""Chinese and English in a real browser: the browser's language picks the app's, every
page opens in it (menu, titles), the sidebar switch changes it and it stays while you
move around; screenshots of every page in Chinese land in artifacts/."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, running_app, screenshot

pytestmark = pytest.mark.browser

# (menu entry, page title) per language, home first
PAGES = {
    "zh_CN": [
        ("首页", "🧪 书生·浦语 Demo 工作室"),
        ("故事对话", "📖 故事对话"),
        ("八戒角色扮演", "🐷 八戒角色扮演"),
        ("数据分析智能体", "📊 数据分析智能体"),
        ("浦语·灵笔", "🖼️ 浦语·灵笔"),
        ("模型与下载", "📦 模型与下载"),
    ],
    "en": [
        ("Home", "🧪 InternLM Demo Studio"),
        ("Story chat", "📖 Story chat"),
        ("Bajie role-play", "🐷 Bajie role-play"),
        ("Data-analysis agent", "📊 Data-analysis agent"),
        ("XComposer2", "🖼️ XComposer2"),
        ("Models & downloads", "📦 Models & downloads"),
    ],
}
FILES = ["home", "story", "bajie", "agent", "xcomposer", "models"]


def wait_title(page, title: str) -> None:
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=60_000)


def nav(page, entry: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=entry, exact=True).click()


def visit_every_page(page, lang: str, shots: str | None = None) -> None:
    for (entry, title), name in zip(PAGES[lang], FILES, strict=True):
        nav(page, entry)
        wait_title(page, title)
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
        )
        if shots:
            screenshot(page, f"{shots}-{name}")


@pytest.mark.parametrize(
    ("locale", "lang"), [("zh-CN", "zh_CN"), ("en-US", "en")], ids=["zh-CN", "en-US"]
)
def test_every_page_opens_in_the_browser_language(tmp_path, locale, lang):
    home = tmp_path / "home"
    home.mkdir()
    with running_app(home) as url, browser_page(locale=locale) as page:
        page.goto(url)
        wait_title(page, PAGES[lang][0][1])
        visit_every_page(page, lang, shots=f"i18n-{locale}")
        other = PAGES["en" if lang == "zh_CN" else "zh_CN"][1][0]
        assert page.get_by_test_id("stSidebarNav").get_by_text(other, exact=True).count() == 0


def test_the_switch_changes_the_language_and_it_stays(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with running_app(home) as url, browser_page(locale="en-US") as page:
        page.goto(url + "/Story_Chat")
        wait_title(page, "📖 Story chat")
        page.get_by_test_id("stSidebar").get_by_role("button", name="中文", exact=True).click()
        wait_title(page, "📖 故事对话")
        page.get_by_placeholder("请它讲个故事…").wait_for()  # the page body too, not only the title
        visit_every_page(page, "zh_CN")  # it stays on every page of the session
        page.get_by_test_id("stSidebar").get_by_role("button", name="English", exact=True).click()
        wait_title(page, "📦 Models & downloads")
        nav(page, "Home")
        wait_title(page, "🧪 InternLM Demo Studio")


@pytest.mark.xfail(
    reason="the language is kept through demo_ui.prefs, which lives in the browser session "
    "until issue 12's persistent workspace store backs it",
    strict=False,
)
def test_the_chosen_language_survives_a_reload(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with running_app(home) as url, browser_page(locale="en-US") as page:
        page.goto(url)
        wait_title(page, "🧪 InternLM Demo Studio")
        page.get_by_test_id("stSidebar").get_by_role("button", name="中文", exact=True).click()
        wait_title(page, "🧪 书生·浦语 Demo 工作室")
        page.reload()
        wait_title(page, "🧪 书生·浦语 Demo 工作室")
