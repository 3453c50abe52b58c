"""Real server + headless Chromium: streaming chat, Stop, persona switching across pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo_core.internlm2.tiny import build_tiny_internlm2
from tests.browser import browser_page, browser_pages, running_app, screenshot

pytestmark = pytest.mark.browser


def main(page):
    """The main area (the sidebar's history lists message titles too)."""
    return page.get_by_test_id("stMainBlockContainer")


def _send(page, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.wait_for(timeout=120_000)  # a first page load on a busy machine can take a while
    box.fill(text)
    box.press("Enter")


def _stop(page, timeout: float = 30_000) -> None:
    page.get_by_role("button", name="Stop").click(timeout=timeout)


def _stop_mid_reply(page, nth: int = 0, running=None) -> None:
    """Click Stop while a reply streams and wait for the "⏹ stopped" caption number
    ``nth``. The random model sometimes ends a reply by itself before the click lands;
    then regenerate and try again. ``running``: what shows that the reply is still being
    made (default: the streaming cursor)."""
    from playwright.sync_api import Error as PlaywrightError

    for _ in range(6):
        try:  # a reply of a few tokens can come and go between two looks: then it is over
            (running or page.get_by_text("▌")).wait_for(timeout=20_000)
        except PlaywrightError:
            pass
        try:
            _stop(page, timeout=2_000)
            page.get_by_text("⏹ stopped").nth(nth).wait_for(timeout=20_000)
            return
        except PlaywrightError:
            _wait_idle(page)
            if page.get_by_text("⏹ stopped").count() > nth:
                return
            page.get_by_role("button", name="Regenerate").click()
    raise AssertionError("every reply ended before Stop was clicked")


def _wait_idle(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )


def slow_random_model(home) -> None:
    """A larger random model in the app's home, so a reply lasts long enough (seconds)
    to be stopped or queued behind by hand."""
    build_tiny_internlm2(
        home / "tiny-internlm2",
        hidden_size=512,
        intermediate_size=1408,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=2,
    )


def test_story_chat_streams_in_browser(tmp_path):
    with running_app(tmp_path / "home") as url, browser_page() as page:
        page.goto(f"{url}/Story_Chat")
        page.get_by_text("Story chat").first.wait_for()
        _send(page, "Write a story about a robot")
        main(page).get_by_text("Write a story about a robot").wait_for()
        page.get_by_text("tok/s").wait_for(timeout=60_000)  # the reply finished with its stats
        assert page.get_by_test_id("stChatMessage").count() == 2
        shot = screenshot(page, "story-chat")
        assert shot.stat().st_size > 10_000


def test_stop_keeps_partial_reply(tmp_path):
    slow_random_model(tmp_path / "home")
    with running_app(tmp_path / "home") as url, browser_page(accept_downloads=True) as page:
        page.goto(f"{url}/Story_Chat")
        _send(page, "long please")
        page.get_by_text("▌").wait_for()  # tokens are streaming
        # the page is already consistent while the reply streams: presets gone, the
        # conversation's controls usable, the exports waiting for the reply
        assert page.get_by_role("button", name="300-character story").count() == 0
        assert main(page).get_by_role("button", name="New chat").is_enabled()
        # Stop alone (no other click) leaves the page whole: the caption, no cursor,
        # enabled controls and exports, fresh sidebar figures
        _stop_mid_reply(page)
        _wait_idle(page)
        # the run that draws the stopped reply may still be going (its status widget shows
        # only after a moment): the streaming view's cursor and Stop go when it ends
        page.get_by_role("button", name="Stop").wait_for(state="detached", timeout=30_000)
        assert page.get_by_text("▌").count() == 0
        assert page.get_by_role("button", name="Regenerate").is_enabled()
        assert page.get_by_text("1 model loaded").count() == 1
        assert page.get_by_test_id("stChatMessage").count() == 2
        assert len(page.get_by_test_id("stChatMessage").nth(1).inner_text().strip()) > 20
        screenshot(page, "story-chat-stopped")
        # the export of a stopped reply has its final stats
        page.get_by_role("button", name="Export").click()
        with page.expect_download() as info:
            page.get_by_role("button", name="JSON").click()
        reply = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))["turns"][1]
        assert reply["status"] == "stopped"
        assert reply["stats"]["finish_reason"] == "cancelled"
        assert reply["stats"]["total_s"] > 0 and reply["stats"]["tokens_per_s"] > 0
        page.keyboard.press("Escape")  # close the Export popover
        _send(page, "next")
        main(page).get_by_text("next").wait_for()
        _stop_mid_reply(page, nth=1)
        assert page.get_by_test_id("stChatMessage").count() == 4


def test_preset_is_hidden_while_the_first_reply_streams(tmp_path):
    slow_random_model(tmp_path / "home")
    with running_app(tmp_path / "home") as url, browser_page() as page:
        page.goto(f"{url}/Story_Chat")
        page.get_by_role("button", name="300-character story").click(timeout=120_000)
        page.get_by_text("▌").wait_for()
        assert page.get_by_role("button", name="Story in English").count() == 0
        _stop_mid_reply(page)
        assert page.get_by_role("button", name="Story in English").count() == 0


