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
        page.wait_for_function(  # the run is over and no element is still a placeholder
            """() => !document.querySelector('[data-testid="stStatusWidget"]')
                && !document.querySelector('[data-testid^="stSkeleton"]')""",
            timeout=60_000,
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
        page.get_by_test_id("stSidebar").get_by_role("radio", name="中文", exact=True).click()
        wait_title(page, "📖 故事对话")
        page.get_by_placeholder("请它讲个故事…").wait_for()  # the page body too, not only the title
        visit_every_page(page, "zh_CN")  # it stays on every page of the session
        page.get_by_test_id("stSidebar").get_by_role("radio", name="English", exact=True).click()
        wait_title(page, "📦 Models & downloads")
        nav(page, "Home")
        wait_title(page, "🧪 InternLM Demo Studio")


def test_the_chosen_language_survives_a_reload(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with running_app(home) as url, browser_page(locale="en-US") as page:
        page.goto(url)
        wait_title(page, "🧪 InternLM Demo Studio")
        page.get_by_test_id("stSidebar").get_by_role("radio", name="中文", exact=True).click()
        wait_title(page, "🧪 书生·浦语 Demo 工作室")
        page.reload()
        wait_title(page, "🧪 书生·浦语 Demo 工作室")


def chinese_article():
    import io

    from PIL import Image

    from demo_core.xcomposer.article import Article, ImageSlot
    from demo_core.xcomposer.images import load_image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 40)).save(buf, format="PNG")
    article = Article.from_texts(
        "根据以下标题：“长城的故事”，创作长文章。",
        ["长城是中国古代的伟大建筑。", "它蜿蜒在群山之间，见证了两千多年的历史。"],
    )
    image = load_image(buf.getvalue(), "长城远眺.png")
    article.set_slot(0, ImageSlot(caption="夕阳下的长城", candidates=[image], chosen=0))
    return article


def test_article_exports_keep_chinese_names_and_render_chinese(tmp_path):
    """The zip keeps the Chinese image name (UTF-8 flag), the HTML page names CJK fonts,
    and Chromium renders it, and prints it to PDF, with a CJK font embedded."""
    import io
    import zipfile

    from demo_core.xcomposer.export import to_html, to_zip

    article = chinese_article()
    zf = zipfile.ZipFile(io.BytesIO(to_zip(article)))
    names = zf.namelist()
    assert "images/01_长城远眺.png" in names, names
    assert all(i.flag_bits & 0x800 for i in zf.infolist() if not i.filename.isascii())
    assert "长城远眺" in zf.read("article.md").decode("utf-8")
    html = to_html(article)
    assert 'charset="utf-8"' in html and "Noto Sans CJK SC" in html
    page_file = tmp_path / "文章.html"
    page_file.write_text(html, encoding="utf-8")
    with browser_page(locale="zh-CN") as page:
        page.goto(page_file.as_uri())
        page.get_by_role("heading", name="长城的故事").wait_for()
        screenshot(page, "i18n-article-html")
        pdf = page.pdf()
    assert b"CJK" in pdf or b"Noto" in pdf  # a CJK font went into the PDF, not boxes
