"""The workspace in a real browser: chats survive reloads, server restarts and a SIGKILL
mid-reply; two browsers see only their own; edit / regenerate work on the page."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager

import pytest

from tests.browser import AppProcess, browser_pages, screenshot
from tests.test_browser_chat import _send, _wait_idle, main, slow_random_model

pytestmark = pytest.mark.browser


def _reply_done(page, timeout: float = 120_000) -> None:
    main(page).get_by_text("tok/s").first.wait_for(timeout=timeout)


def _read_db(home, sql: str) -> tuple | None:
    """The first row ``sql`` finds in the store, read from outside (None: none, or the
    file is not readable yet)."""
    try:
        conn = sqlite3.connect(f"file:{home / 'workspace.db'}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _wait_db(home, sql: str, timeout_s: float = 120) -> None:
    """Wait until the store holds what ``sql`` asks for (the test reads it from outside)."""
    deadline = time.monotonic() + timeout_s
    while not _read_db(home, sql):
        assert time.monotonic() < deadline, f"store never had: {sql}"
        time.sleep(0.1)


def test_chat_survives_reload_and_restart_and_stays_private(tmp_path):
    home = tmp_path / "home"
    app = AppProcess(home).start()
    try:
        with browser_pages(2) as (mine, theirs):
            mine.goto(f"{app.url}/Story_Chat")
            _send(mine, "persist-me-one")
            _reply_done(mine)
            url = mine.url
            assert "ws=" in url
            reply = main(mine).get_by_test_id("stChatMessage").nth(1).inner_text()
            mine.reload()
            main(mine).get_by_text("persist-me-one").wait_for()
            _reply_done(mine)
            assert main(mine).get_by_test_id("stChatMessage").nth(1).inner_text() == reply
            # the sidebar's history lists it, titled from the first message
            mine.get_by_role("button", name="▶ persist-me-one").wait_for()
            app.stop()
            app.start()  # a new server process on the same home
            mine.goto(url)
            main(mine).get_by_text("persist-me-one").wait_for()
            _reply_done(mine)
            assert main(mine).get_by_test_id("stChatMessage").nth(1).inner_text() == reply
            # the bare address in the same browser finds the workspace (cookie)
            mine.goto(f"{app.url}/Story_Chat")
            main(mine).get_by_text("persist-me-one").wait_for()
            screenshot(mine, "workspace-after-restart")
            # another browser: its own, empty workspace
            theirs.goto(f"{app.url}/Story_Chat")
            theirs.get_by_test_id("stChatInputTextArea").wait_for()
            theirs.wait_for_url("**ws=*")
            assert theirs.url.split("ws=")[1] != url.split("ws=")[1]
            assert theirs.get_by_text("persist-me-one").count() == 0
            _send(theirs, "theirs-only")
            _reply_done(theirs)
            mine.reload()
            main(mine).get_by_text("persist-me-one").wait_for()
            assert mine.get_by_text("theirs-only").count() == 0
            # the link opens the workspace in the other browser too (another device)
            theirs.goto(url)
            main(theirs).get_by_text("persist-me-one").wait_for()
    finally:
        app.stop()


@contextmanager
def _mid_stream(tmp_path, message: str):
    """A fresh home with a slow model, one browser on its story chat, ``message`` sent and its
    reply streaming: yields ``(home, app, page)``; the server stops afterwards."""
    home = tmp_path / "home"
    slow_random_model(home)
    app = AppProcess(home).start()
    try:
        with browser_pages(1) as (page,):
            page.goto(f"{app.url}/Story_Chat")
            _send(page, message)
            page.get_by_text("▌").wait_for(timeout=120_000)
            yield home, app, page
    finally:
        app.stop()


def test_reload_mid_stream_finds_the_complete_reply(tmp_path):
    with _mid_stream(tmp_path, "keep streaming") as (home, _app, page):
        page.reload()  # the tab is gone; the reply goes on
        main(page).get_by_text("keep streaming").wait_for()
        _reply_done(page, timeout=300_000)
        caption = main(page).get_by_text("tok/s").first.inner_text()
        assert "stopped" not in caption and "interrupted" not in caption
        assert "stop token" in caption or "token limit" in caption
        assert main(page).get_by_test_id("stChatMessage").count() == 2
        screenshot(page, "workspace-reload-mid-stream")
        _wait_db(home, "SELECT 1 FROM messages WHERE role='assistant' AND status='done'")


def _first_flush(home) -> bool:
    """Wait for the streaming reply's first save (True), or for the reply to end before
    one (False: the random model drew its stop token within the first second)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        row = _read_db(
            home,
            "SELECT status, length(content) FROM messages WHERE role='assistant' "
            "ORDER BY rowid DESC LIMIT 1",
        )
        if row and row[0] == "streaming" and row[1]:
            return True
        if row and row[0] != "streaming":
            return False
        time.sleep(0.1)
    raise AssertionError("the reply was never saved while it streamed")


