"""Many chat sessions at once against one engine: throughput, latency, fairness, isolation.

Every browser session of the app shares one in-process model, so what matters is not
only tokens per second but whether waiting is fair (first come, first served; nobody is
overtaken) and whether one user's Stop or failure leaves the others alone. The same
harness runs against an OpenAI-compatible server to compare with continuous batching.

    python benchmarks/load_test.py                       # tiny random model, in-process
    python benchmarks/load_test.py --model-path /root/models/internlm2-chat-1_8b --device cuda
    python benchmarks/load_test.py --base-url http://127.0.0.1:23333/v1 --model internlm2-chat-1_8b

Fairness is read from the queue positions each generation reports: in a FIFO line a
waiter's position can only go down; any rise means someone was let in ahead of it.
Exit status 1 if fairness or isolation fails.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from demo_core.engine.base import EngineInfo, GenerationParams  # noqa: E402

PROMPTS = [
    "Please write a 300 character story about the sea.",
    "请写一个三百字的小故事。",
    "The data analysis agent reads a CSV file and plots a chart.",
    "你好，猪八戒！今天吃什么？",
]


@dataclass
class Record:
    session: int
    turn: int
    fault: str  # "" | "cancel" | "error"
    submitted: float
    queued_s: float
    ttft_s: float | None
    total_s: float
    new_tokens: int
    finish_reason: str
    error: str
    positions: list[int] = field(default_factory=list)

    @property
    def first_token_s(self) -> float | None:
        """What the user waits for: queue wait plus time to first token."""
        return None if self.ttft_s is None else self.queued_s + self.ttft_s

    @property
    def overtaken(self) -> int:
        """How often this request's place in line got worse (0 in a FIFO queue)."""
        return sum(1 for a, b in zip(self.positions, self.positions[1:], strict=False) if b > a)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


def run_session(
    engine,
    session: int,
    turns: int,
    params: GenerationParams,
    fault: str,
    out: list[Record],
    lock: threading.Lock,
    start_gate: threading.Event,
) -> None:
    """One simulated user: a multi-turn chat, each turn waiting for the previous answer."""
    messages: list[dict] = []
    start_gate.wait()
    for turn in range(turns):
        messages.append({"role": "user", "content": PROMPTS[(session + turn) % len(PROMPTS)]})
        this_fault = fault if turn == 0 else ""
        p = params
        if this_fault == "error":  # a setting the model rejects, inside generate() itself
            p = GenerationParams(**{**params.to_dict(), "repetition_penalty": 0.0})
        submitted = time.perf_counter()
        gen = engine.stream_chat(messages, p)
        positions: list[int] = []
        for kind, value in gen.events():
            if kind == "position":
                if not positions or positions[-1] != value:
                    positions.append(int(value))
            elif kind == "text" and this_fault == "cancel":
                gen.cancel()  # the user presses Stop after the first words
        rec = Record(
            session=session,
            turn=turn,
            fault=this_fault,
            submitted=submitted,
            queued_s=gen.stats.queued_s,
            ttft_s=gen.stats.ttft_s,
            total_s=gen.stats.total_s,
            new_tokens=gen.stats.new_tokens,
            finish_reason=gen.stats.finish_reason,
            error=str(gen.error) if gen.error else "",
            positions=positions,
        )
        with lock:
            out.append(rec)
        messages.append({"role": "assistant", "content": gen.text})


