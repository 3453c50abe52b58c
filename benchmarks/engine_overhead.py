"""Engine overhead vs raw ``model.generate``, time to first token, and loading memory.

Both sides run the same random-weight InternLM2 checkpoint on the same CPU, greedy, the
same number of new tokens, interleaved run by run so machine noise hits both alike. The
figure that matters is the ratio (target >= 0.95); absolute CPU numbers say little about a
GPU. Load time and peak RSS are measured in a fresh subprocess per load, ours against
transformers' `from_pretrained` of the same weights exported to the Llama layout.

    python benchmarks/engine_overhead.py [--hidden 512 --layers 8 --tokens 256 --runs 5]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import arguments, build_model  # noqa: E402


def build(dest: Path, hidden: int, layers: int, fmt: str = "safetensors") -> Path:
    return build_model(dest, hidden, layers, weights_format=fmt, max_position_embeddings=4096)


def speed(folder: Path, tokens: int, runs: int) -> dict:
    import torch

    from demo_core.engine.base import EngineInfo, GenerationParams
    from demo_core.engine.local import TransformersEngine
    from demo_core.internlm2.loader import load_internlm2

    lm = load_internlm2(folder)
    engine = TransformersEngine(
        lm, EngineInfo("bench", "bench", "transformers", context_window=4096)
    )
    prompt = engine.render_chat(
        [{"role": "user", "content": "Write a 300-character story about a robot."}]
    )
    ids = torch.tensor([engine.encode(prompt)])
    # the same settings as the raw call: greedy, no repetition penalty
    params = GenerationParams(max_new_tokens=tokens, do_sample=False, repetition_penalty=1.0)

    def raw() -> tuple[float, int]:
        t = time.perf_counter()
        with torch.inference_mode():
            out = lm.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=False,
                eos_token_id=None,
                pad_token_id=2,
            )
        return time.perf_counter() - t, out.shape[1] - ids.shape[1]

    def ours() -> tuple[float, int, float]:
        # min_new_tokens is not exposed; random weights rarely emit a stop id, and the
        # token count is recorded so the comparison is per token either way
        t = time.perf_counter()
        gen = engine.stream_text(prompt, params)
        first = None
        for _ in gen:
            if first is None:
                first = time.perf_counter() - t
        return time.perf_counter() - t, gen.stats.new_tokens, first or 0.0

    raw(), ours()  # warm-up
    raw_tps, our_tps, ttft = [], [], []
    for _ in range(runs):
        s, n = raw()
        raw_tps.append(n / s)
        s, n, f = ours()
        our_tps.append(n / s)
        ttft.append(f)
    return {
        "raw_tok_s_median": statistics.median(raw_tps),
        "engine_tok_s_median": statistics.median(our_tps),
        "ratio_engine_over_raw": statistics.median(our_tps) / statistics.median(raw_tps),
        "engine_ttft_s_median": statistics.median(ttft),
    }


_LOAD_PROBE = """
import json, sys, time, torch
sys.path.insert(0, sys.argv[1])
from demo_core.internlm2.checkpoint import weight_bytes
from demo_core.internlm2.loader import load_internlm2  # imports outside the measurement
from transformers import AutoModelForCausalLM, AutoTokenizer

def peak_mb():  # VmHWM: the process's peak resident set so far
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024

before = peak_mb()
t0 = time.perf_counter()
if sys.argv[3] == "ours":
    model = load_internlm2(sys.argv[2]).model
else:  # transformers' own loader on the same weights exported to the Llama layout
    model = AutoModelForCausalLM.from_pretrained(sys.argv[2], dtype=torch.float32)
    AutoTokenizer.from_pretrained(sys.argv[2])  # its saved tokenizer.json
model(torch.tensor([[1, 2, 3]]))  # touch every memory-mapped page
# load + first forward: a memory-mapped loader defers its page faults to the first forward,
# so timing the load call alone would flatter it
load_s = time.perf_counter() - t0
print(json.dumps({"weights_mb": weight_bytes(sys.argv[2]) / 2**20,
                  "peak_growth_mb": peak_mb() - before, "load_s": load_s}))
"""


def load_probe(folder: Path, loader: str = "ours") -> dict:
    """Load time and peak RSS growth of a fresh process that loads the checkpoint and runs
    one forward pass (RSS against the bytes of weights on disk: ideal ratio about 1)."""
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_PROBE, str(ROOT), str(folder), loader],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["growth_over_weights"] = result["peak_growth_mb"] / result["weights_mb"]
    return result


def load_vs_transformers(folder: Path, llama: Path, runs: int) -> dict:
    """Our loader (official InternLM2 keys, wqkv split on the fly, tokenizer converted from
    ``tokenizer.model``) against ``from_pretrained`` + ``AutoTokenizer`` of the same model
    already exported to the Llama layout with a ``tokenizer.json``; interleaved, medians."""
    from demo_core.internlm2.export_llama import export_llama

    export_llama(folder, llama)
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(load_probe(folder, "ours"))
        theirs.append(load_probe(llama, "transformers"))

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    return {
        "ours_load_s_median": med(ours, "load_s"),
        "transformers_load_s_median": med(theirs, "load_s"),
        "load_time_ratio_ours_over_transformers": med(ours, "load_s") / med(theirs, "load_s"),
        "ours_peak_growth_mb_median": med(ours, "peak_growth_mb"),
        "transformers_peak_growth_mb_median": med(theirs, "peak_growth_mb"),
    }


def main() -> None:
    args = arguments(
        hidden=512, layers=8, tokens=128, runs=5, rss_hidden=1024, rss_layers=16, load_runs=5
    ).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = build(Path(tmp) / "speed", args.hidden, args.layers)
        result = {"speed": speed(folder, args.tokens, args.runs)}
        for fmt in ("safetensors", "bin"):
            big = build(Path(tmp) / f"rss-{fmt}", args.rss_hidden, args.rss_layers, fmt)
            result[f"load_{fmt}"] = load_probe(big)
        result["load_vs_transformers"] = load_vs_transformers(
            Path(tmp) / "rss-safetensors", Path(tmp) / "llama", args.load_runs
        )
    result["config"] = vars(args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
