"""The "How it works" recorder: what it stores is what the model computed.

Each recorded step's top-k is checked against an independent plain forward pass over the
prompt plus the tokens before it, through the same transformers processors; the prompt
ids are the engine's own; recording changes no token of a seeded or greedy reply.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from demo_core.engine.base import EngineInfo, GenerationParams
from demo_core.engine.local import TransformersEngine
from demo_core.engine.recorder import TOP_K, reference_distribution
from demo_core.internlm2.loader import load_internlm2

MSGS = [
    {"role": "system", "content": "You are InternLM."},
    {"role": "user", "content": "Write a story about the sea."},
]


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    lm = load_internlm2(tiny_model_dir)
    return TransformersEngine(
        lm, EngineInfo("tiny", "Tiny", "transformers", context_window=lm.context_window)
    )


SETTINGS = [
    GenerationParams(max_new_tokens=12, do_sample=False, repetition_penalty=1.0),
    GenerationParams(max_new_tokens=12, do_sample=False, repetition_penalty=1.3),
    GenerationParams(max_new_tokens=12, temperature=0.7, top_p=0.8, top_k=40, seed=8909),
    GenerationParams(
        max_new_tokens=12, temperature=1.6, top_p=0.95, top_k=5, repetition_penalty=1.2, seed=3
    ),
]


@pytest.mark.parametrize("params", SETTINGS, ids=["greedy", "greedy-penalty", "lesson", "hot"])
def test_recorded_top_k_equals_a_separate_forward_pass(engine, params):
    gen = engine.stream_chat(MSGS, replace(params, explain=True))
    gen.result()
    trace = gen.trace
    assert trace is not None and trace.source == "transformers"
    steps = trace.token_steps()
    ids = trace.prompt_ids
    assert ids == engine.encode(engine.render_chat(MSGS))  # the engine's real input
    assert len(steps) == gen.stats.new_tokens > 0
    for step in steps:
        ref = reference_distribution(engine.model, ids, params)
        got = [(a.token_id, a.prob) for a in step.top]
        assert len(got) == min(TOP_K, sum(1 for _, p in ref if p > 0))
        for (rid, rp), (gid, gp) in zip(ref, got, strict=False):
            assert gp == pytest.approx(rp, abs=1e-5)
            if rp > 1e-4:  # ties between tiny probabilities may swap places
                assert rid == gid or gp == pytest.approx(dict(ref).get(gid, -1), abs=1e-5)
        # what was drawn had that probability; raw greedy is the argmax of the raw logits
        assert step.prob == pytest.approx(
            dict(reference_distribution(engine.model, ids, params, k=10**6))[step.token_id],
            abs=1e-5,
        )
        untouched = replace(params, do_sample=False, repetition_penalty=1.0)
        raw = reference_distribution(engine.model, ids, untouched, k=1)
        assert step.greedy_id == raw[0][0]
        assert step.greedy_prob == pytest.approx(raw[0][1], abs=1e-5)
        ids = [*ids, step.token_id]


def test_recording_changes_no_token(engine):
    for params in SETTINGS:
        plain = engine.stream_chat(MSGS, params).result()
        explained = engine.stream_chat(MSGS, replace(params, explain=True))
        assert explained.result() == plain
        assert explained.trace is not None


def test_off_by_default_records_nothing(engine):
    gen = engine.stream_chat(MSGS, SETTINGS[0])
    gen.result()
    assert gen.trace is None


def test_unseeded_sampling_records_what_it_drew(engine):
    params = GenerationParams(max_new_tokens=8, temperature=1.0, top_p=1.0, top_k=0, explain=True)
    gen = engine.stream_chat(MSGS, params)
    text = gen.result()
    steps = gen.trace.token_steps()
    assert len(steps) == gen.stats.new_tokens
    # (not compared as text: the random model draws lone UTF-8 bytes, which the streaming
    # decoder and a one-shot decode spell differently)
    drawn = [s.token_id for s in steps if s.token_id not in engine.loaded.stop_ids]
    assert len(drawn) <= len(steps) and isinstance(text, str)
    assert all(0 < s.prob <= 1 for s in steps)


def test_step_mode_continues_exact_ids(engine):
    ids = engine.encode(engine.render_chat(MSGS))
    params = GenerationParams(max_new_tokens=1, do_sample=False, explain=True)
    gen = engine.stream_ids(ids, params)
    gen.result()
    (step,) = gen.trace.token_steps()
    assert gen.trace.prompt_ids == ids
    assert step.token_id == reference_distribution(engine.model, ids, params, k=1)[0][0]
