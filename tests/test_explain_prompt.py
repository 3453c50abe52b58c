"""The prompt view shows the engine's real input ids, token for token.

A tiny random model is given InternLM2's real tokenizer (the fixture, copied into a temp
folder with tiny weights of the real vocabulary size), so the ids are the ones the 1.8B
and 7B models get; the view's runs, joined, are those ids; roles and left-out messages
are read off the real special tokens.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
from safetensors.torch import save_file

from demo_core.engine.base import EngineInfo, GenerationParams
from demo_core.engine.local import TransformersEngine
from demo_core.engine.trace import Trace, piece_text
from demo_core.explain.prompt_view import left_out, segments, token_roles
from demo_core.internlm2.loader import load_internlm2
from demo_core.internlm2.tiny import random_internlm2_weights, tiny_config

GREEDY = GenerationParams(max_new_tokens=4, do_sample=False, explain=True)


@pytest.fixture(scope="module")
def real_vocab_engine(real_tokenizer_dir, tmp_path_factory):
    """Tiny weights (hidden 32) under InternLM2's real tokenizer and vocabulary size."""
    dest = tmp_path_factory.mktemp("real-vocab") / "tiny-real-tokenizer"
    dest.mkdir()
    for name in ("tokenizer.model", "tokenizer_config.json"):
        shutil.copy(real_tokenizer_dir / name, dest / name)
    cfg = tiny_config(
        92544,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    (dest / "config.json").write_text(json.dumps(cfg))
    save_file(random_internlm2_weights(cfg, seed=1), str(dest / "model.safetensors"))
    lm = load_internlm2(dest)
    return TransformersEngine(
        lm, EngineInfo("tiny-real", "Tiny", "transformers", context_window=256)
    )


def _piece(engine):
    return lambda i: piece_text(engine.tokenizer, i)


def test_prompt_view_is_the_engine_input_token_for_token(real_vocab_engine):
    e = real_vocab_engine
    msgs = [
        {"role": "system", "content": "You are InternLM (书生·浦语)."},
        {"role": "user", "content": "请创作一个 300 字的小故事"},
        {"role": "assistant", "content": "从前有一座山。"},
        {"role": "user", "content": "Another one,  please.\n\nThanks!"},
    ]
    gen = e.stream_chat(msgs, GREEDY)
    gen.result()
    ids = gen.trace.prompt_ids
    official = e.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)
    assert ids == official["input_ids"]  # the real template, the real ids
    segs = segments(gen.trace, _piece(e))
    assert [t for s in segs for t in s.ids] == ids
    assert [s.role for s in segs] == ["special", "system", "user", "assistant", "user", "assistant"]
    assert segs[0].ids == [1]
    assert segs[1].ids[0] == 92543 and segs[1].ids[-2:] == [92542, 364]  # <|im_end|>\n
    assert sum(s.size for s in segs) == gen.trace.prompt_tokens == gen.stats.prompt_tokens
    # each run decodes to exactly its message as the template writes it
    text = e.tokenizer.decode(segs[2].ids, skip_special_tokens=False)
    assert text == "<|im_start|>user\n请创作一个 300 字的小故事<|im_end|>\n"
    assert left_out(gen.trace) == []


def test_what_did_not_fit_is_left_out(real_vocab_engine):
    e = real_vocab_engine
    old = [
        {"role": "user", "content": "old question " * 80},
        {"role": "assistant", "content": "old answer " * 80},
    ]
    msgs = [{"role": "system", "content": "sys"}, *old, {"role": "user", "content": "new"}]
    gen = e.stream_chat(msgs, GREEDY)  # window 256: the old pair cannot stay
    gen.result()
    assert gen.trace.dropped == 2 and left_out(gen.trace) == old
    kept = [msgs[0], msgs[-1]]
    official = e.tokenizer.apply_chat_template(kept, add_generation_prompt=True, tokenize=True)
    assert gen.trace.prompt_ids == official["input_ids"]


def test_agent_tool_call_and_result_runs(real_vocab_engine):
    e = real_vocab_engine
    prompt = (
        "<s><|im_start|>system\nYou can run code.<|im_end|>\n<|im_start|>user\nplot it<|im_end|>\n"
        "<|im_start|>assistant\nLet me look.<|action_start|><|interpreter|>\n```python\nprint(1)\n"
        "```<|action_end|>\n<|im_end|>\n<|im_start|>environment name=<|interpreter|>\n1<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    gen = e.stream_text(prompt, replace(GREEDY, keep_special_tokens=True))
    gen.result()
    assert gen.trace.prompt_ids == e.encode(prompt)
    segs = segments(gen.trace, _piece(e))
    roles = [s.role for s in segs]
    assert roles == [
        "special",
        "system",
        "user",
        "assistant",
        "tool_call",
        "assistant",
        "environment",
        "assistant",
    ]
    call = segs[4].ids
    assert call[:2] == [92541, 92539] and call[-1] == 92540  # <|action_start|><|interpreter|>
    assert 92539 in segs[6].ids  # environment name=<|interpreter|>


def test_image_spans_are_their_own_runs():
    trace = Trace()

    class Interleaved:
        parts = [[1, 5, 6], 0, [7], 1, [8]]

    trace.set_prompt(Interleaved(), tokens_per_image=1225)
    segs = segments(trace, lambda i: f"t{i}")
    assert [(s.role, s.image, s.size) for s in segs] == [
        ("special", None, 3),
        ("image", 0, 1225),
        ("special", None, 1),
        ("image", 1, 1225),
        ("special", None, 1),
    ]
    assert trace.prompt_tokens == 5 + 2 * 1225


def test_roles_without_a_tokenizer():
    pieces = [
        "<s>",
        "<|im_start|>",
        "user",
        "\n",
        "hi",
        "<|im_end|>",
        "\n",
        "<|im_start|>",
        "assistant",
        "\n",
    ]
    assert token_roles(pieces) == ["special", *["user"] * 6, *["assistant"] * 3]