def test_persona_switch_keeps_other_conversations(tmp_path):
    with running_app(tmp_path / "home") as url, browser_page() as page:
        page.goto(f"{url}/Story_Chat")
        _send(page, "story-page-message")
        page.get_by_text("tok/s").wait_for(timeout=60_000)
        page.get_by_role("link", name="Bajie role-play").click()
        page.get_by_text("俺老猪来也").wait_for()
        _send(page, "bajie-page-message")
        page.get_by_text("tok/s").wait_for(timeout=60_000)
        # switch persona to Wukong mid-session
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_text("孙悟空 (Wukong)").last.click()
        page.get_by_text("俺老孙来也").wait_for()
        assert main(page).get_by_text("bajie-page-message").count() == 0
        screenshot(page, "bajie-wukong")
        # back to Bajie: his conversation is still there
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_text("猪八戒 (Bajie)").last.click()
        main(page).get_by_text("bajie-page-message").wait_for()
        # and the story page kept its own conversation
        page.get_by_role("link", name="Story chat").click()
        main(page).get_by_text("story-page-message").wait_for()
        screenshot(page, "story-after-bajie")


QUEUED_OR_RUNNING = """() => ['ahead of you', '▌', 'tok/s']
    .some(t => document.body.innerText.includes(t))"""


def _queue_behind(first, second) -> None:
    """Ask in ``second`` while ``first``'s reply streams, and wait until the second
    request is in line behind it. The random model can end the first reply by itself
    before the second request arrives; then the second one ran at once: stop it, ask the
    first again and requeue the second (Regenerate)."""
    from playwright.sync_api import Error as PlaywrightError

    for attempt in range(4):
        first.get_by_text("▌").wait_for(timeout=120_000)  # the model is busy with the first
        if attempt == 0:
            _send(second, "second student")
        else:
            second.get_by_role("button", name="Regenerate").click()
        second.wait_for_function(QUEUED_OR_RUNNING, timeout=60_000)
        if second.get_by_text("1 request ahead of you").count():
            return
        try:
            _stop(second, timeout=5_000)
        except PlaywrightError:  # it has ended by itself too
            pass
        _wait_idle(second)
        _wait_idle(first)
        first.get_by_role("button", name="Regenerate").click()
    raise AssertionError("the first reply ended every time before the second was queued")


def test_second_session_waits_in_line_and_can_leave(tmp_path):
    """Two browser sessions on one model: the second sees its place in line, Stop while
    queued takes it out, and the first session's reply is unaffected."""
    slow_random_model(tmp_path / "home")
    with running_app(tmp_path / "home") as url, browser_pages(2) as (first, second):
        for page in (first, second):
            page.goto(f"{url}/Story_Chat")
            page.get_by_test_id("stChatInputTextArea").wait_for(timeout=120_000)
        _send(first, "first student")
        _queue_behind(first, second)
        screenshot(second, "queue-position")
        _stop(second)
        # "Stopped before the first word" -- unless the random first reply ended by itself
        # just before the click and the second one had begun: either way, stopped
        second.get_by_text("⏹ stopped").wait_for()
        first.get_by_text("tok/s").wait_for(timeout=120_000)  # first reply finished normally
        assert first.get_by_text("stopped").count() == 0
        _send(second, "my turn now")
        second.get_by_text("tok/s").wait_for(timeout=300_000)  # up to 1024 slow tokens
        assert second.get_by_text("stopped").count() >= 1  # the queued reply was stopped
        screenshot(second, "queue-after-stop")


def test_too_long_message_is_explained_not_dropped(tmp_path):
    """A paste over the limit used to vanish in the browser (the widget's max_chars)."""
    with running_app(tmp_path / "home") as url, browser_page() as page:
        page.goto(f"{url}/Story_Chat")
        text = "一段很长的文字。" * 1500  # 12,000 characters
        _send(page, text)
        page.get_by_text("It was not sent").wait_for()
        assert main(page).get_by_test_id("stCode").inner_text().startswith("一段很长的文字。")
        assert page.get_by_test_id("stChatMessage").count() == 0
        screenshot(page, "story-chat-too-long")


TRUNCATED = """() => [...document.querySelectorAll('[data-testid="stPageLink"] *')]
    .filter(e => e.children.length === 0 && e.textContent.length > 3)
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.textContent)"""


def _no_truncated_links(page) -> None:
    """No page link is cut off once the page has settled (on a loaded machine the first
    look can fall in the sidebar's opening or a font's arrival, which reflow the links)."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.wait_for_function(f"() => ({TRUNCATED})().length === 0", timeout=15_000)
    except PlaywrightError:
        assert page.evaluate(TRUNCATED) == []


def test_links_show_whole_titles(tmp_path):
    """Page links do not wrap: a long label is cut off with "…"."""
    with running_app(tmp_path / "home") as url, browser_page() as page:  # 1400 px wide
        page.goto(url)
        page.get_by_text("Models & downloads").last.wait_for()
        _no_truncated_links(page)  # the home cards
        screenshot(page, "home-1400")
        page.goto(f"{url}/Story_Chat")
        page.get_by_text("Download it on the Models page").wait_for()
        _no_truncated_links(page)  # the missing-model notice in the sidebar


def test_chat_controls_fit_one_row_on_a_phone(tmp_path):
    with (
        running_app(tmp_path / "home") as url,
        browser_page(viewport={"width": 390, "height": 844}) as page,
    ):
        page.goto(f"{url}/Story_Chat")
        _send(page, "hello")
        page.get_by_text("tok/s").wait_for(timeout=60_000)
        page.wait_for_timeout(500)  # let the scroll to the new reply settle
        # measured in one go: separate calls can straddle a scroll and disagree
        handles = [
            main(page).get_by_role("button", name=name).element_handle()
            for name in ("Regenerate", "New chat", "Export")
        ]
        boxes = page.evaluate(
            """els => els.map(el => {
                const r = el.getBoundingClientRect();
                return {top: r.top, bottom: r.bottom, right: r.right};
            })""",
            handles,
        )
        # one row: every button overlaps every other vertically (heights may differ)
        assert max(b["top"] for b in boxes) < min(b["bottom"] for b in boxes), boxes
        assert max(b["right"] for b in boxes) <= 390
        screenshot(page, "story-390")
