"""What the "How it works" panel costs: decode tok/s with the panel closed vs open.

Closed, a request runs exactly the code it ran before the panel existed (the recorder is
not in its processor list); open, the in-process engine records the prompt ids and, per
token, the raw and reshaped distributions' top-k (``demo_core.engine.recorder``). Both run
the same random-weight InternLM2 checkpoint -- with the real 92 544-entry vocabulary when
the real tokenizer fixture is there, since the recorder's softmax and top-k scale with
it -- the same prompt and settings, interleaved run by run, in one process.

    python benchmarks/explain_cost.py [--hidden 512 --layers 8 --tokens 128 --runs 7]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import arguments, model_shape  # noqa: E402

REAL_TOKENIZER = ROOT.parent / "shared" / "fixtures" / "internlm2-tokenizer"


def build(dest: Path, hidden: int, layers: int) -> tuple[Path, int]:
    """A random checkpoint; with the real tokenizer (and vocabulary) when it is here."""
    from safetensors.torch import save_file

    from demo_core.internlm2.tiny import (
        build_tiny_internlm2,
        random_internlm2_weights,
        tiny_config,
    )

    shape = model_shape(hidden, layers, max_position_embeddings=4096)
    if not (REAL_TOKENIZER / "tokenizer.model").is_file():
        folder = build_tiny_internlm2(dest, **shape)
        return folder, json.loads((folder / "config.json").read_text())["vocab_size"]
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.model", "tokenizer_config.json"):
        shutil.copy(REAL_TOKENIZER / name, dest / name)
    cfg = tiny_config(92544, **shape)
    (dest / "config.json").write_text(json.dumps(cfg))
    save_file(random_internlm2_weights(cfg, seed=0), str(dest / "model.safetensors"))
    return dest, 92544


def measure(folder: Path, tokens: int, runs: int) -> dict:
    import torch
    from transformers.utils import logging as hf_logging

    from demo_core.engine.base import EngineInfo, GenerationParams
    from demo_core.engine.local import TransformersEngine
    from demo_core.internlm2.loader import load_internlm2

    hf_logging.set_verbosity_error()  # "eos_token_id [-1]": intended, see below
    lm = load_internlm2(folder)
    # a random model may pick a stop token at any step: ignore them so every run decodes
    # the same number of tokens
    lm.stop_ids = [-1]
    lm.model.generation_config.eos_token_id = None
    engine = TransformersEngine(
        lm, EngineInfo("bench", "bench", "transformers", context_window=4096)
    )
    msgs = [{"role": "user", "content": "Write a 300-character story about a robot."}]
    closed = GenerationParams(max_new_tokens=tokens, temperature=0.8, top_p=0.8, top_k=40, seed=1)
    opened = replace(closed, explain=True)

    def one(params: GenerationParams) -> tuple[float, float]:
        """(wall-clock decode tok/s, tokens per CPU second of this process)."""
        cpu = time.process_time()
        gen = engine.stream_chat(msgs, params)
        gen.result()
        cpu = time.process_time() - cpu
        if params.explain:
            assert len(gen.trace.token_steps()) == gen.stats.new_tokens
        return gen.stats.tokens_per_s, gen.stats.new_tokens / cpu

    one(closed), one(opened)  # warm-up
    a, b = [], []
    for i in range(runs):  # ABBA order, so a drift in machine load hits both alike
        if i % 2:
            b.append(one(opened))
            a.append(one(closed))
        else:
            a.append(one(closed))
            b.append(one(opened))
    ca, cb = statistics.median(x for x, _ in a), statistics.median(x for x, _ in b)
    pa, pb = statistics.median(y for _, y in a), statistics.median(y for _, y in b)
    return {
        "closed_tok_s": round(ca, 1),
        "open_tok_s": round(cb, 1),
        "open_over_closed": round(cb / ca, 3),
        # CPU time is what the recorder adds; on a shared, loaded machine it is steadier
        # than wall-clock time
        "closed_tok_per_cpu_s": round(pa, 2),
        "open_tok_per_cpu_s": round(pb, 2),
        "open_over_closed_cpu": round(pb / pa, 3),
        "runs": runs,
        "tokens": tokens,
        "threads": torch.get_num_threads(),
        "load_average": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    args = arguments(
        __doc__.split("\n\n")[0], hidden=512, layers=8, tokens=128, runs=7
    ).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, vocab = build(Path(tmp) / "model", args.hidden, args.layers)
        result = measure(folder, args.tokens, args.runs)
    result.update(hidden=args.hidden, layers=args.layers, vocab=vocab)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
