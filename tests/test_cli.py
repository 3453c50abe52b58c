"""The terminal chat, run as a real subprocess and in-process."""

from __future__ import annotations

import io

from demo_core.conversation import Conversation
from demo_core.engine.base import GenerationParams
from demo_core.engine.manager import ModelManager
from tests.conftest import run_module


def test_cli_chat_preserves_spaces_exactly(studio_home):
    engine = ModelManager().get("tiny-internlm2")
    conv = Conversation("sys")
    out = io.StringIO()
    params = GenerationParams(max_new_tokens=30, do_sample=False)
    from demo_core.cli import chat_loop

    chat_loop(
        engine, conv, params, ["hello there", "   ", "/clear", "again", "/exit", "never"], out
    )
    text = out.getvalue()
    assert "empty" in text and "(conversation cleared)" in text
    assert [t.role for t in conv.turns] == ["user", "assistant"]
    expected = engine.stream_chat(
        [{"role": "system", "content": "sys"}, {"role": "user", "content": "again"}], params
    ).result()
    assert conv.turns[1].content == expected  # nothing stripped
    assert f"Assistant: {expected}\n" in text


def test_cli_subprocess_end_to_end(studio_home):
    args = ("--model", "tiny-internlm2", "--max-new-tokens", "8", "--seed", "1")
    proc = run_module("demo_core.cli", *args, input="你好\n/exit\n")
    assert proc.returncode == 0, proc.stderr
    assert "Assistant: " in proc.stdout and "noise" in proc.stderr


def test_cli_missing_model_is_a_clear_error(studio_home):
    proc = run_module("demo_core.cli", "--model", "internlm2-chat-7b")
    assert proc.returncode == 2
    assert "not on this machine" in proc.stderr and "Traceback" not in proc.stderr
