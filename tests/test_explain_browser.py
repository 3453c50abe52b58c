"""The "How it works" panel in headless Chromium on the real app, in English and Chinese:
story chat, Bajie, the agent and XComposer2, with the tiny random models. Screenshots land
in artifacts/ (hiw_*-en-US.png, hiw_*-zh-CN.png)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.browser import ARTIFACTS, browser_page, running_app, send, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1500)]


# What the test looks for, in Chinese (from the zh_CN catalog; parts of longer strings
# where the page shows more). English is the text itself.
ZH = {
    "How it works": "原理揭秘",
    "tokens go into the model": "个 token 输入模型",
    "Probabilities": "概率",
    "Click a token": "点击某个 token",
    "raw greedy": "原始贪心",
    "Step mode": "单步模式",
    "Step {n}": "第 {n} 步",
    "▶ Next token": "▶ 下一个 token",
    "Code": "代码",
    "Bajie role-play": "八戒角色扮演",
    "Data-analysis agent": "数据分析智能体",
    "XComposer2": "浦语·灵笔",
    "Tiny random InternLM2": "微型随机 InternLM2",
    "Data analysis (Python interpreter)": "数据分析（Python 解释器）",
    "Model call {n}": "模型调用 {n}",
    "Prompt": "提示词",
    "Illustrated article": "图文文章",
    "Reference images": "参考图片",
    "Generation settings": "生成设置",
    "Text only": "只要文字",
    "Writing the article": "正在写文章",
    "Compose": "开始创作",
    "Image Q&A": "看图问答",
    "Your question": "你的问题",
    "Ask": "提问",
}


def _texts(locale: str):
    return ZH.__getitem__ if locale == "zh-CN" else lambda text: text


def _shot(locator, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _choose(page, selectbox, option: str) -> None:
    """Pick ``option``; a rerun that lands while the list is open closes it: open again."""
    from playwright.sync_api import Error as PlaywrightError

    for _ in range(5):
        wait_idle(page)
        selectbox.click()
        try:
            page.get_by_role("option", name=option).click(timeout=5_000)
            wait_idle(page)
            return
        except PlaywrightError:
            page.keyboard.press("Escape")
    raise AssertionError(f"could not choose {option}")


def _go(page, label: str) -> None:
    """Another page of the same session (the preference lives in the session)."""
    page.get_by_test_id("stSidebar").get_by_role("link", name=label).click()
    wait_idle(page)


def _press(page, act, started) -> None:
    """``act()`` (a click, a send) until ``started`` shows (its request began). An input
    that lands while the rerun of the previous one is still being drawn can be dropped
    by the page (the question stayed in its box and nothing was asked): do it again."""
    from playwright.sync_api import Error as PlaywrightError

    for _ in range(3):
        wait_idle(page)
        act()
        try:
            started.first.wait_for(timeout=60_000)
            return
        except PlaywrightError:
            continue
    raise AssertionError("the request never started")


def _send(page, text: str) -> None:
    """Send ``text`` once the page is idle, again if it never shows as a message (a chat
    input sent while the page's previous run is still being drawn can be dropped)."""
    sent = page.get_by_test_id("stChatMessage").filter(has_text=text)
    _press(page, lambda: send(page, text), sent)


def _uploaded(where, name: str) -> None:
    """Until ``name`` is uploaded, not only listed: its chip offers Remove, not Cancel
    upload (the uploader lists a file while it is still uploading; a click then would
    be sent without it)."""
    where.get_by_role("button", name=f"Remove {name}").first.wait_for(timeout=60_000)


def _short_answers(page, tab, prefix: str, t) -> None:
    """Max new tokens 24 on an XComposer2 tab (the tiny model on a CPU is slow)."""
    tab.get_by_text(t("Generation settings")).click()
    max_new = page.locator(f".st-key-{prefix}_max_new input")
    max_new.fill("24")
    max_new.press("Enter")
    wait_idle(page)
    assert max_new.input_value() == "24"


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_panel_on_every_demo(tmp_path, locale):
    """The whole tour in English and in Chinese (the browser's language picks the app's);
    the screenshots are named after the locale."""
    t = _texts(locale)
    home = tmp_path / "home"
    home.mkdir()
    with (
        running_app(home, {"DEMO_STUDIO_DEVICE": "cpu"}) as url,
        browser_page(locale=locale) as page,
    ):
        page.goto(url + "/Story_Chat")
        toggle = page.get_by_test_id("stSidebar").get_by_text(t("How it works"))
        toggle.wait_for(timeout=180_000)
        toggle.click()
        wait_idle(page)

        # -- story chat: prompt, probabilities (click a token), step mode, code --------
        send(page, "Write a story about the sea")
        panel = page.locator(".st-key-hiw_story_panel")
        panel.get_by_text(t("tokens go into the model")).wait_for(timeout=120_000)
        panel.locator(".hiw-sp").first.wait_for()
        wait_idle(page)
        assert panel.locator(".hiw-sp", has_text="<|im_start|>").count() == 3
        _shot(panel, f"hiw_story_prompt-{locale}")
        panel.get_by_role("radio", name=t("Probabilities")).click()
        panel.get_by_text(t("Click a token")).wait_for()
        token = panel.locator(".hiw-t").nth(1)
        token.click()
        popup = panel.locator(".hiw-t:focus .hiw-pop")
        popup.wait_for(state="visible")
        assert t("raw greedy") in popup.inner_text()
        _shot(panel, f"hiw_story_probabilities-{locale}")
        panel.get_by_role("radio", name=t("Step mode")).click()
        panel.get_by_text(t("Step {n}").format(n=1), exact=True).wait_for(timeout=60_000)
        panel.get_by_role("button", name=t("▶ Next token")).click()
        panel.get_by_text(t("Step {n}").format(n=2), exact=True).wait_for(timeout=60_000)
        panel.get_by_role("button", name=t("▶ Next token")).click()
        panel.get_by_text(t("Step {n}").format(n=3), exact=True).wait_for(timeout=60_000)
        panel.locator("[data-testid=stVegaLiteChart]").first.wait_for(timeout=60_000)
        wait_idle(page)
        _shot(panel, f"hiw_story_step-{locale}")
        panel.get_by_role("radio", name=t("Code")).click()
        panel.get_by_text("load_internlm2").first.wait_for()
        _shot(panel, f"hiw_story_code-{locale}")

        # -- Bajie: the persona prompt as the model reads it ---------------------------
        _go(page, t("Bajie role-play"))
        _send(page, "你好")
        panel = page.locator("[class*='st-key-hiw_'][class*='_panel']")
        panel.get_by_text(t("tokens go into the model")).wait_for(timeout=120_000)
        panel.locator(".hiw-box", has_text="猪八戒").wait_for()  # the persona, as tokens
        _shot(panel, f"hiw_bajie_prompt-{locale}")

        # -- agent: the loop diagram -----------------------------------------------------
        _go(page, t("Data-analysis agent"))
        sidebar = page.get_by_test_id("stSidebar")
        _choose(page, sidebar.get_by_test_id("stSelectbox").first, t("Tiny random InternLM2"))
        sidebar.get_by_text(t("Data analysis (Python interpreter)")).click()  # no tool: one call
        wait_idle(page)
        _send(page, "What is 2 + 3?")
        panel = page.locator(".st-key-hiw_agent_panel")
        panel.locator("[data-testid=stGraphVizChart] svg").wait_for(timeout=300_000)
        wait_idle(page)
        assert t("Model call {n}").format(n=1) in panel.inner_text()
        _shot(panel, f"hiw_agent_loop-{locale}")
        panel.get_by_role("radio", name=t("Prompt")).click()
        panel.get_by_text(t("tokens go into the model")).wait_for(timeout=60_000)
        panel.locator(".hiw-sp").first.wait_for()
        _shot(panel, f"hiw_agent_prompt-{locale}")

        # -- XComposer2 composition: the reference image's span, the article's tokens ----
        _go(page, t("XComposer2"))
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, format="PNG")
        png = tmp_path / "red.png"
        png.write_bytes(buf.getvalue())
        page.get_by_role("tab", name=t("Illustrated article")).click()
        compose = page.get_by_role("tabpanel").filter(has_text=t("Reference images"))
        _short_answers(page, compose, "xc_cmp", t)
        compose.get_by_text(t("Text only")).click()  # the article alone: no image search after it
        wait_idle(page)
        # picked as the Text only rerun starts: the upload's URLs must survive that start
        compose.locator("input[type=file]").set_input_files(str(png))
        _uploaded(compose, "red.png")
        panel = page.locator(".st-key-hiw_xc_cmp_panel")
        writing = page.get_by_text(t("Writing the article")).or_(panel.locator(".hiw-img"))
        _press(page, compose.get_by_role("button", name=t("Compose")).click, writing)
        panel.locator(".hiw-img").first.wait_for(timeout=600_000)
        assert "<image>" in panel.locator(".hiw-img").first.inner_text()
        wait_idle(page)
        _shot(panel, f"hiw_compose_prompt-{locale}")
        panel.get_by_role("radio", name=t("Probabilities")).click()
        panel.get_by_text(t("Click a token")).wait_for(timeout=60_000)
        assert panel.locator(".hiw-t").count() > 0
        _shot(panel, f"hiw_compose_probabilities-{locale}")

        # -- XComposer2 image Q&A: the image's span of tokens -----------------------------
        page.get_by_role("tab", name=t("Image Q&A")).click()
        qa = page.get_by_role("tabpanel").filter(has_text=t("Your question"))
        _short_answers(page, qa, "xc_qa", t)
        qa.locator("input[type=file]").set_input_files(str(png))
        _uploaded(qa, "red.png")
        wait_idle(page)  # and its rerun is over before the question is typed
        question = page.locator(".st-key-xc_qa_question textarea")
        question.fill("What colour is it?")
        asked = page.get_by_test_id("stChatMessage").filter(has_text="What colour is it?")
        _press(page, qa.get_by_role("button", name=t("Ask")).click, asked)
        panel = page.locator(".st-key-hiw_xc_qa_panel")
        try:
            panel.locator(".hiw-img").first.wait_for(timeout=600_000)
        except Exception:
            page.screenshot(
                path=str(ARTIFACTS / f"hiw_xcomposer_failed-{locale}.png"), full_page=True
            )
            raise
        assert "<ImageHere>" in panel.locator(".hiw-img").first.inner_text()
        wait_idle(page)
        _shot(panel, f"hiw_xcomposer_prompt-{locale}")