def run_load_test(
    engine,
    sessions: int = 8,
    turns: int = 2,
    params: GenerationParams | None = None,
    inject_faults: bool = True,
    error_fault: bool = True,
) -> dict:
    """Run the simulated users and summarise; ``report["ok"]`` says fairness and isolation held.

    Faults: session 0 presses Stop after its first words; session 1 (if ``error_fault``)
    asks for ``repetition_penalty=0``, which the model rejects inside generation.
    """
    params = params or GenerationParams(max_new_tokens=64)
    faults: dict[int, str] = {}
    if inject_faults and sessions >= 3:
        faults = {0: "cancel", 1: "error"} if error_fault else {0: "cancel"}
    records: list[Record] = []
    lock = threading.Lock()
    gate = threading.Event()
    threads = [
        threading.Thread(
            target=run_session,
            args=(engine, s, turns, params, faults.get(s, ""), records, lock, gate),
            daemon=True,
        )
        for s in range(sessions)
    ]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    gate.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0

    normal = [r for r in records if not r.fault]
    tokens = sum(r.new_tokens for r in records)
    first = [r.first_token_s for r in normal if r.first_token_s is not None]
    ttft = [r.ttft_s for r in normal if r.ttft_s is not None]
    waits = [r.queued_s for r in normal]
    decode = [
        (r.new_tokens - 1) / (r.total_s - r.ttft_s)
        for r in normal
        if r.ttft_s is not None and r.new_tokens > 1 and r.total_s > r.ttft_s
    ]
    overtakes = sum(r.overtaken for r in records)
    isolation_problems = [
        f"session {r.session} turn {r.turn}: {r.finish_reason} {r.error}".strip()
        for r in normal
        if r.error or r.finish_reason not in ("stop", "length", "stop_word")
    ]
    fault_problems = [
        f"session {r.session}: expected {r.fault}, got {r.finish_reason}"
        for r in records
        if r.fault and r.finish_reason != {"cancel": "cancelled", "error": "error"}[r.fault]
    ]
    queued_at_all = any(max(r.positions, default=0) > 0 for r in records)
    report = {
        "engine": f"{engine.info.backend}: {engine.info.label}",
        "sessions": sessions,
        "turns": turns,
        "max_new_tokens": params.max_new_tokens,
        "generations": len(records),
        "wall_s": wall,
        "tokens": tokens,
        "throughput_tok_s": tokens / wall if wall > 0 else 0.0,
        "per_request_decode_tok_s_p50": percentile(decode, 50),
        "first_token_s_p50": percentile(first, 50),
        "first_token_s_p95": percentile(first, 95),
        "ttft_after_start_s_p50": percentile(ttft, 50),
        "ttft_after_start_s_p95": percentile(ttft, 95),
        "queue_wait_s_p50": percentile(waits, 50),
        "queue_wait_s_p95": percentile(waits, 95),
        "max_queue_position": max((max(r.positions, default=0) for r in records), default=0),
        "fifo_overtakes": overtakes,
        "fairness": "n/a (no local queue)" if not queued_at_all else overtakes == 0,
        "isolation_problems": isolation_problems + fault_problems,
        "records": [asdict(r) | {"first_token_s": r.first_token_s} for r in records],
    }
    report["ok"] = overtakes == 0 and not report["isolation_problems"]
    return report


def format_report(report: dict) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:8.1f} ms"

    lines = [
        f"engine            {report['engine']}",
        f"load              {report['sessions']} sessions x {report['turns']} turns, "
        f"max {report['max_new_tokens']} new tokens ({report['generations']} generations)",
        f"throughput        {report['throughput_tok_s']:.1f} tok/s total "
        f"({report['tokens']} tokens in {report['wall_s']:.2f} s)",
        f"first token p50   {ms(report['first_token_s_p50'])}   p95 {ms(report['first_token_s_p95'])}"
        "   (queue wait + prefill, what a user waits)",
        f"TTFT after start  {ms(report['ttft_after_start_s_p50'])}   "
        f"p95 {ms(report['ttft_after_start_s_p95'])}",
        f"queue wait p50    {ms(report['queue_wait_s_p50'])}   p95 {ms(report['queue_wait_s_p95'])}"
        f"   (longest line: {report['max_queue_position']} ahead)",
        f"fairness (FIFO)   {report['fairness']}   overtakes: {report['fifo_overtakes']}",
        "isolation         "
        + ("ok" if not report["isolation_problems"] else "; ".join(report["isolation_problems"])),
    ]
    return "\n".join(lines)


def build_engine(args: argparse.Namespace):
    if args.base_url:
        from demo_core.engine.openai_backend import OpenAIConfig, OpenAIEngine

        return OpenAIEngine(
            OpenAIConfig(
                key=args.model or "remote",
                base_url=args.base_url,
                model=args.model or "remote",
                api_key=args.api_key,
                extended_params=not args.strict_openai,
            )
        )
    import torch

    from demo_core.engine.local import TransformersEngine
    from demo_core.internlm2.loader import load_internlm2
    from demo_core.internlm2.tiny import build_tiny_internlm2

    path = args.model_path
    if path is None:
        path = build_tiny_internlm2(Path(tempfile.mkdtemp()) / "tiny-internlm2", seed=0)
    loaded = load_internlm2(path, device=torch.device(args.device))
    return TransformersEngine(
        loaded,
        EngineInfo(
            key="load-test",
            label=str(path),
            backend="transformers",
            device=args.device,
            context_window=loaded.context_window,
        ),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--turns", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--greedy", action="store_true", help="greedy decoding instead of sampling")
    ap.add_argument("--no-faults", action="store_true", help="no cancelled / failing session")
    ap.add_argument("--model-path", type=Path, help="InternLM2 folder (default: tiny random)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--base-url", help="an OpenAI-compatible server instead of in-process")
    ap.add_argument("--model", help="model name on that server")
    ap.add_argument("--api-key", default="")
    ap.add_argument("--strict-openai", action="store_true", help="send only standard fields")
    ap.add_argument("--json", type=Path, help="also write the full report here")
    args = ap.parse_args(argv)

    engine = build_engine(args)
    params = GenerationParams(
        max_new_tokens=args.max_new_tokens, do_sample=not args.greedy, seed=None
    )
    # a strict OpenAI server never receives repetition_penalty, so it cannot reject it
    report = run_load_test(
        engine,
        args.sessions,
        args.turns,
        params,
        inject_faults=not args.no_faults,
        error_fault=not (args.base_url and args.strict_openai),
    )
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
