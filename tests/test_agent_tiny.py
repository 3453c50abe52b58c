"""The lagent adapter on the real engine: tiny random InternLM2 through the same loader,
generation and streaming code as the 7B, and the real tokenizer for the protocol tokens."""

from __future__ import annotations

import os

import pytest
import torch
from lagent.schema import ModelStatusCode

from demo_core.agent.agent import DataAgent, make_protocol
from demo_core.agent.kernel import KernelLimits
from demo_core.agent.llm import EngineLLM
from demo_core.agent.registry import KernelRegistry
from demo_core.agent.session import AgentSession, AgentSettings
from demo_core.engine.base import CancelToken, GenerationParams
from demo_core.engine.manager import _load_internlm2
from demo_core.internlm2.loader import load_tokenizer
from demo_core.specs import get_spec

pytestmark = pytest.mark.timeout(300)

MESSAGES = [
    {"role": "user", "content": "Plot the data"},
    {"role": "user", "name": "file", "content": '{"path": "/data/a.csv", "size": "1 KB"}'},
]


@pytest.fixture(scope="module")
def tiny_engine(tiny_model_dir):
    return _load_internlm2(get_spec("tiny-internlm2"), tiny_model_dir, torch.device("cpu"))


def small(n: int = 24) -> GenerationParams:
    return GenerationParams(max_new_tokens=n, temperature=0.0, do_sample=False, stop_words=())


def test_adapter_streams_from_the_real_engine(tiny_engine):
    llm = EngineLLM(tiny_engine, small())
    prompt = make_protocol().format(inner_step=MESSAGES)
    states, texts = [], []
    for state, text, _ in llm.stream_chat(prompt):
        states.append(state)
        texts.append(text)
    assert states[-1] == ModelStatusCode.END
    assert all(s == ModelStatusCode.STREAM_ING for s in states[:-1])
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))  # cumulative
    assert 0 < llm.last_stats.new_tokens <= 24
    assert "<|im_end|>" not in texts[-1]
    # the prompt went in token-exact: each protocol marker is one special token
    ids = tiny_engine.encode(llm.last_prompt)
    tok = tiny_engine.tokenizer
    for marker in ("<|im_start|>", "<|im_end|>"):
        assert ids.count(tok.convert_tokens_to_ids(marker)) == llm.last_prompt.count(marker)
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1


def test_adapter_cancel_and_blocking_generate(tiny_engine):
    llm = EngineLLM(tiny_engine, small(200))
    llm.cancel = CancelToken()
    llm.cancel.cancel()
    states = [s for s, _, _ in llm.stream_chat(MESSAGES)]
    assert states[-1] == ModelStatusCode.SESSION_CLOSED
    llm.cancel = CancelToken()
    text = llm.chat(MESSAGES, max_new_tokens=8)
    assert isinstance(text, str)


def test_prompt_too_long_is_a_clear_status(tiny_engine):
    llm = EngineLLM(tiny_engine, small())
    huge = [{"role": "user", "content": "word " * 5000}]
    states = [s for s, _, _ in llm.stream_chat(huge)]
    assert states == [ModelStatusCode.SESSION_OUT_OF_LIMIT]
    assert "context window" in llm.last_error


def test_tiny_model_drives_the_agent_end_to_end(tiny_engine, tmp_path):
    """Its answer is noise; what matters is that every step of the real path runs and
    the turn ends cleanly (no crash on whatever tokens it emits)."""
    os.chmod(tmp_path, 0o711)
    reg = KernelRegistry(tmp_path, KernelLimits(timeout_s=5))
    try:
        session = AgentSession("tiny", reg)
        session.add_upload("d.csv", b"a,b\n1,2\n")
        for seed in range(3):
            settings = AgentSettings(
                max_turns=2,
                params=small(40),
                meta_prompt="Answer.",
                interpreter_prompt="Run Python.",
            )
            settings.params.seed = seed
            run = session.ask(f"question {seed}", tiny_engine, settings)
            assert run.wait(120)
            assert run.turn.status in ("done",), run.turn.error
            assert run.turn.steps
        assert "question 2" in session.transcript()
        # default prompts + the plugin list do not fit the tiny model's 1024 tokens: told so
        run = session.ask(
            "q", tiny_engine, AgentSettings(params=small(40), plugins=("Calculator",))
        )
        assert run.wait(60) and run.turn.status == "error"
        assert "Shorten the prompts" in run.turn.error
    finally:
        reg.shutdown_all()


def test_protocol_tokens_with_the_real_tokenizer(real_tokenizer_dir):
    """The rendered agent prompt uses InternLM2's real special ids (DESIGN.md)."""
    tok = load_tokenizer(real_tokenizer_dir)

    class _Engine:  # only what the adapter's rendering needs
        tokenizer = tok
        info = type("I", (), {"key": "internlm2-chat-7b", "context_window": 32768})()

    llm = EngineLLM(_Engine())  # type: ignore[arg-type]
    agent_steps = MESSAGES + [
        {"role": "language", "content": "Let me look."},
        {
            "role": "tool",
            "name": "interpreter",
            "content": {"name": "X", "parameters": {"command": "```python\nprint(1)\n```"}},
        },
        {"role": "environment", "name": "interpreter", "content": "1"},
    ]
    from lagent.actions import ActionExecutor

    from demo_core.agent.actions import SandboxInterpreter

    ex = ActionExecutor([SandboxInterpreter(lambda: None)])
    agent = DataAgent(llm, interpreter_executor=ex)
    prompt = llm.render(agent._protocol.format(inner_step=agent_steps, interpreter_executor=ex))
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    assert ids[0] == 1
    for token_id in (92543, 92542, 92541, 92540, 92539):
        assert token_id in ids
    assert "<|im_start|>environment name=<|interpreter|>\n1<|im_end|>" in prompt
    assert (
        "Let me look.<|action_start|><|interpreter|>\n```python\nprint(1)\n```<|action_end|>"
        in prompt
    )
