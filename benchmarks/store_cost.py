"""What persistence costs: consumer-visible tok/s of a chat reply with and without the
workspace store, in one run, and the store's size per 1,000 messages.

Both sides run the same background :class:`~demo_core.jobs.Job` over the same in-process
engine and random InternLM2 (greedy, so both produce the same tokens); "with" is the app's
real path (``demo_core.chat_reply.start_reply``: a row made before the first token, the
text saved every second, the end saved with its stats), "without" streams into the job
only. It also times every store write made while a reply streams, the one thing the
store adds to that path: on a loaded machine the end-to-end medians are noisy, the share
of time spent writing is not. A consumer thread watches the job's text the way the page does (but every 5 ms, so
its own sampling does not hide a difference): speed = (tokens - 1) / (first text seen ->
job done). Runs are interleaved; medians.

    python benchmarks/store_cost.py [--hidden 512 --layers 8 --tokens 384 --runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ui_streaming import bench_model  # noqa: E402
from demo_core.chat_reply import start_reply  # noqa: E402
from demo_core.engine.base import EngineInfo, GenerationParams  # noqa: E402
from demo_core.jobs import Job  # noqa: E402
from demo_core.store import Store  # noqa: E402


def watch(job: Job) -> tuple[float, float]:
    """(first text seen, done) as a consumer polling the job sees them."""
    first = None
    while not job.done:
        step = job.current
        if first is None and step is not None and step.text:
            first = time.perf_counter()
        time.sleep(0.005)
    return first or time.perf_counter(), time.perf_counter()


def speed(tmp: Path, hidden: int, layers: int, tokens: int, runs: int) -> dict:
    from demo_core.engine.local import TransformersEngine
    from demo_core.internlm2.loader import load_internlm2

    folder = bench_model(tmp / "model", hidden, layers)
    engine = TransformersEngine(
        load_internlm2(folder), EngineInfo("bench", "bench", "transformers", context_window=4096)
    )
    store = Store(tmp / "workspace.db")
    spent: list[float] = []  # seconds inside store writes during the current reply
    update = store.update_message

    def timed_update(*a, **kw) -> None:
        t = time.perf_counter()
        try:
            update(*a, **kw)
        finally:
            spent.append(time.perf_counter() - t)

    store.update_message = timed_update  # type: ignore[method-assign]
    messages = [{"role": "user", "content": "Write a 300-character story about a robot."}]
    params = GenerationParams(max_new_tokens=tokens, do_sample=False, repetition_penalty=1.0)

    def with_store() -> tuple[float, int]:
        cid = store.create_conversation("bench", "story")
        u = store.add_message(cid, "user", messages[0]["content"], parent=None)
        spent.clear()
        job = start_reply(store, "bench", cid, engine, messages, params, parent=u)
        first, done = watch(job)
        n = job.data["final"][2]["new_tokens"]
        shares.append(sum(spent) / (done - first))
        flushes.append(len(spent))
        return (n - 1) / (done - first), n

    def without_store() -> tuple[float, int]:
        box: dict = {}

        def work(job: Job) -> str:
            gen = job.stream(engine.stream_chat(messages, params, job.cancel_token), "bench")
            box["n"] = gen.stats.new_tokens
            return gen.text

        job = Job("chat", "bench", work, alive=lambda: True).start()
        first, done = watch(job)
        return (box["n"] - 1) / (done - first), box["n"]

    shares: list[float] = []
    flushes: list[int] = []
    with_store(), without_store()  # warm-up
    on, off, counts = [], [], set()
    for i in range(runs):  # interleaved, and which goes first alternates
        order = (without_store, with_store) if i % 2 == 0 else (with_store, without_store)
        for run in order:
            s, n = run()
            (on if run is with_store else off).append(s)
            counts.add(n)
    return {
        "tok_s_without_store_median": round(statistics.median(off), 1),
        "tok_s_with_store_median": round(statistics.median(on), 1),
        "ratio_with_over_without": round(statistics.median(on) / statistics.median(off), 3),
        "tokens_per_reply": sorted(counts),
        # the deterministic part: the share of a reply's visible time spent in store
        # writes (the only work the store adds to the streaming path); the reply is
        # delayed by at most this, so the ratio is at least 1 - share
        "store_write_share_median": round(statistics.median(shares[1:]), 5),
        "store_write_share_max": round(max(shares[1:]), 5),
        "ratio_lower_bound_from_write_share": round(1 - max(shares[1:]), 4),
        "writes_per_reply_median": statistics.median(flushes[1:]),
        "tok_s_without_store": [round(x, 1) for x in off],
        "tok_s_with_store": [round(x, 1) for x in on],
        "runs": runs,
        "model": {"hidden": hidden, "layers": layers},
    }


def size_per_1000(tmp: Path) -> dict:
    """1,000 messages (500 questions of ~60 characters, 500 replies of ~600 mixed
    Chinese/English characters with their stats) in one conversation."""
    store = Store(tmp / "size.db")
    empty = store.size_bytes()
    cid = store.create_conversation("bench", "story", "You are InternLM (书生·浦语)…")
    parent = None
    text_bytes = 0
    reply = ("从前有一个机器人，它住在山里。" * 20 + " The robot liked stories. " * 8)[:600]
    stats = {
        "prompt_tokens": 412,
        "new_tokens": 388,
        "queued_s": 0.0,
        "ttft_s": 0.05,
        "total_s": 5.1,
        "finish_reason": "stop",
        "tokens_per_s": 76.0,
        "dropped": 0,
        "ended": "stop",
    }
    for i in range(500):
        q = f"Question {i}: tell me more about the robot, please, in detail."
        parent = store.add_message(cid, "user", q, parent=parent)
        parent = store.add_message(
            cid, "assistant", reply, parent=parent, stats=stats, model="InternLM2-Chat-1.8B"
        )
        text_bytes += len(q.encode()) + len(reply.encode())
    size = store.size_bytes() - empty
    return {
        "store_bytes_per_1000_messages": size,
        "text_bytes_per_1000_messages": text_bytes,
        "ratio_store_over_text": round(size / text_bytes, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=384)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = {
            **speed(Path(tmp), args.hidden, args.layers, args.tokens, args.runs),
            **size_per_1000(Path(tmp)),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
