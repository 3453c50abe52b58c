"""Concurrent sessions decode together (transformers' continuous batching) on the real tiny
InternLM2 loaded through the real loader; what cannot batch queues as before."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import torch

from demo_core.engine.base import EngineError, EngineInfo, GenerationParams
from demo_core.engine.batching import BatchSettings, batch_blockers, slots_needed
from demo_core.engine.fair_queue import FairQueue
from demo_core.engine.local import TransformersEngine
from demo_core.internlm2.loader import load_internlm2
from tests.waiting import ask, wait_until

BATCHABLE = GenerationParams(max_new_tokens=24, do_sample=False, repetition_penalty=1.0)


def make_engine(folder, **batch) -> TransformersEngine:
    lm = load_internlm2(folder)
    info = EngineInfo("tiny", "tiny", "transformers", context_window=lm.context_window)
    return TransformersEngine(lm, info, batching=BatchSettings(**batch) if batch else None)


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    e = make_engine(tiny_model_dir)
    yield e
    e.close()


class CountGenerate:
    """Counts calls of ``model.generate`` (the queued path) without changing it."""

    def __init__(self, engine, monkeypatch) -> None:
        self.calls = 0
        real = engine.model.generate

        def counted(*a, **k):
            self.calls += 1
            return real(*a, **k)

        monkeypatch.setattr(engine.model, "generate", counted)


def test_batched_greedy_equals_generate(engine, monkeypatch):
    msgs = ask("Write a story.")
    ids = engine.encode(engine.render_chat(msgs))
    out = engine.model.generate(
        torch.tensor([ids]), max_new_tokens=24, do_sample=False, eos_token_id=engine.loaded.stop_ids
    )
    new = [t for t in out[0, len(ids) :].tolist() if t not in engine.loaded.stop_ids]
    counter = CountGenerate(engine, monkeypatch)
    gen = engine.stream_chat(msgs, BATCHABLE)
    assert gen.result() == engine.tokenizer.decode(new, skip_special_tokens=True)
    assert counter.calls == 0  # it went through the batch decoder, not generate()
    assert gen.stats.new_tokens == out.shape[1] - len(ids)
    assert gen.stats.finish_reason in ("stop", "length") and gen.stats.ttft_s is not None


def test_sessions_decode_at_the_same_time_and_stop_alone(engine, monkeypatch):
    # no stop token: the random model's greedy reply may end on one before Stop is pressed
    monkeypatch.setattr(engine.loaded, "stop_ids", [])
    long = replace(BATCHABLE, max_new_tokens=400)
    first = engine.stream_chat(ask("first"), long)
    it = iter(first)
    next(it)  # the first reply is streaming
    second = engine.stream_chat(ask("second"), BATCHABLE)
    texts = list(second)  # runs to its end while the first is still decoding
    assert texts and not first.done and second.queue_position == 0
    # (not compared with a lone run's text: a batch's float sums may differ in the last bit)
    assert second.error is None and second.stats.finish_reason == "length"
    third = engine.stream_chat(ask("third"), long)
    wait_until(lambda: third.stats.new_tokens > 0)
    first.cancel()  # Stop in one tab...
    first.result()
    assert first.stats.finish_reason == "cancelled" and first.stats.new_tokens < 400
    wait_until(lambda: third.stats.new_tokens > first.stats.new_tokens + 5 or third.done)
    third.result()  # ...leaves the other one decoding to its end
    assert third.stats.finish_reason == "length" and third.error is None
    wait_until(lambda: engine.batcher.active == 0 and len(engine.queue) == 0)


def test_per_request_sampling_in_one_batch(engine):
    """A sampled and a greedy request decode together, each with its own settings."""
    alone = engine.stream_chat(ask("x"), BATCHABLE).result()
    hot = GenerationParams(
        max_new_tokens=200, temperature=1.5, top_p=1.0, top_k=0, repetition_penalty=1.0
    )
    sampled = engine.stream_chat(ask("x"), hot)
    next(iter(sampled))
    greedy = engine.stream_chat(ask("x"), BATCHABLE)
    greedy.result()
    sampled.result()
    assert greedy.error is None and sampled.error is None
    assert sampled.text != alone  # temperature 1.5 over the whole vocabulary: it sampled


def test_stop_words_in_the_batch(engine):
    base = engine.stream_chat(ask("x"), BATCHABLE).result()
    word = base[5:8]
    assert word.strip()
    gen = engine.stream_chat(ask("x"), replace(BATCHABLE, stop_words=(word,)))
    assert gen.result() == base[: base.find(word)]
    assert gen.stats.finish_reason == "stop_word"
    wait_until(lambda: engine.batcher.active == 0)


def test_what_cannot_batch_queues(engine, monkeypatch):
    assert batch_blockers(GenerationParams()) == ["repetition penalty"]  # the lesson default
    assert batch_blockers(GenerationParams(repetition_penalty=1.0, seed=1)) == ["seed"]
    assert batch_blockers(GenerationParams(repetition_penalty=1.0, seed=1, do_sample=False)) == []
    # a setting the batch decoder does not know (a logits recorder...) runs alone
    flagged = GenerationParams(repetition_penalty=1.0)
    flagged.record_logits = 5  # type: ignore[attr-defined]
    assert batch_blockers(flagged) == ["record_logits"]
    counter = CountGenerate(engine, monkeypatch)
    engine.stream_chat(ask("x"), GenerationParams(max_new_tokens=8)).result()
    engine.stream_chat(ask("x"), replace(BATCHABLE, seed=5, do_sample=True)).result()
    assert counter.calls == 2
    # a reply that would not fit its share of the batch's KV cache runs alone too
    huge = replace(BATCHABLE, max_new_tokens=engine.batcher.settings.cache_tokens)
    assert engine._batch_weight([1, 2, 3], huge) is None


def test_unbatchable_request_waits_for_the_batch_and_keeps_its_place(engine):
    long = replace(BATCHABLE, max_new_tokens=400)
    a = engine.stream_chat(ask("a"), long)
    wait_until(lambda: a.stats.new_tokens > 0)
    alone = engine.stream_chat(ask("b"), GenerationParams(max_new_tokens=8))  # rp 1.005
    wait_until(lambda: alone.queue_position == 1)
    c = engine.stream_chat(ask("c"), BATCHABLE)  # would fit, but may not overtake
    wait_until(lambda: c.queue_position == 2)
    assert not alone.done and c.stats.new_tokens == 0
    a.cancel()
    alone.result(), c.result()
    assert alone._t_start < c._t_start  # first come, first served
    assert alone.error is None and c.error is None


def test_error_in_one_request_leaves_the_batch_alone(engine):
    long = replace(BATCHABLE, max_new_tokens=300)
    good = engine.stream_chat(ask("good"), long)
    wait_until(lambda: good.stats.new_tokens > 0)
    bad = engine.stream_chat(ask("bad"), replace(BATCHABLE, repetition_penalty=0.0))
    with pytest.raises(EngineError, match="penalty"):
        bad.result()
    good.result()
    assert good.error is None and good.stats.finish_reason in ("stop", "length")


def test_a_dead_batch_loop_fails_its_requests_and_restarts(tiny_model_dir, monkeypatch):
    e = make_engine(tiny_model_dir, sessions=4)
    try:
        real_forward = e.model.forward
        calls = {"n": 0}

        def broken(*a, **k):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("device fell over")
            return real_forward(*a, **k)

        monkeypatch.setattr(e.model, "forward", broken)
        gen = e.stream_chat(ask("x"), replace(BATCHABLE, max_new_tokens=50))
        with pytest.raises(EngineError):
            gen.result()
        assert gen.stats.finish_reason == "error"
        monkeypatch.setattr(e.model, "forward", real_forward)
        again = e.stream_chat(ask("x"), BATCHABLE)
        assert again.result() and again.error is None
    finally:
        e.close()


def test_queue_positions_with_batch_slots(tiny_model_dir):
    e = make_engine(tiny_model_dir, sessions=2)
    try:
        long = replace(BATCHABLE, max_new_tokens=400)
        a = e.stream_chat(ask("a"), long)
        b = e.stream_chat(ask("b"), long)
        wait_until(lambda: a.stats.new_tokens > 0 and b.stats.new_tokens > 0)
        c = e.stream_chat(ask("c"), BATCHABLE)
        wait_until(lambda: c.queue_position == 2)
        d = e.stream_chat(ask("d"), BATCHABLE)
        wait_until(lambda: d.queue_position == 3)
        c.cancel()  # Stop while waiting: leaves the line, never runs
        wait_until(lambda: c.done and d.queue_position == 2)
        a.cancel()
        wait_until(lambda: d.queue_position == 0)
        d.result()
        b.cancel()
        b.result()
        assert c.stats.finish_reason == "cancelled" and c.stats.new_tokens == 0
        assert d.error is None
    finally:
        e.close()


def test_fair_queue_slots_are_first_come_first_served():
    q = FairQueue(capacity=4)
    seen: dict[str, list[int]] = {"big": [], "small": []}
    t1 = q.acquire(weight=3)
    got = threading.Event()

    def waiter(name: str, weight: int | None) -> None:
        ticket = q.acquire(seen[name].append, weight=weight)
        got.set()
        q.release(ticket)

    big = threading.Thread(target=waiter, args=("big", None))  # needs all 4
    big.start()
    wait_until(lambda: seen["big"] == [1])
    small = threading.Thread(target=waiter, args=("small", 1))  # fits, but waits its turn
    small.start()
    wait_until(lambda: seen["small"] == [2])
    assert not got.is_set()
    q.release(t1)
    big.join(10), small.join(10)
    assert seen["big"][-1] == 0 and seen["small"][-1] == 0 and len(q) == 0


def test_batch_settings_from_settings_json(studio_home):
    from demo_core import settings
    from demo_core.engine.describe import engine_note
    from demo_core.engine.manager import ModelManager

    assert slots_needed(BatchSettings(sessions=4, kv_tokens=4096), 1000, 1100) == 3
    settings.update_model_settings("tiny-internlm2", batch_sessions=3, batch_kv_tokens=3072)
    manager = ModelManager()
    engine = manager.get("tiny-internlm2")
    assert engine.queue.capacity == 3 and engine.batcher.settings.slot_tokens == 1024
    assert "up to 3 sessions decode together" in engine_note(engine)
    manager.unload("tiny-internlm2")
    settings.update_model_settings("tiny-internlm2", batching=False)
    engine = ModelManager().get("tiny-internlm2")
    assert engine.batcher is None and engine.queue.capacity == 1
    settings.update_model_settings("tiny-internlm2", batching=None, decode="static")
    engine = ModelManager().get("tiny-internlm2")
    assert engine.batcher is None and "static decoding" in engine_note(engine)


def test_the_memory_budget_counts_the_batch_kv_cache(studio_home, tiny_model_dir):
    """The estimate is what transformers really allocates when the batch decoder starts."""
    import json

    from demo_core import settings
    from demo_core.engine.manager import ModelManager
    from demo_core.internlm2.checkpoint import weight_bytes

    config = json.loads((tiny_model_dir / "config.json").read_text())
    e = make_engine(tiny_model_dir, sessions=3, kv_tokens=3 * 700)
    try:
        assert e.stream_chat(ask("hi"), BATCHABLE).result() is not None
        allocated = e.batcher._manager.batch_processor.cache.cache_tensor.numel()
        assert e.batcher.settings.cache_bytes(config, 4) == allocated
    finally:
        e.close()
    assert BatchSettings(sessions=0).cache_bytes(config, 4) == 0

    settings.update_model_settings("tiny-internlm2", path=str(tiny_model_dir), batch_sessions=4)
    manager = ModelManager(device=torch.device("cpu"))
    cache = BatchSettings(sessions=4).cache_bytes(config, 4)
    assert cache > 0 and manager.estimate_bytes("tiny-internlm2") == weight_bytes(tiny_model_dir) + cache
    settings.update_model_settings("tiny-internlm2", batching=False)
    assert manager.estimate_bytes("tiny-internlm2") == weight_bytes(tiny_model_dir)


def test_a_tight_budget_shrinks_the_batch_instead_of_refusing(studio_home, tiny_model_dir):
    import json

    from demo_core import settings
    from demo_core.engine.describe import engine_note
    from demo_core.engine.manager import ModelManager
    from demo_core.internlm2.checkpoint import weight_bytes

    config = json.loads((tiny_model_dir / "config.json").read_text())
    weights = weight_bytes(tiny_model_dir)
    settings.update_model_settings("tiny-internlm2", path=str(tiny_model_dir), batch_sessions=8)
    three = BatchSettings(sessions=3, kv_tokens=3 * 2048).cache_bytes(config, 4)
    budget = weights + three + 1000  # three sessions' cache fits, four do not
    manager = ModelManager(device=torch.device("cpu"), budget_bytes=budget)
    assert manager.estimate_bytes("tiny-internlm2") == weights + three
    engine = manager.get("tiny-internlm2")
    assert engine.batcher.settings.sessions == 3 and engine.queue.capacity == 3
    assert engine.batcher.settings.slot_tokens == 2048  # each session keeps its room
    assert engine.stream_chat(ask("hi"), BATCHABLE).result() is not None
    allocated = engine.batcher._manager.batch_processor.cache.cache_tensor.numel()
    assert weights + allocated <= budget
    manager.unload("tiny-internlm2")

    two = BatchSettings(sessions=2, kv_tokens=2 * 2048).cache_bytes(config, 4)
    engine = ModelManager(device=torch.device("cpu"), budget_bytes=weights + two - 1).get(
        "tiny-internlm2"
    )
    assert engine.batcher is None and engine.queue.capacity == 1
    assert "no room for a batch" in engine_note(engine)


def test_xcomposer_never_batches():
    from demo_core.xcomposer.engine import XComposerEngine

    assert XComposerEngine.batch_blocker


def test_the_batch_loop_never_keeps_the_process_alive(tiny_model_dir):
    e = make_engine(tiny_model_dir, sessions=2)
    try:
        with e.batcher._lock:  # started from this (non-daemon) thread on purpose
            mgr = e.batcher._ensure_running()
        assert mgr._generation_thread.daemon
        assert e.stream_chat(ask("x"), BATCHABLE).result()
    finally:
        e.close()
    assert not mgr.is_running()
