"""Side-by-side check of the native v1 loader against the releases' own remote code.

Not collected by pytest (it needs a second virtual environment with an old transformers and
the hub's ``modeling_internlm.py`` / ``configuration_internlm.py`` / ``tokenization_internlm.py``,
which the project never ships). How it was run (2026-12-01)::

    python3 -m venv /tmp/orig && /tmp/orig/bin/pip install torch==2.13.0 transformers==4.34.1 \
        sentencepiece "numpy<2"
    .venv/bin/python tests/original_code_check.py --remote-code DIR --python /tmp/orig/bin/python

``DIR`` holds the three remote-code files of an official release. Stage 1 (this venv) builds
tiny random checkpoints in the v1 layout and records the native loader's logits, greedy ids
and chat prompt ids; stage 2 (the old venv, ``--stage2``) loads the same folders with
``trust_remote_code=True`` plus the release's ``build_inputs`` and prints the worst relative
logit difference and whether ids agree.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

QUERY = "请写一个 300 字的小故事 about a robot"
HISTORY = [["你好", "你好！我是书生·浦语。"]]
IDS = [1, 5, 17, 42, 99, 3, 250, 7, 64, 128, 11, 300]


def stage1(remote: Path, work: Path, python: str) -> int:
    import torch

    from demo_core.internlm1.loader import load_internlm1
    from demo_core.internlm1.template import render_chat
    from demo_core.internlm1.tiny import build_tiny_internlm1

    cases = []
    for release, fmt in (("7b-original", "sharded_bin"), ("20b", "bin")):
        folder = build_tiny_internlm1(work / release, release=release, weights_format=fmt, seed=11)
        for f in remote.glob("*.py"):
            shutil.copy(f, folder / f.name)
        loaded = load_internlm1(folder)
        with torch.no_grad():
            logits = loaded.model(torch.tensor([IDS])).logits[0].tolist()
        msgs = [{"role": "user", "content": HISTORY[0][0]}]
        msgs += [
            {"role": "assistant", "content": HISTORY[0][1]},
            {"role": "user", "content": QUERY},
        ]
        prompt_ids = loaded.tokenizer(render_chat(msgs, "eoh"), add_special_tokens=False)
        ids = torch.tensor([prompt_ids["input_ids"]])
        greedy = loaded.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=12,
            min_new_tokens=12,
            do_sample=False,
            eos_token_id=None,
        )[0].tolist()
        cases.append(
            {
                "release": release,
                "folder": str(folder),
                "logits": logits,
                "prompt_ids": prompt_ids["input_ids"],
                "greedy": greedy,
            }
        )
    record = work / "native.json"
    record.write_text(json.dumps(cases))
    return subprocess.call([python, __file__, "--stage2", str(record)])


def stage2(record: Path) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    worst, ok = 0.0, True
    for case in json.loads(record.read_text()):
        folder = case["folder"]
        tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
        model = AutoModelForCausalLM.from_pretrained(
            folder, trust_remote_code=True, torch_dtype=torch.float32
        ).eval()
        with torch.no_grad():
            ref = model(torch.tensor([IDS])).logits[0].double()
        ours = torch.tensor(case["logits"], dtype=torch.float64)
        rel = ((ours - ref).abs().max() / ref.abs().max()).item()
        worst = max(worst, rel)
        inputs = model.build_inputs(tok, QUERY, [tuple(h) for h in HISTORY])
        prompt_ids = inputs["input_ids"][0].tolist()
        out = model.generate(
            **inputs, max_new_tokens=12, min_new_tokens=12, do_sample=False, eos_token_id=None
        )[0].tolist()
        same_prompt = prompt_ids == case["prompt_ids"]
        same_greedy = out == case["greedy"]
        ok = ok and same_prompt and same_greedy and rel < 1e-4
        print(
            f"{case['release']}: worst relative logit difference {rel:.2e}; prompt ids "
            f"{'equal' if same_prompt else 'DIFFER'} ({len(prompt_ids)} tokens); greedy ids "
            f"{'equal' if same_greedy else 'DIFFER'}"
        )
        if not same_prompt:
            print("  original:", prompt_ids, "\n  native:  ", case["prompt_ids"])
    print(f"worst relative logit difference over all cases: {worst:.2e}")
    return 0 if ok else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--remote-code", type=Path)
    p.add_argument("--python")
    p.add_argument("--work", type=Path, default=Path("/tmp/internlm1-original-check"))
    p.add_argument("--stage2", type=Path)
    a = p.parse_args()
    if a.stage2:
        sys.exit(stage2(a.stage2))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(stage1(a.remote_code, a.work, a.python))
