"""Batched decoding vs the queue, side by side in one run, on one in-process model.

Two engines share one loaded random-weight InternLM2 (official layout, our loader): today's
engine (batching off: every request waits its turn for ``model.generate``) and the engine
with continuous batching on. Measured, interleaved so machine noise hits both alike:

- one session alone: decode tok/s, batching enabled vs today's engine (target >= 0.95);
- N sessions sent at once: aggregate tok/s (all new tokens / wall time) and p50/p95 of
  what each user waits for the first token (queue wait + prefill), batched vs queued
  (targets at 8 sessions: >= 4x the queue's aggregate, p95 first token <= 0.5x).

Greedy, repetition penalty 1.0 (a request with a penalty runs alone: see
``demo_core/engine/batching.py``), the same prompts both ways.

    python benchmarks/batching.py [--hidden 1024 --layers 16 --sessions 8 --tokens 64]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.load_test import PROMPTS, percentile  # noqa: E402
from demo_core.engine.base import EngineInfo, GenerationParams  # noqa: E402


def engines(loaded, sessions: int, **batch) -> tuple[object, object]:
    """(queued, batched) engines over the same loaded model."""
    from demo_core.engine.batching import BatchSettings
    from demo_core.engine.local import TransformersEngine

    def info(key: str) -> EngineInfo:
        return EngineInfo(key, key, "transformers", context_window=loaded.context_window)

    queued = TransformersEngine(loaded, info("queued"), batching=BatchSettings(sessions=0))
    batched = TransformersEngine(
        loaded, info("batched"), batching=BatchSettings(sessions=max(2, sessions), **batch)
    )
    return queued, batched


def params_for(tokens: int) -> GenerationParams:
    return GenerationParams(max_new_tokens=tokens, do_sample=False, repetition_penalty=1.0)


def one_session(engine, tokens: int) -> tuple[float, float]:
    """Decode tok/s of one reply (after its first token), and its new tokens per second of
    the process's CPU time (all threads): on a shared machine the wall clock measures the
    neighbours' load as much as ours, CPU time only our own work."""
    cpu = time.process_time()
    gen = engine.stream_chat([{"role": "user", "content": PROMPTS[0]}], params_for(tokens))
    gen.result()
    cpu = time.process_time() - cpu
    return gen.stats.tokens_per_s, gen.stats.new_tokens / cpu if cpu > 0 else 0.0


def concurrent(engine, sessions: int, tokens: int, prompt_tokens: int = 0) -> dict:
    """``sessions`` chats sent at the same moment; what the users and the model see."""
    messages = []
    for i in range(sessions):
        text = PROMPTS[i % len(PROMPTS)]
        if prompt_tokens:  # pad the prompt to about prompt_tokens (for TTFT figures)
            text = (text + " ") * max(1, prompt_tokens // max(1, engine.count_tokens(text)))
        messages.append([{"role": "user", "content": f"{i}: {text}"}])
    gens: list = [None] * sessions
    start = threading.Barrier(sessions + 1)

    def run(i: int) -> None:
        start.wait()
        gens[i] = engine.stream_chat(messages[i], params_for(tokens))
        gens[i].result()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    first = [g.stats.queued_s + (g.stats.ttft_s or 0.0) for g in gens]
    new = sum(g.stats.new_tokens for g in gens)
    errors = [str(g.error) for g in gens if g.error is not None]
    return {
        "sessions": sessions,
        "tokens": new,
        "wall_s": wall,
        "aggregate_tok_s": new / wall if wall > 0 else 0.0,
        "first_token_s_p50": percentile(first, 50),
        "first_token_s_p95": percentile(first, 95),
        "errors": errors,
    }


def compare(
    loaded, sessions_list: list[int], tokens: int, runs: int, prompt_tokens: int = 0
) -> dict:
    """Single-session ratio and the batched-vs-queued table, interleaved, medians."""
    queued, batched = engines(loaded, max(sessions_list))
    try:
        one_session(queued, 8), one_session(batched, 8)  # warm-up both paths
        q1, b1, qc, bc = [], [], [], []
        for _ in range(runs):
            for engine, wall, cpu in ((queued, q1, qc), (batched, b1, bc)):
                w, c = one_session(engine, tokens)
                wall.append(w)
                cpu.append(c)
        rows = []
        for n in sessions_list:
            qs, bs = [], []
            for _ in range(max(1, runs // 2)):
                qs.append(concurrent(queued, n, tokens, prompt_tokens))
                bs.append(concurrent(batched, n, tokens, prompt_tokens))
            q = _median_row(qs)
            b = _median_row(bs)
            rows.append(
                {
                    "sessions": n,
                    "queued": q,
                    "batched": b,
                    "aggregate_ratio": b["aggregate_tok_s"] / q["aggregate_tok_s"],
                    "p95_first_token_ratio": b["first_token_s_p95"] / q["first_token_s_p95"],
                }
            )
        return {
            "single_queued_tok_s": statistics.median(q1),
            "single_batched_tok_s": statistics.median(b1),
            "single_ratio": statistics.median(b1) / statistics.median(q1),
            "single_cpu_ratio": statistics.median(bc) / statistics.median(qc),
            "rows": rows,
        }
    finally:
        batched.close()


def _median_row(rows: list[dict]) -> dict:
    out = dict(rows[0])
    for key in ("aggregate_tok_s", "first_token_s_p50", "first_token_s_p95", "wall_s"):
        out[key] = statistics.median(r[key] for r in rows)
    out["errors"] = [e for r in rows for e in r["errors"]]
    return out


def format_table(result: dict) -> str:
    lines = [
        f"one session: batching on {result['single_batched_tok_s']:.1f} tok/s vs today's engine "
        f"{result['single_queued_tok_s']:.1f} tok/s = {result['single_ratio']:.3f} "
        f"(per CPU-second of the process: {result['single_cpu_ratio']:.3f})",
        "| sessions | queued tok/s | batched tok/s | ratio | first token p50/p95 queued (s) "
        "| first token p50/p95 batched (s) | p95 ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        q, b = r["queued"], r["batched"]
        lines.append(
            f"| {r['sessions']} | {q['aggregate_tok_s']:.1f} | {b['aggregate_tok_s']:.1f} | "
            f"{r['aggregate_ratio']:.2f}x | {q['first_token_s_p50']:.2f} / {q['first_token_s_p95']:.2f} | "
            f"{b['first_token_s_p50']:.2f} / {b['first_token_s_p95']:.2f} | "
            f"{r['p95_first_token_ratio']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    from benchmarks._common import arguments, build_model
    from demo_core.internlm2.loader import load_internlm2

    ap = arguments(hidden=1024, layers=16, tokens=64, runs=4)
    ap.add_argument("--sessions", type=int, nargs="+", default=[8])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_model(
            Path(tmp) / "model", args.hidden, args.layers, max_position_embeddings=4096
        )
        result = compare(load_internlm2(folder), args.sessions, args.tokens, args.runs)
    result["config"] = {k: str(v) for k, v in vars(args).items()}
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    ok = all(not r["queued"]["errors"] and not r["batched"]["errors"] for r in result["rows"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