def test_sigkill_mid_stream_keeps_every_message_and_the_partial_reply(tmp_path):
    with _mid_stream(tmp_path, "before the crash") as (home, app, page):
        for _ in range(3):  # at least one flush of the reply is in the file
            if _first_flush(home):
                break
            page.get_by_role("button", name="New chat").first.click()
            _send(page, "before the crash")
            page.get_by_text("▌").wait_for(timeout=120_000)
        else:
            raise AssertionError("every reply ended before its first save")
        url = page.url
        app.kill()
        app.start()
        page.goto(url)
        main(page).get_by_text("before the crash").wait_for()
        main(page).get_by_text("cut off").wait_for()
        assert main(page).get_by_test_id("stChatMessage").count() == 2
        assert len(main(page).get_by_test_id("stChatMessage").nth(1).inner_text()) > 20
        screenshot(page, "workspace-after-sigkill")


def test_regenerate_and_edit_keep_the_old_versions(tmp_path):
    home = tmp_path / "home"
    app = AppProcess(home).start()
    try:
        with browser_pages(1) as (page,):
            page.goto(f"{app.url}/Story_Chat")
            _send(page, "first question")
            _reply_done(page)
            def reply_text() -> str:
                msg = main(page).get_by_test_id("stChatMessage").nth(1)
                return msg.get_by_test_id("stMarkdown").first.inner_text()

            first = reply_text()
            page.get_by_role("button", name="Regenerate").click()
            main(page).get_by_text("2/2").wait_for(timeout=120_000)
            _reply_done(page)
            page.get_by_role("button", name="◀").click()
            main(page).get_by_text("1/2").wait_for()
            assert reply_text() == first
            # edit the question and resend: a new branch, the old one kept
            page.get_by_role("button", name="Edit").first.click()
            box = page.get_by_label("Edit and resend (the old version is kept)")
            box.fill("edited question")
            page.get_by_role("button", name="Resend").click()
            main(page).get_by_text("edited question").wait_for()
            _reply_done(page)
            assert main(page).get_by_text("first question").count() == 0
            main(page).get_by_text("2/2").wait_for()
            screenshot(page, "workspace-edited")
            page.get_by_role("button", name="◀").first.click()
            main(page).get_by_text("first question").wait_for()
    finally:
        app.stop()


def _slide_to_min(page, name: str) -> None:
    """Press Home on a sampling slider. The rerun a change starts may close the Sampling
    expander under the pointer: then it is opened again and the key pressed again."""
    from playwright.sync_api import Error as PlaywrightError

    low = "16" if name == "Max new tokens" else "0"
    for _ in range(5):
        _wait_idle(page)
        thumb = page.get_by_role("slider", name=name)
        try:
            if not thumb.is_visible():
                page.get_by_text("Sampling").first.click()
            thumb.focus(timeout=5_000)
            thumb.press("Home", timeout=5_000)
            if thumb.input_value(timeout=5_000) == low:
                _wait_idle(page)
                return
        except PlaywrightError:
            continue
    raise AssertionError(f"could not set {name} to its minimum")


def test_continue_extends_a_reply_cut_at_the_token_limit(tmp_path):
    home = tmp_path / "home"
    app = AppProcess(home).start()
    try:
        with browser_pages(1) as (page,):
            page.goto(f"{app.url}/Story_Chat")
            page.get_by_test_id("stChatInputTextArea").wait_for(timeout=120_000)
            _slide_to_min(page, "Max new tokens")  # 16 tokens
            _slide_to_min(page, "Temperature")  # greedy: the same reply every run
            _send(page, "tell me a long story")
            _reply_done(page)

            def reply():
                return main(page).get_by_test_id("stChatMessage").nth(1)

            def reply_text() -> str:
                return reply().get_by_test_id("stMarkdown").first.inner_text()

            assert "token limit" in reply().get_by_text("tok/s").inner_text()
            first = reply_text()
            assert first
            page.get_by_role("button", name="Continue").click()
            page.wait_for_function(
                """(n) => {
                    const m = document.querySelectorAll('[data-testid=stChatMessage]')[1];
                    return m && !m.innerText.includes('▌') && m.innerText.includes('tok/s')
                        && m.querySelector('[data-testid=stMarkdown]').innerText.length > n;
                }""",
                arg=len(first),
                timeout=120_000,
            )
            longer = reply_text()
            assert longer.startswith(first) and len(longer) > len(first)  # the same reply, extended
            assert main(page).get_by_test_id("stChatMessage").count() == 2  # no new message
            assert main(page).get_by_text("1/2").count() == 0  # not a second version
            screenshot(page, "workspace-continued")
            page.reload()
            main(page).get_by_text("tell me a long story").wait_for()
            _reply_done(page)
            assert reply_text() == longer
            assert main(page).get_by_test_id("stChatMessage").count() == 2
            # the sampling settings are the workspace's: the reloaded tab has them
            page.get_by_text("Sampling").first.click()
            for name, low in (("Max new tokens", "16"), ("Temperature", "0")):
                assert page.get_by_role("slider", name=name).input_value() == low
        _wait_db(home, "SELECT 1 FROM messages WHERE role='assistant' AND status='done'")
    finally:
        app.stop()


