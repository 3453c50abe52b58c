"""One in-process model, many users: first come first served, and one user's Stop or
failure never touches another's answer. Runs the real tiny model through the real engine."""

from __future__ import annotations

import pytest

from benchmarks.load_test import percentile, run_load_test
from demo_core.engine.base import EngineError, EngineInfo, GenerationParams
from demo_core.engine.local import TransformersEngine
from demo_core.internlm2.loader import load_internlm2
from tests.waiting import ask, wait_until

GREEDY = GenerationParams(max_new_tokens=16, do_sample=False)


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> TransformersEngine:
    loaded = load_internlm2(tiny_model_dir)
    return TransformersEngine(
        loaded, EngineInfo("tiny", "tiny", "transformers", context_window=loaded.context_window)
    )


def positions(gen) -> list[int]:
    """Drain a generation; the queue positions it reported, repeats collapsed."""
    seen: list[int] = []
    for kind, value in gen.events(timeout=10):
        if kind == "position" and (not seen or seen[-1] != value):
            seen.append(value)
    return seen


def test_fifo_positions_cancel_while_queued_and_error_isolation(engine):
    alone = engine.stream_chat(ask("The quick brown fox"), GREEDY).result()

    holder = engine.queue.acquire()  # someone is generating: everybody else must wait
    try:
        a = engine.stream_chat(ask("Hello story"), GREEDY)
        wait_until(lambda: a.queue_position == 1)
        bad = GenerationParams(**{**GREEDY.to_dict(), "repetition_penalty": 0.0})
        b = engine.stream_chat(ask("请写一个故事"), bad)  # generate() will reject this
        wait_until(lambda: b.queue_position == 2)
        c = engine.stream_chat(ask("Once upon a time"), GREEDY)
        wait_until(lambda: c.queue_position == 3)
        d = engine.stream_chat(ask("The quick brown fox"), GREEDY)
        wait_until(lambda: d.queue_position == 4)

        c.cancel()  # the user pressed Stop while waiting in line
        wait_until(lambda: c.done)
        wait_until(lambda: d.queue_position == 3)
        assert a.queue_position == 1 and b.queue_position == 2
        assert not a.done and not b.done and not d.done  # nobody jumped the queue
    finally:
        engine.queue.release(holder)

    # consuming the events also collects the text (Generation.events appends it)
    pa, pb, pc, pd = positions(a), positions(b), positions(c), positions(d)
    assert pa == [1, 0]
    assert pb == [2, 1, 0]
    assert pc == [3]
    assert pd == [4, 3, 2, 1, 0]

    assert a.error is None and a.text
    assert isinstance(b.error, EngineError) and "penalty" in str(b.error)
    assert b.stats.finish_reason == "error" and b.text == ""
    assert c.text == "" and c.stats.finish_reason == "cancelled" and c.stats.new_tokens == 0
    assert d.error is None and d.text == alone  # untouched by B's failure and C's cancel
    assert d.stats.finish_reason in ("stop", "length")
    # first come, first served: A started before B, B before D
    assert a._t_start < b._t_start < d._t_start
    assert len(engine.queue) == 0


def test_load_test_reports_fair_isolated_service(engine):
    report = run_load_test(engine, sessions=4, turns=2, params=GREEDY, inject_faults=True)
    assert report["ok"], report["isolation_problems"]
    assert report["generations"] == 8
    assert report["fairness"] is True and report["fifo_overtakes"] == 0
    assert report["max_queue_position"] >= 1  # the sessions really queued
    assert report["tokens"] > 0 and report["throughput_tok_s"] > 0
    assert report["first_token_s_p95"] >= report["first_token_s_p50"] > 0
    faults = {r["session"]: r["finish_reason"] for r in report["records"] if r["fault"]}
    assert faults == {0: "cancelled", 1: "error"}


def test_percentile_nearest_rank():
    data = [float(i) for i in range(1, 21)]
    assert percentile(data, 50) == 10.0
    assert percentile(data, 95) == 19.0
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
