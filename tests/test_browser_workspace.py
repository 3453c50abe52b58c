"""The workspace in a real browser: chats survive reloads, server restarts and a SIGKILL
mid-reply; two browsers see only their own; edit / regenerate work on the page."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager

import pytest

from tests.browser import AppProcess, browser_pages, screenshot
from tests.test_browser_chat import _send, main, slow_random_model

pytestmark = pytest.mark.browser


def _reply_done(page, timeout: float = 120_000) -> None:
    main(page).get_by_text("tok/s").first.wait_for(timeout=timeout)


def _wait_db(home, sql: str, timeout_s: float = 120) -> None:
    """Wait until the store holds what ``sql`` asks for (the test reads it from outside)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn = sqlite3.connect(f"file:{home / 'workspace.db'}?mode=ro", uri=True, timeout=5)
            try:
                if conn.execute(sql).fetchone():
                    return
            finally:
                conn.close()
        except sqlite3.Error:
            pass
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


def test_sigkill_mid_stream_keeps_every_message_and_the_partial_reply(tmp_path):
    with _mid_stream(tmp_path, "before the crash") as (home, app, page):
        _wait_db(  # at least one flush of the reply is in the file
            home,
            "SELECT 1 FROM messages WHERE status='streaming' AND length(content) > 0",
        )
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
