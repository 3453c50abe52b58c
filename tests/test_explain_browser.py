"""The "How it works" panel in headless Chromium on the real app: story chat, Bajie, the
agent and XComposer2, with the tiny random models. Screenshots land in artifacts/."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.browser import ARTIFACTS, browser_page, running_app, send, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1500)]


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


def _short_answers(page, tab, prefix: str) -> None:
    """Max new tokens 24 on an XComposer2 tab (the tiny model on a CPU is slow)."""
    tab.get_by_text("Generation settings").click()
    max_new = page.locator(f".st-key-{prefix}_max_new input")
    max_new.fill("24")
    max_new.press("Enter")
    wait_idle(page)
    assert max_new.input_value() == "24"


@pytest.mark.xfail(
    strict=False,
    reason="issue 17 is open: this one long browser run over four demos passed its story, "
    "Bajie and agent steps and, once, the XComposer2 step, but not all in one run yet",
)
def test_panel_on_every_demo(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with running_app(home, {"DEMO_STUDIO_DEVICE": "cpu"}) as url, browser_page() as page:
        page.goto(url + "/Story_Chat")
        toggle = page.get_by_test_id("stSidebar").get_by_text("How it works")
        toggle.wait_for(timeout=180_000)
        toggle.click()
        wait_idle(page)

        # -- story chat: prompt, probabilities (click a token), step mode, code --------
        send(page, "Write a story about the sea")
        panel = page.locator(".st-key-hiw_story_panel")
        panel.get_by_text("tokens go into the model").wait_for(timeout=120_000)
        panel.locator(".hiw-sp").first.wait_for()
        wait_idle(page)
        assert panel.locator(".hiw-sp", has_text="<|im_start|>").count() == 3
        _shot(panel, "hiw_story_prompt")
        panel.get_by_role("radio", name="Probabilities").click()
        panel.get_by_text("Click a token").wait_for()
        token = panel.locator(".hiw-t").nth(1)
        token.click()
        popup = panel.locator(".hiw-t:focus .hiw-pop")
        popup.wait_for(state="visible")
        assert "raw greedy" in popup.inner_text()
        _shot(panel, "hiw_story_probabilities")
        panel.get_by_role("radio", name="Step mode").click()
        panel.get_by_text("Step 1", exact=True).wait_for(timeout=60_000)
        panel.get_by_role("button", name="▶ Next token").click()
        panel.get_by_text("Step 2", exact=True).wait_for(timeout=60_000)
        panel.get_by_role("button", name="▶ Next token").click()
        panel.get_by_text("Step 3", exact=True).wait_for(timeout=60_000)
        panel.locator("[data-testid=stVegaLiteChart]").first.wait_for(timeout=60_000)
        wait_idle(page)
        _shot(panel, "hiw_story_step")
        panel.get_by_role("radio", name="Code").click()
        panel.get_by_text("load_internlm2").first.wait_for()
        _shot(panel, "hiw_story_code")

        # -- Bajie: the persona prompt as the model reads it ---------------------------
        _go(page, "Bajie role-play")
        _send(page, "你好")
        panel = page.locator("[class*='st-key-hiw_'][class*='_panel']")
        panel.get_by_text("tokens go into the model").wait_for(timeout=120_000)
        panel.locator(".hiw-box", has_text="猪八戒").wait_for()  # the persona, as tokens
        _shot(panel, "hiw_bajie_prompt")

        # -- agent: the loop diagram -----------------------------------------------------
        _go(page, "Data-analysis agent")
        sidebar = page.get_by_test_id("stSidebar")
        _choose(page, sidebar.get_by_test_id("stSelectbox").first, "Tiny random InternLM2")
        sidebar.get_by_text("Data analysis (Python interpreter)").click()  # no tool: one call
        wait_idle(page)
        _send(page, "What is 2 + 3?")
        panel = page.locator(".st-key-hiw_agent_panel")
        panel.locator("[data-testid=stGraphVizChart] svg").wait_for(timeout=300_000)
        wait_idle(page)
        assert "Model call 1" in panel.inner_text()
        _shot(panel, "hiw_agent_loop")
        panel.get_by_role("radio", name="Prompt").click()
        panel.get_by_text("tokens go into the model").wait_for(timeout=60_000)
        panel.locator(".hiw-sp").first.wait_for()
        _shot(panel, "hiw_agent_prompt")

        # -- XComposer2 composition: the reference image's span, the article's tokens ----
        _go(page, "XComposer2")
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, format="PNG")
        png = tmp_path / "red.png"
        png.write_bytes(buf.getvalue())
        page.get_by_role("tab", name="Illustrated article").click()
        compose = page.get_by_role("tabpanel").filter(has_text="Reference images")
        _short_answers(page, compose, "xc_cmp")
        compose.get_by_text("Text only").click()  # the article alone: no image search after it
        wait_idle(page)
        upload = compose.locator("input[type=file]")
        _press(page, lambda: upload.set_input_files(str(png)), compose.get_by_text("red.png"))
        wait_idle(page)
        panel = page.locator(".st-key-hiw_xc_cmp_panel")
        writing = page.get_by_text("Writing the article").or_(panel.locator(".hiw-img"))
        _press(page, compose.get_by_role("button", name="Compose").click, writing)
        panel.locator(".hiw-img").first.wait_for(timeout=600_000)
        assert "<image>" in panel.locator(".hiw-img").first.inner_text()
        wait_idle(page)
        _shot(panel, "hiw_compose_prompt")
        panel.get_by_role("radio", name="Probabilities").click()
        panel.get_by_text("Click a token").wait_for(timeout=60_000)
        assert panel.locator(".hiw-t").count() > 0
        _shot(panel, "hiw_compose_probabilities")

        # -- XComposer2 image Q&A: the image's span of tokens -----------------------------
        page.get_by_role("tab", name="Image Q&A").click()
        qa = page.get_by_role("tabpanel").filter(has_text="Your question")
        _short_answers(page, qa, "xc_qa")
        qa.locator("input[type=file]").set_input_files(str(png))
        qa.get_by_text("red.png").first.wait_for(timeout=120_000)  # the upload arrived
        wait_idle(page)  # and its rerun is over before the question is typed
        question = page.locator(".st-key-xc_qa_question textarea")
        question.fill("What colour is it?")
        asked = page.get_by_test_id("stChatMessage").filter(has_text="What colour is it?")
        _press(page, qa.get_by_role("button", name="Ask").click, asked)
        panel = page.locator(".st-key-hiw_xc_qa_panel")
        try:
            panel.locator(".hiw-img").first.wait_for(timeout=600_000)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "hiw_xcomposer_failed.png"), full_page=True)
            raise
        assert "<ImageHere>" in panel.locator(".hiw-img").first.inner_text()
        wait_idle(page)
        _shot(panel, "hiw_xcomposer_prompt")
