"""Real server + headless Chromium: two tabs on one model stream at the same time (batched
decoding), and each Stop stops only its own reply."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser import browser_pages, running_app, sampling_slider_to_lowest, screenshot
from tests.test_browser_chat import _send, _stop, _stop_mid_reply, slow_random_model

pytestmark = pytest.mark.browser

STREAMING = "() => document.body.innerText.includes('▌')"


def _no_repetition_penalty(page) -> None:
    """Slide the repetition penalty to 1.0 (its minimum): such a reply may batch; the
    lesson's 1.005 runs alone (transformers' continuous batching has no penalty)."""
    sampling_slider_to_lowest(page, "Repetition penalty", "1")


def test_two_tabs_stream_together_and_stop_alone(tmp_path):
    slow_random_model(tmp_path / "home")
    with running_app(tmp_path / "home") as url, browser_pages(2) as (first, second):
        for page in (first, second):
            page.goto(f"{url}/Story_Chat")
            page.get_by_test_id("stChatInputTextArea").wait_for()
            _no_repetition_penalty(page)
        _send(first, "first student")
        first.wait_for_function(STREAMING, timeout=180_000)  # loads the model first
        _send(second, "second student")
        second.wait_for_function(STREAMING, timeout=60_000)  # streams while the first does
        assert second.get_by_text("ahead of you").count() == 0
        first.wait_for_function(STREAMING)  # ...and the first still streams too
        screenshot(first, "batched-first-tab")
        screenshot(second, "batched-second-tab")
        # the random model may end the first reply by itself before the click lands (CI,
        # loaded machine): then it asks again, beside the second one, and stops that
        _stop_mid_reply(first)
        # the other tab's reply is untouched: still streaming, or finished by itself
        second.wait_for_function(
            "() => document.body.innerText.includes('▌')"
            " || document.body.innerText.includes('tok/s')"
        )
        assert second.get_by_text("stopped").count() == 0
        screenshot(second, "batched-second-after-first-stop")
        if second.evaluate(STREAMING):
            try:
                _stop(second, timeout=5_000)
            except PlaywrightError:  # it ended by itself (its Stop button went) first
                pass
            second.wait_for_function(
                "() => document.body.innerText.includes('⏹ stopped')"
                " || !document.body.innerText.includes('▌')"
            )
        assert first.get_by_text("⏹ stopped").count() == 1  # its own Stop only, once
