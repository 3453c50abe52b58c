"""Real server + headless Chromium for issue 15: a first-generation model in the story chat
and as a persona, the ReAct agent with a scripted model, an OpenXLab download cancelled and
resumed, and the config.json homework from each of the three sources."""

from __future__ import annotations

import json
import re

import pytest

from demo_core.internlm1.tiny import build_tiny_internlm1
from tests.browser import browser_page, running_app, screenshot
from tests.hubserver import HubStandIn, Repo
from tests.openxlab_server import OpenXLabStandIn
from tests.scripted_completions import ScriptedCompletions

pytestmark = pytest.mark.browser

TINY_V1 = re.compile(r"Tiny random InternLM, first generation")


def _send(page, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")


def _select(page, key: str, option, typed: str = "") -> None:
    """Pick an option; ``typed`` filters a long (virtualised) list first.

    The box may be redrawn by the rerun a click before it started (a radio just picked), which
    closes its list again: wait until the app is idle, and open the list once more if needed."""
    _wait_idle(page)
    box = page.locator(f".st-key-{key} [data-testid='stSelectbox']")
    wanted = page.get_by_role("option", name=option).first
    for attempt in range(3):
        box.click()
        if typed:
            page.keyboard.type(typed)
        try:
            wanted.wait_for(timeout=10_000)
            break
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            _wait_idle(page)
    wanted.click()


def _fill(page, key: str, text: str) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(text)
    box.press("Enter")


def _wait_idle(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )


def test_story_chat_with_a_tiny_first_generation_model(tmp_path):
    with running_app(tmp_path / "home") as url, browser_page() as page:
        page.goto(f"{url}/Story_Chat")
        page.get_by_test_id("stChatInputTextArea").wait_for(timeout=180_000)
        _select(page, "story_model", TINY_V1, typed="Tiny random InternLM, first")
        page.get_by_text("Tiny random test model").first.wait_for()
        _send(page, "请写一个 300 字的小故事")
        page.get_by_text("tok/s").wait_for(timeout=90_000)
        assert page.get_by_test_id("stChatMessage").count() == 2
        screenshot(page, "i15-story-chat-v1")


def test_persona_on_a_first_generation_model(tmp_path):
    with running_app(tmp_path / "home") as url, browser_page() as page:
        page.goto(f"{url}/Bajie")
        page.get_by_text("俺老猪来也").wait_for(timeout=180_000)
        page.get_by_text(TINY_V1).first.click()  # "Model playing this persona" radio
        page.get_by_text("Running the tiny random test model").wait_for()
        _send(page, "师父在哪里？")
        page.get_by_text("tok/s").wait_for(timeout=90_000)
        screenshot(page, "i15-bajie-persona-v1")


def test_react_agent_loop_with_a_scripted_first_generation_model(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    replies = [
        "Thought: I should add the numbers with Python.\nAction: PythonInterpreter\n"
        "Action Input: ```python\nprint(sum([120, 150, 90]))\n```\n",
        "Thought: The interpreter said 360.\nFinal Answer: The total is 360.\n",
    ]
    with ScriptedCompletions(replies) as llm:
        settings = {
            "models": {
                "internlm-chat-7b": {
                    "backend": "openai",
                    "base_url": llm.base_url,
                    "model": "internlm-chat-7b",
                    "context_window": 4096,
                }
            }
        }
        (home / "settings.json").write_text(json.dumps(settings))
        with running_app(home) as url, browser_page() as page:
            page.goto(f"{url}/Data_Agent")
            # the first visit imports lagent and starts the kernel registry: slow on CI
            page.get_by_test_id("stChatInputTextArea").wait_for(timeout=180_000)
            _select(
                page, "data_agent_model", re.compile("InternLM-Chat-7B"), typed="InternLM-Chat-7B"
            )
            page.get_by_text("speaks lagent's ReAct protocol").wait_for()
            _send(page, "What is 120 + 150 + 90?")
            page.get_by_text("The total is 360.").wait_for(timeout=120_000)
            _wait_idle(page)
            screenshot(page, "i15-agent-react")
        assert len(llm.prompts) == 2
        first, second = llm.prompts
        assert "PythonInterpreter" in first and "<|User|>:What is 120 + 150 + 90?<eoh>" in first
        assert "<|System|>:Response:360" in second


def test_openxlab_download_cancelled_and_resumed(tmp_path):
    # one weights file holding nearly every byte, so Cancel lands inside it
    folder = build_tiny_internlm1(
        tmp_path / "m",
        release="chat-7b",
        weights_format="bin",
        hidden_size=256,
        intermediate_size=512,
    )
    files = Repo.from_folder(folder).files
    shard = "pytorch_model.bin"
    with OpenXLabStandIn({"OpenLMLab/InternLM-chat-7b": Repo(files=files)}) as srv:
        srv.faults.throttle_s = 0.02  # ~0.8 MB/s: the shards take a few seconds
        with running_app(tmp_path / "home") as url, browser_page() as page:
            page.goto(f"{url}/Models")
            page.get_by_role("button", name="Start download").wait_for(timeout=180_000)
            _select(
                page,
                "models_choice",
                re.compile(r"InternLM-Chat-7B \(first generation\)"),
                typed="InternLM-Chat-7B (first",
            )
            page.locator(".st-key-models_what").get_by_text("Whole model").click()
            page.locator(".st-key-models_source").get_by_text("OpenXLab").click()
            _select(page, "models_endpoint_choice_openxlab", "Custom URL")
            _fill(page, "models_endpoint_url_openxlab", srv.endpoint)
            page.get_by_role("button", name="Start download").click()
            page.get_by_role("button", name="Cancel").wait_for(timeout=30_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=\"stProgress\"]')]"
                ".some(p => /[1-9][0-9.]* MB \\//.test(p.innerText))",
                timeout=30_000,
            )
            screenshot(page, "i15-openxlab-downloading")
            page.get_by_role("button", name="Cancel").click()
            page.get_by_text("Cancelled.").wait_for(timeout=30_000)
            screenshot(page, "i15-openxlab-cancelled")
            srv.faults.throttle_s = 0.0
            page.get_by_role("button", name="Start download").click()
            page.get_by_text("Done:").wait_for(timeout=60_000)
            screenshot(page, "i15-openxlab-resumed")
        ranged = [
            r["headers"].get("range", "")
            for r in srv.log
            if r["role"] == "cdn" and r["headers"].get("range", "") not in ("", "bytes=0-0")
        ]
        cdn = [(r["path"][5:15], r["headers"].get("range")) for r in srv.log if r["role"] == "cdn"]
        assert any(re.fullmatch(r"bytes=[1-9]\d*-", r) for r in ranged), cdn
    dest = tmp_path / "home" / "models" / "internlm-chat-7b"
    assert (dest / shard).read_bytes() == files[shard]


def test_config_json_homework_from_each_source(tmp_path):
    repo = Repo.from_folder(build_tiny_internlm1(tmp_path / "m", release="20b"))
    hub_repos = {"internlm/internlm-20b": repo, "Shanghai_AI_Laboratory/internlm-20b": repo}
    with (
        HubStandIn(hub_repos) as hub,
        OpenXLabStandIn({"OpenLMLab/InternLM-20b": repo}) as oxl,
        running_app(tmp_path / "home") as url,
        browser_page() as page,
    ):
        page.goto(f"{url}/Models")
        page.get_by_text("Homework: download config.json").wait_for(timeout=180_000)
        for source, label, endpoint, repo_id in (
            ("hf", "Hugging Face", hub.url, "internlm/internlm-20b"),
            ("modelscope", "ModelScope", hub.url, "Shanghai_AI_Laboratory/internlm-20b"),
            ("openxlab", "OpenXLab", oxl.endpoint, "OpenLMLab/InternLM-20b"),
        ):
            page.locator(".st-key-homework_source").get_by_text(label).click()
            _select(page, f"homework_endpoint_choice_{source}", "Custom URL")
            _fill(page, f"homework_endpoint_url_{source}", endpoint)
            button = page.get_by_role("button", name=f"Download config.json of {repo_id}")
            button.click()
            result = page.locator(".st-key-homework_result")
            result.get_by_text(f"of {repo_id} from {label}").wait_for(timeout=30_000)
            result.get_by_text("Saved to").wait_for(timeout=30_000)
            assert '"model_type": "internlm"' in result.inner_text()
            page.locator(".st-key-homework_result").scroll_into_view_if_needed()
            screenshot(page, f"i15-homework-{source}")
