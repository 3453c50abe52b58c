"""The chat template and context fitting, token for token against the real tokenizer."""

from __future__ import annotations

import pytest

from demo_core.engine.base import PromptTooLong
from demo_core.internlm2.loader import load_tokenizer, stop_ids_for
from demo_core.internlm2.template import fit_to_context, render_chat

OFFICIAL_IDS = [
    1,
    92543,
    9081,
    364,
    7930,
    92542,
    364,
    92543,
    1008,
    364,
    77230,
    92542,
    364,
    92543,
    525,
    11353,
    364,
]


def test_render_matches_design_string():
    text = render_chat([{"role": "system", "content": "sys"}, {"role": "user", "content": "你好"}])
    assert (
        text
        == "<s><|im_start|>system\nsys<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"
    )


def test_real_tokenizer_token_exact(real_tokenizer_dir):
    tok = load_tokenizer(real_tokenizer_dir)
    msgs = [{"role": "system", "content": "sys"}, {"role": "user", "content": "你好"}]
    ours = tok(render_chat(msgs), add_special_tokens=False)["input_ids"]
    assert ours == OFFICIAL_IDS
    official = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)["input_ids"]
    assert ours == official
    assert stop_ids_for(tok) == [2, 92542]


def test_multi_turn_equals_official_template(real_tokenizer_dir):
    tok = load_tokenizer(real_tokenizer_dir)
    msgs = [
        {"role": "system", "content": "You are InternLM (书生·浦语)."},
        {"role": "user", "content": "Write a story  with   spaces.\n\nTwo lines."},
        {"role": "assistant", "content": "Once upon a time 🐷…"},
        {"role": "user", "content": "再来一个"},
    ]
    ours = tok(render_chat(msgs), add_special_tokens=False)["input_ids"]
    assert (
        ours
        == tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)["input_ids"]
    )


def _words(text: str) -> int:
    return len(text.split())


def test_fit_drops_oldest_turns_keeps_system_and_newest():
    msgs = [{"role": "system", "content": "s " * 10}]
    for i in range(10):
        msgs += [
            {"role": "user", "content": f"u{i} " * 20},
            {"role": "assistant", "content": f"a{i} " * 20},
        ]
    msgs.append({"role": "user", "content": "last question"})
    fitted = fit_to_context(msgs, _words, context_window=200, max_new_tokens=50)
    assert fitted.messages[0]["role"] == "system"
    assert fitted.messages[-1]["content"] == "last question"
    assert fitted.dropped > 0 and fitted.dropped % 2 == 0
    assert fitted.prompt_tokens + 50 <= 200
    assert fitted.messages[1]["role"] == "user"  # pairs dropped together


def test_fit_shrinks_answer_budget_and_rejects_impossible():
    msgs = [{"role": "user", "content": "x " * 120}]
    fitted = fit_to_context(msgs, _words, context_window=200, max_new_tokens=1000)
    assert fitted.max_new_tokens == 200 - fitted.prompt_tokens
    with pytest.raises(PromptTooLong, match="too long"):
        fit_to_context([{"role": "user", "content": "x " * 500}], _words, 200, 50)
    with pytest.raises(PromptTooLong):
        fit_to_context([], _words, 200, 50)
