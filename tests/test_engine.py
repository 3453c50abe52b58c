"""The in-process engine: streaming, cancel, stop words, stats, errors -- on a real tiny model."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
import torch

from demo_core.engine.base import CancelToken, EngineInfo, GenerationParams, OutOfMemory
from demo_core.engine.local import TransformersEngine
from demo_core.engine.streaming import IncrementalDecoder, find_stop_word, partial_stop_suffix
from demo_core.internlm2.loader import load_internlm2, load_tokenizer

GREEDY = GenerationParams(max_new_tokens=24, do_sample=False)


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    lm = load_internlm2(tiny_model_dir)
    return TransformersEngine(
        lm, EngineInfo("tiny", "Tiny", "transformers", context_window=lm.context_window)
    )


def test_stream_equals_plain_generate(engine):
    msgs = [{"role": "user", "content": "Write a story."}]
    gen = engine.stream_chat(msgs, GREEDY)
    deltas = list(gen)
    assert gen.error is None and len(deltas) > 1
    ids = engine.encode(engine.render_chat(msgs))
    out = engine.model.generate(
        torch.tensor([ids]), max_new_tokens=24, do_sample=False, eos_token_id=engine.loaded.stop_ids
    )
    new = [t for t in out[0, len(ids) :].tolist() if t not in engine.loaded.stop_ids]
    expected = engine.tokenizer.decode(new, skip_special_tokens=True)
    assert "".join(deltas) == expected == gen.text
    assert gen.stats.new_tokens == out.shape[1] - len(ids)
    assert gen.stats.finish_reason in ("stop", "length")
    assert gen.stats.ttft_s is not None and gen.stats.total_s >= gen.stats.ttft_s


def test_seeded_sampling_is_reproducible(engine):
    p = GenerationParams(max_new_tokens=16, seed=8909)
    msgs = [{"role": "user", "content": "hi"}]
    assert engine.stream_chat(msgs, p).result() == engine.stream_chat(msgs, p).result()


def test_seeded_sampling_samples_and_leaves_the_global_generator_alone(engine):
    msgs = [{"role": "user", "content": "Write a story."}]
    p = GenerationParams(max_new_tokens=24, temperature=1.5, top_p=1.0, top_k=0)
    state = torch.get_rng_state()
    texts = {engine.stream_chat(msgs, replace(p, seed=s)).result() for s in (1, 2, 3)}
    assert torch.equal(torch.get_rng_state(), state)  # no process-wide torch.manual_seed
    assert len(texts) > 1  # different seeds, different draws: it does sample
    greedy = engine.stream_chat(msgs, replace(p, do_sample=False, seed=1)).result()
    assert greedy == engine.stream_chat(msgs, replace(p, do_sample=False)).result()


def test_seed_is_reproducible_while_another_engine_samples(engine, tiny_model_dir):
    """Two models generating at once (two pages): a seeded answer must not depend on the
    other one's draws, which torch.manual_seed's shared generator made it do."""
    other = TransformersEngine(
        load_internlm2(tiny_model_dir), EngineInfo("tiny2", "Tiny 2", "transformers")
    )
    msgs = [{"role": "user", "content": "Tell me a long story."}]
    p = GenerationParams(max_new_tokens=48, temperature=1.2, seed=4242)
    alone = engine.stream_chat(msgs, p).result()
    stop = threading.Event()
    draws = 0

    def sample_elsewhere() -> None:
        nonlocal draws
        while not stop.is_set():
            other.stream_chat(msgs, GenerationParams(max_new_tokens=8, temperature=1.5)).result()
            draws += 1

    noise = threading.Thread(target=sample_elsewhere, daemon=True)
    noise.start()
    try:
        while draws == 0:  # the other engine is really sampling
            time.sleep(0.01)
        together = [engine.stream_chat(msgs, p).result() for _ in range(3)]
    finally:
        stop.set()
        noise.join(30)
    assert together == [alone] * 3


def test_cancel_stops_generate_thread(engine, monkeypatch):
    # no stop token: a random model's sampled reply must still be running when we cancel
    # (CI once saw it end with a stop token after four deltas, before the cancel landed)
    monkeypatch.setattr(engine.loaded, "stop_ids", [])
    cancel = CancelToken()
    gen = engine.stream_chat(
        [{"role": "user", "content": "go"}], GenerationParams(max_new_tokens=900), cancel
    )
    for i, _ in enumerate(gen):
        if i == 3:
            cancel.cancel()
    assert gen.stats.finish_reason == "cancelled"
    assert gen.stats.new_tokens < 900
    assert not engine.busy


def test_cancel_while_queued_never_runs(engine, monkeypatch):
    # no stop token: the first reply must still be running when the second one queues
    monkeypatch.setattr(engine.loaded, "stop_ids", [])
    first = engine.stream_chat(
        [{"role": "user", "content": "a"}], GenerationParams(max_new_tokens=400)
    )
    second = engine.stream_chat(
        [{"role": "user", "content": "b"}], GenerationParams(max_new_tokens=400)
    )
    positions = []
    for kind, value in second.events():
        if kind == "position":
            positions.append(value)
            if value > 0:
                second.cancel()
    first.cancel()
    first.result()
    assert positions and positions[0] == 1
    assert second.stats.finish_reason == "cancelled" and second.stats.new_tokens == 0


def test_stop_words_cut_the_text(engine):
    base = engine.stream_chat([{"role": "user", "content": "x"}], GREEDY).result()
    word = base[5:8]
    assert word.strip()
    p = GenerationParams(max_new_tokens=24, do_sample=False, stop_words=(word,))
    gen = engine.stream_chat([{"role": "user", "content": "x"}], p)
    text = gen.result()
    assert text == base[: base.find(word)]
    assert gen.stats.finish_reason == "stop_word"


def test_too_long_prompt_is_an_error_not_a_crash(engine):
    gen = engine.stream_chat([{"role": "user", "content": "猪八戒 " * 5000}], GREEDY)
    assert list(gen) == []
    assert gen.stats.finish_reason == "error" and "too long" in str(gen.error)


def test_long_history_is_trimmed(engine):
    msgs = []
    for i in range(60):
        msgs += [
            {"role": "user", "content": f"question {i} " * 10},
            {"role": "assistant", "content": "answer " * 10},
        ]
    msgs.append({"role": "user", "content": "and now?"})
    gen = engine.stream_chat(msgs, GenerationParams(max_new_tokens=16, do_sample=False))
    gen.result()
    assert gen.dropped_messages > 0
    assert gen.stats.prompt_tokens + 16 <= engine.info.context_window


def test_oom_becomes_a_clear_message(engine, monkeypatch):
    def boom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(engine.model, "generate", boom)
    gen = engine.stream_chat([{"role": "user", "content": "x"}], GREEDY)
    with pytest.raises(OutOfMemory, match="ran out of memory"):
        gen.result()
    assert not engine.busy


def test_unexpected_error_does_not_kill_the_next_request(engine, monkeypatch):
    real = engine.model.generate
    calls = []

    def flaky(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(*a, **k)

    monkeypatch.setattr(engine.model, "generate", flaky)
    bad = engine.stream_chat([{"role": "user", "content": "x"}], GREEDY)
    good = engine.stream_chat([{"role": "user", "content": "x"}], GREEDY)
    with pytest.raises(Exception, match="boom"):
        bad.result()
    assert bad.stats.finish_reason == "error"
    assert good.result() and good.error is None


def test_concurrent_sessions_take_turns(engine):
    results: dict[int, str] = {}

    def run(i: int) -> None:
        results[i] = engine.stream_chat([{"role": "user", "content": "same"}], GREEDY).result()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(set(results.values())) == 1 and len(results) == 4


def test_incremental_decoder_keeps_spaces_and_multibyte(tiny_model_dir, real_tokenizer_dir):
    for folder in (tiny_model_dir, real_tokenizer_dir):
        tok = load_tokenizer(folder)
        text = "  Hello   world,\n\n猪八戒 loves 🍉 and   spaces.\tTab"
        ids = tok(text, add_special_tokens=False)["input_ids"]
        dec = IncrementalDecoder(lambda t, tok=tok: tok.decode(t, skip_special_tokens=False))
        pieces = [dec.push(i) for i in ids] + [dec.flush()]
        assert "".join(pieces) == text
        assert all("\ufffd" not in p for p in pieces)


def test_stop_word_helpers():
    assert find_stop_word("abc<|action_end|>x", ["<|action_end|>", "x"]) == 3
    assert find_stop_word("abc", ["z"]) == -1
    assert partial_stop_suffix("hello <|act", ["<|action_end|>"]) == 5
    assert partial_stop_suffix("hello", ["<|action_end|>"]) == 0


def test_static_cache_decoding_gives_the_same_text(tiny_model_dir, engine):
    static = TransformersEngine(
        load_internlm2(tiny_model_dir),
        EngineInfo("t", "T", "transformers", context_window=1024),
        decode="static",
    )
    msgs = [{"role": "user", "content": "Write a story."}]
    assert static.stream_chat(msgs, GREEDY).result() == engine.stream_chat(msgs, GREEDY).result()


def test_compiled_decoding_falls_back_on_cpu_and_bad_mode_is_refused(tiny_model_dir):
    info = EngineInfo("t", "T", "transformers", context_window=1024)
    compiled = TransformersEngine(load_internlm2(tiny_model_dir), info, decode="compiled")
    assert compiled.decode == "static" and "CUDA" in info.extra["decode_note"]
    from demo_core.engine.base import EngineError

    with pytest.raises(EngineError, match="unknown decode mode"):
        TransformersEngine(load_internlm2(tiny_model_dir), info, decode="turbo")


def test_decode_mode_comes_from_settings(studio_home):
    from demo_core import settings
    from demo_core.engine.manager import ModelManager

    settings.update_model_settings("tiny-internlm2", decode="static")
    assert ModelManager().get("tiny-internlm2").decode == "static"