class _ArticleText:
    """Is ``text`` a paragraph of the article on screen (shown, outside the expanders:
    not the saved list's title nor the proposal's text box)?"""

    JS = """(text) => [...document.querySelectorAll(
        '[data-testid=stMainBlockContainer] [data-testid=stMarkdown]')].some((m) =>
        m.offsetParent !== null && !m.closest('[data-testid=stExpander]')
        && m.innerText.includes(text))"""

    def __init__(self, text: str) -> None:
        self.text = text

    def now(self, page) -> bool:
        return page.evaluate(self.JS, self.text)

    def wait(self, page, timeout: float = 30_000) -> None:
        page.wait_for_function(self.JS, arg=self.text, timeout=timeout)


def test_an_edited_article_survives_a_reload_and_a_compose(tmp_path):
    """XComposer2 with the tiny random model: compose, edit paragraph 1 by hand, reload
    (the edit is there), Compose again (a new article; the edited one is kept in the
    saved list, reopened with its edit)."""
    import re

    from playwright.sync_api import expect

    marker = "My own first paragraph, edited by hand."
    shown = _ArticleText(marker)
    env = {"DEMO_STUDIO_MODELS_DIR": str(tmp_path / "models"), "DEMO_STUDIO_DEVICE": "cpu"}
    app = AppProcess(tmp_path / "home", env).start()
    try:
        with browser_pages(1, viewport={"width": 1300, "height": 1800}) as (page,):
            page.goto(f"{app.url}/XComposer2")
            expect(page.get_by_text("Tiny random test model").first).to_be_visible(timeout=60_000)
            page.get_by_text("Text only").first.click()
            _wait_idle(page)
            page.get_by_text("Generation settings").first.click()
            max_new = page.get_by_label("Max new tokens", exact=True).first
            max_new.fill("40")
            max_new.press("Enter")
            _wait_idle(page)

            def compose(saved_after: int) -> None:
                _wait_idle(page)
                page.get_by_role("button", name=re.compile("Compose")).click()
                saved = page.get_by_text(re.compile(rf"Saved articles \({saved_after}\)"))
                try:
                    expect(saved).to_be_visible(timeout=300_000)  # the new article is written
                except AssertionError:
                    screenshot(page, f"workspace-compose-{saved_after}-failed")
                    raise
                expect(page.get_by_text("Edit paragraph 1")).to_be_visible(timeout=60_000)
                _wait_idle(page)

            compose(1)
            page.get_by_text("Edit paragraph 1").click()
            write = page.get_by_role("button", name=re.compile("Write it")).first
            write.wait_for()
            _wait_idle(page)
            write.click()  # the model proposes a rewrite; the student types their own
            page.get_by_text("The proposal for paragraph 1 is ready").wait_for(timeout=300_000)
            _wait_idle(page)
            proposal = page.get_by_label(re.compile(r"^Proposed \(rewrite\)"))
            if not proposal.is_visible():
                page.get_by_text("Edit paragraph 1").click()
            proposal.fill(marker)
            page.get_by_role("button", name=re.compile("Accept")).click()
            shown.wait(page)  # the paragraph itself, not the text box
            _wait_idle(page)
            screenshot(page, "workspace-article-edited")
            page.reload()  # the edited article is back
            shown.wait(page, 60_000)
            screenshot(page, "workspace-article-reloaded")
            assert page.get_by_role("checkbox", name="Text only").is_checked()  # a workspace setting too
            saved = page.get_by_text(re.compile(r"Saved articles \(1\)"))
            expect(saved).to_be_visible()

            compose(2)  # over the edited article: a new one, the edited one kept
            assert not shown.now(page)  # the new article is shown
            page.get_by_text(re.compile(r"Saved articles \(2\)")).click()
            screenshot(page, "workspace-article-list")
            row = page.get_by_text(marker).first.locator(  # the saved one titled by the edit
                "xpath=ancestor::div[@data-testid='stHorizontalBlock'][1]"
            )
            row.locator("[class*='st-key-xc_cmp_doc_open_'] button").first.click()
            shown.wait(page)  # the edited one, with its edit
            screenshot(page, "workspace-article-reopened")
    finally:
        app.stop()
