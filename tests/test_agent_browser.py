"""The data-agent page in a real browser: upload, ask, code runs in the sandbox, the table,
plot and answer come back; and the consent flow where no sandbox can be had."""

from __future__ import annotations

import pytest

from demo_core.agent import sandbox
from tests.browser import browser_page, running_app, screenshot

pytestmark = [pytest.mark.timeout(600), pytest.mark.browser]

CSV = b"city,sales\nA,3\nB,5\n"


def _ask(page, tmp_path, question: str) -> None:
    data = tmp_path / "sales.csv"
    data.write_bytes(CSV)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(data))
    page.get_by_text("sales.csv is ready").wait_for(timeout=60_000)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    page.get_by_text("The total sales are 8.").wait_for(timeout=180_000)
    # the run is over when the input is back (the page redraws the finished turn)
    page.wait_for_function(
        """() => { const t = document.querySelector("[data-testid='stChatInputTextArea']");
           return t && !t.disabled && t.placeholder.startsWith('Ask'); }""",
        timeout=120_000,
    )


def test_scripted_analysis_runs_in_the_sandbox(tmp_path):
    if not sandbox.availability().ok:
        pytest.skip(sandbox.availability().reason)
    home = tmp_path / "home"
    home.mkdir()
    env = {"DEMO_STUDIO_AGENT_DIR": str(tmp_path / "sessions")}
    with (
        running_app(home, env, script="tests/agent_scripted_app.py") as url,
        browser_page() as page,
    ):
        page.goto(url)
        page.get_by_text("Sandboxed (bubblewrap)").wait_for(timeout=60_000)
        _ask(page, tmp_path, "What are the total sales?")
        page.get_by_text("total 8").wait_for()
        page.locator("[data-testid='stImage'] img").first.wait_for()
        page.locator("[data-testid='stDataFrame']").first.wait_for()
        assert page.get_by_text("The Python kernel had stopped").count() == 0
        screenshot(page, "agent-sandboxed-analysis")


def test_without_bubblewrap_the_page_asks_first(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"DEMO_STUDIO_AGENT_DIR": str(tmp_path / "sessions"), sandbox.NO_BWRAP_ENV: "1"}
    with (
        running_app(home, env, script="tests/agent_scripted_app.py") as url,
        browser_page() as page,
    ):
        page.goto(url)
        page.get_by_text("No sandbox on this machine.").wait_for(timeout=60_000)
        assert page.get_by_test_id("stChatInputTextArea").is_disabled()
        screenshot(page, "agent-no-sandbox-warning")
        page.get_by_role("button", name="I understand: run code without a sandbox").click()
        page.get_by_text("No sandbox: code runs with the app's rights").wait_for()
        _ask(page, tmp_path, "What are the total sales?")
        page.get_by_text("total 8").wait_for()
        screenshot(page, "agent-no-sandbox-after-consent")
