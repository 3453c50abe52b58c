"""The first-generation agent: lagent's ReAct protocol, chosen from the model, driving the
same sandboxed kernel -- a scripted InternLM-Chat-7B writing real ReAct text."""

from __future__ import annotations

import re

import pytest

from demo_core.agent.react_agent import internlm1_meta, is_first_generation
from demo_core.agent.session import AgentSession, AgentSettings
from tests.agent_scripted import ScriptedEngine, kernel_registry

pytestmark = pytest.mark.timeout(120)

CSV = "city,sales\nBeijing,120\nShanghai,150\nShenzhen,90\n"


def react_call(code: str, thought: str = "I need to compute this.") -> str:
    """A reply in the ReAct format InternLM-Chat-7B was prompted with in the lesson."""
    return f"Thought: {thought}\nAction: PythonInterpreter\nAction Input: ```python\n{code}\n```\n"


def final(answer: str) -> str:
    return f"Thought: I know the answer now.\nFinal Answer: {answer}\n"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with kernel_registry(tmp_path_factory.mktemp("agent-react")) as reg:
        yield reg


@pytest.fixture
def session(registry):
    s = AgentSession("react1", registry)
    yield s
    s.stop()
    registry.release(s.session_id)


class V1Engine(ScriptedEngine):
    """The scripted engine, rendering v1 chat text (its key makes it first-generation)."""

    def __init__(self, replies) -> None:
        super().__init__(replies, key="internlm-chat-7b")


def test_model_picks_the_protocol():
    assert is_first_generation(V1Engine([]))
    assert not is_first_generation(ScriptedEngine([]))


def test_react_loop_runs_code_in_the_sandbox_and_answers(session):
    info = session.add_upload("sales.csv", CSV.encode())
    seen: list[str] = []

    def write_code(prompt: str) -> str:
        seen.append(prompt)
        path = re.search(r'"path": "([^"]+)"', prompt).group(1)
        return react_call(f"import pandas as pd\nprint(pd.read_csv({path!r})['sales'].sum())")

    def answer(prompt: str) -> str:
        seen.append(prompt)
        # the tool result came back as ReAct's Response, in the v1 chat format
        assert "<|System|>:Response:360" in prompt, prompt[-400:]
        return final("The total is 360.")

    engine = V1Engine([write_code, answer])
    run = session.ask("Total sales?", engine, AgentSettings(model_key="internlm-chat-7b"))
    assert run.wait(60)
    turn = run.turn
    assert turn.status == "done", turn.error
    assert turn.answer == "The total is 360."
    first = turn.steps[0]
    assert first.tool == "interpreter" and "read_csv" in first.code
    assert first.result is not None and "360" in first.result.text_for_model(200)
    # the prompt: lagent's ReAct instructions naming the tool, in the v1 chat format
    p = seen[0]
    assert p.startswith("<s><|System|>:You are a assistant who can utilize external tools.")
    assert "PythonInterpreter" in p and "<|User|>:Total sales?<eoh>\n" in p
    assert p.endswith("<|Bot|>:") and info.name in p
    # the model is stopped before it can invent the tool's answer
    assert "Response:" in engine.params[0].stop_words and "<eoa>" in engine.params[0].stop_words
    assert "<|im_start|>" not in p


def test_sandbox_still_applies(session):
    engine = V1Engine(
        [
            react_call("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)"),
            final("No network."),
        ]
    )
    run = session.ask("Reach the internet", engine, AgentSettings(model_key="internlm-chat-7b"))
    assert run.wait(60)
    step = run.turn.steps[0]
    assert step.result is not None and not step.result.ok
    assert run.turn.answer == "No network."


def test_unknown_tool_is_explained_to_the_model(session):
    def check(prompt: str) -> str:
        assert "There is no tool 'Browser'" in prompt
        return final("ok")

    engine = V1Engine(["Thought: search\nAction: Browser\nAction Input: x\n", check])
    run = session.ask("q", engine, AgentSettings(model_key="internlm-chat-7b"))
    assert run.wait(60) and run.turn.status == "done", run.turn.error


def test_meta_template_follows_the_release_format():
    eoh = internlm1_meta("eoh")
    assert eoh[1]["end"] == "<eoh>\n" and eoh[2]["end"] == "<eoa>\n"
    assert internlm1_meta("v1.1")[1]["end"] == "\n"
