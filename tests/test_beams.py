"""Beam search ("Beam Size" of the XComposer2 demos, the chat's Beams) on the real tiny
InternLM2 through the engine: the same text as transformers' own beam search, never in
the continuous batch, Stop still works, seeded beam sampling is reproducible."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import torch

from demo_core.engine.base import EngineInfo, GenerationParams
from demo_core.engine.batching import batch_blockers
from demo_core.engine.local import TransformersEngine
from demo_core.internlm2.loader import load_internlm2

MSGS = [{"role": "user", "content": "Write a story."}]
BEAMS2 = GenerationParams(max_new_tokens=30, do_sample=False, num_beams=2)


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    lm = load_internlm2(tiny_model_dir)
    e = TransformersEngine(
        lm, EngineInfo("tiny", "Tiny", "transformers", context_window=lm.context_window)
    )
    yield e
    e.close()


def generate_direct(engine, params: GenerationParams, **inputs) -> list[int]:
    """transformers' own ``generate(num_beams=N, do_sample=False)`` on the engine's model:
    the new token ids (``inputs``: ``input_ids`` or ``inputs_embeds``...)."""
    out = engine.model.generate(
        **inputs,
        max_new_tokens=params.max_new_tokens,
        do_sample=False,
        num_beams=params.num_beams,
        repetition_penalty=params.repetition_penalty,
        eos_token_id=engine.loaded.stop_ids,
        pad_token_id=engine.model.generation_config.pad_token_id,
    )
    return out[0, inputs["input_ids"].shape[1] if "input_ids" in inputs else 0 :].tolist()


def test_two_beams_give_transformers_beam_search_text(engine):
    gen = engine.stream_chat(MSGS, BEAMS2)
    kinds = []
    for kind, _value in gen.events():
        if kind == "steps" and "steps" not in kinds:
            # the speed is the search's: timed from its first step, not from the moment
            # the text came (which gave 95,000 tok/s)
            assert gen.stats.ttft_s is not None and gen.text == ""
        kinds.append(kind)
    text = gen.result()
    assert kinds.index("steps") < kinds.index("text")
    ids = engine.encode(engine.render_chat(MSGS))
    new = generate_direct(engine, BEAMS2, input_ids=torch.tensor([ids]))
    keep = [t for t in new if t not in engine.loaded.stop_ids]
    assert text == engine.tokenizer.decode(keep, skip_special_tokens=True)
    # negative control: beam search is not greedy decoding on this model and prompt
    greedy = engine.stream_chat(MSGS, replace(BEAMS2, num_beams=1)).result()
    assert greedy != text
    # the text came at once, after the steps were counted
    assert gen.steps_done >= 1 and gen.stats.new_tokens == len(new)


def test_beam_requests_never_join_the_batch(engine, monkeypatch):
    assert batch_blockers(GenerationParams(repetition_penalty=1.0, do_sample=False)) == []
    beams = GenerationParams(repetition_penalty=1.0, do_sample=False, num_beams=3)
    assert batch_blockers(beams) == ["beam search"]
    assert engine.batcher is not None and engine._batch_weight([1, 2, 3], beams) is None
    submitted = []
    monkeypatch.setattr(engine.batcher, "submit", lambda *a, **k: submitted.append(a))
    assert engine.stream_chat(MSGS, replace(beams, max_new_tokens=8)).result()
    assert submitted == []


def test_stop_ends_a_beam_search_and_keeps_the_best_beam_so_far(engine):
    p = replace(BEAMS2, max_new_tokens=300)
    gen = engine.stream_chat(MSGS, p)
    deadline = time.monotonic() + 120
    while gen.steps_done < 3:
        assert time.monotonic() < deadline and not gen.done
        time.sleep(0.005)
    gen.cancel()
    text = gen.result()
    assert gen.stats.finish_reason == "cancelled"
    assert 0 < gen.stats.new_tokens < 300 and text


def test_seeded_beam_sampling_is_reproducible_and_leaves_the_generator(engine):
    p = GenerationParams(max_new_tokens=30, temperature=1.0, num_beams=2, seed=5)
    state = torch.get_rng_state()
    a, b = engine.stream_chat(MSGS, p).result(), engine.stream_chat(MSGS, p).result()
    assert torch.equal(torch.get_rng_state(), state)
    assert a == b
    assert a != engine.stream_chat(MSGS, replace(p, seed=6)).result()


def test_how_it_works_says_why_a_beam_search_has_no_token_steps(engine):
    gen = engine.stream_chat(MSGS, replace(BEAMS2, explain=True))
    gen.result()
    assert gen.trace is not None and gen.trace.parts  # the real prompt is still shown
    assert gen.trace.token_steps() == [] and "best of 2 candidate" in gen.trace.note
