"""Real server + headless Chromium: beam search from the pages. The story chat with
Beams 2 shows the search's progress, then the reply (and Stop ends a search early); the
composition tab writes a text-only article with Beam size 2."""

from __future__ import annotations

import re

import pytest

from tests.browser import browser_page, running_app, screenshot
from tests.test_browser_chat import _send, _stop_mid_reply, main, slow_random_model
from tests.xcomposer.test_xcomposer_browser import (
    open_composition,
    set_max_new_tokens,
    xcomposer_app,
)

pytestmark = pytest.mark.browser


def _slide_to(page, name: str, value: int) -> None:
    thumb = page.get_by_role("slider", name=name)
    thumb.focus()
    thumb.press("Home")
    for _ in range(value - 1):
        thumb.press("ArrowRight")
    page.wait_for_function(
        f"""() => document.querySelector('input[type=range][aria-label="{name}"]')
            ?.value === '{value}'"""
    )
    page.wait_for_timeout(500)  # the rerun that keeps the value


def test_story_chat_with_two_beams(tmp_path):
    slow_random_model(tmp_path / "home")
    with running_app(tmp_path / "home") as url, browser_page() as page:
        page.goto(f"{url}/Story_Chat")
        page.get_by_test_id("stChatInputTextArea").wait_for(timeout=120_000)
        page.get_by_text("Sampling").first.click()
        _slide_to(page, "Beams", 2)
        _send(page, "Write a story about a robot")
        progress = main(page).get_by_text(re.compile(r"Beam search: \d+ steps? done"))
        progress.wait_for(timeout=180_000)  # loads the model first
        screenshot(page, "beams-story-progress")
        page.get_by_text("tok/s").wait_for(timeout=180_000)  # the reply, with its stats
        assert progress.count() == 0
        reply = page.get_by_test_id("stChatMessage").nth(1)
        assert reply.inner_text().strip()
        screenshot(page, "beams-story-reply")
        # Stop ends a search that is still running, and keeps its best beam so far
        _send(page, "Another story, a long one")
        progress.wait_for(timeout=60_000)
        # (a random search may end by itself before the click lands: then ask again)
        _stop_mid_reply(page, running=progress)
        assert page.get_by_test_id("stChatMessage").nth(3).inner_text().strip()
        screenshot(page, "beams-story-stopped")


def test_compose_text_only_with_two_beams(tmp_path):
    from playwright.sync_api import expect

    with xcomposer_app(tmp_path, viewport={"width": 1300, "height": 1600}) as (url, page):
        open_composition(page, url)
        page.get_by_label("Instruction: a title, an outline, material to use").fill(
            "写一篇关于水墨画的短文"
        )
        page.get_by_text("Text only", exact=True).click()
        page.get_by_text("With meta", exact=True).click()
        set_max_new_tokens(page, 60)
        _slide_to(page, "Beam size", 2)
        page.get_by_role("button", name=re.compile("Compose")).click()
        expect(page.get_by_text("Edit paragraph 1")).to_be_visible(timeout=180_000)
        # text only: no image step ran, and the article has no picture
        expect(page.get_by_text("Choosing where images fit")).to_have_count(0)
        expect(page.get_by_test_id("stMainBlockContainer").get_by_role("img")).to_have_count(0)
        screenshot(page, "beams-compose-text-only")
