"""The GPU figures in one run, with no downloads: random weights at the real shapes.

Builds random-weight checkpoints in the official on-disk layouts -- InternLM2-Chat-1.8B and
-7B (InternLM2 keys, packed ``wqkv``, sharded safetensors with an index) and
XComposer2-VL-7B (PLoRA on every linear, the CLIP ViT-L/14-336 tower stored at its 24x24
grid, ``vision_proj``; sharded pickled ``.bin`` with an index) -- loads them through the app's
own loaders, and measures:

- decode tok/s at batch 1 for ``eager`` / ``static`` / ``compiled`` against the bound
  ``memory bandwidth / bytes of weights`` (bandwidth measured here with a device copy, and
  the datasheet figure where the GPU is known: both printed, the bound uses the measured one);
- time to first token for a ~1k-token prompt;
- aggregate tok/s and p50/p95 first-token latency for 1, 4, 8, 16 sessions, batched vs
  queued (``benchmarks/batching.py``);
- load time and peak device memory against the bytes of weights;
- XComposer2 image-encode time per image (490 px, CLIP tower + projector).

On a machine without CUDA (or with ``--cpu-small``) it runs the same steps at reduced
shapes, which is how it is tested. Rows print as they are measured (so a run cut short still
reports), then the whole table. ``--budget-s`` skips what is left once time runs out.

    python benchmarks/gpu_suite.py                  # on the GPU machine: real shapes
    python benchmarks/gpu_suite.py --cpu-small      # reduced shapes (automatic without CUDA)
    python benchmarks/gpu_suite.py --json $OUT/gpu.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import batching as batching_bench  # noqa: E402
from demo_core.engine.base import EngineInfo, GenerationParams  # noqa: E402

GB = 1024**3


@dataclass(frozen=True)
class Shape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    max_positions: int = 32768
    vision: dict | None = None  # CLIP tower config for XComposer2, None for InternLM2
    img_size: int = 490

    def sizes(self) -> dict:
        """The language model's sizes, as tiny_config and tiny_xcomposer_config take them."""
        return dict(
            hidden_size=self.hidden,
            intermediate_size=self.intermediate,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            num_key_value_heads=self.kv_heads,
            max_position_embeddings=self.max_positions,
        )

    def config(self, vocab: int | None = None) -> dict:
        from demo_core.internlm2.tiny import tiny_config

        return tiny_config(vocab or self.vocab, **self.sizes())


def _clip_l() -> dict:
    from demo_core.xcomposer.config import CLIP_L14_336

    return dict(CLIP_L14_336)


REAL = {
    "internlm2-chat-1_8b": Shape(2048, 8192, 24, 16, 8, 92544),
    "internlm2-chat-7b": Shape(4096, 14336, 32, 32, 8, 92544),
    "internlm-xcomposer2-vl-7b": Shape(4096, 14336, 32, 32, 8, 92544, vision=_clip_l()),
}
SMALL_VISION = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "patch_size": 14,
    "image_size": 112,  # stored 8x8 grid, interpolated to 16x16 at 224 px
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "projection_dim": 64,
}
SMALL = {
    "internlm2-chat-1_8b": Shape(512, 1408, 8, 8, 2, 2048, 4096),
    "internlm2-chat-7b": Shape(768, 2048, 8, 12, 4, 2048, 4096),
    "internlm-xcomposer2-vl-7b": Shape(
        256, 704, 4, 4, 2, 2048, 4096, vision=SMALL_VISION, img_size=224
    ),
}
TINY = {  # for the test: every step, seconds
    "internlm2-chat-1_8b": Shape(64, 128, 2, 4, 2, 700, 2048),
    "internlm2-chat-7b": Shape(64, 128, 2, 4, 2, 700, 2048),
    "internlm-xcomposer2-vl-7b": Shape(
        64, 128, 2, 4, 2, 700, 2048, vision={**SMALL_VISION, "hidden_size": 32}, img_size=224
    ),
}
DATASHEET_GBPS = {  # HBM bandwidth by product name (GB/s, 1e9)
    "H200": 4800,
    "H100 80GB HBM3": 3350,
    "H100 SXM": 3350,
    "H100 PCIe": 2000,
    "H100": 3350,
    "A100-SXM4-80GB": 2039,
    "A100 80GB PCIe": 1935,
    "A100-SXM4-40GB": 1555,
    "A100": 1555,
}


# -- checkpoints ----------------------------------------------------------------------


def _rand(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device, scale: float):
    return (torch.randn(shape, device=device, dtype=torch.float32) * scale).to(dtype)


def _layer_tensors(
    i: int, s: Shape, dtype: torch.dtype, device: torch.device, lora_r: int
) -> dict[str, torch.Tensor]:
    """One decoder layer under the official InternLM2 keys (plus PLoRA for XComposer2)."""
    from demo_core.internlm2.convert import to_internlm2_state_dict

    hd = s.hidden // s.heads
    p = f"model.layers.{i}"
    h, inter = s.hidden, s.intermediate
    llama = {
        f"{p}.self_attn.q_proj.weight": _rand((s.heads * hd, h), dtype, device, 0.02),
        f"{p}.self_attn.k_proj.weight": _rand((s.kv_heads * hd, h), dtype, device, 0.02),
        f"{p}.self_attn.v_proj.weight": _rand((s.kv_heads * hd, h), dtype, device, 0.02),
        f"{p}.self_attn.o_proj.weight": _rand((h, s.heads * hd), dtype, device, 0.02),
        f"{p}.mlp.gate_proj.weight": _rand((inter, h), dtype, device, 0.02),
        f"{p}.mlp.up_proj.weight": _rand((inter, h), dtype, device, 0.02),
        f"{p}.mlp.down_proj.weight": _rand((h, inter), dtype, device, 0.02),
        f"{p}.input_layernorm.weight": torch.ones(h, dtype=dtype, device=device),
        f"{p}.post_attention_layernorm.weight": torch.ones(h, dtype=dtype, device=device),
    }
    out = to_internlm2_state_dict(llama, s.heads, s.kv_heads)
    if s.vision is not None:
        for name in [k for k in out if k.endswith(".weight") and out[k].dim() == 2]:
            base = name[: -len(".weight")]
            out_f, in_f = out[name].shape
            out[f"{base}.Plora_A.weight"] = _rand((lora_r, in_f), dtype, device, 0.02)
            out[f"{base}.Plora_B.weight"] = _rand((out_f, lora_r), dtype, device, 0.02)
    return out


def _vision_tensors(s: Shape, dtype: torch.dtype, device: torch.device) -> dict:
    from transformers import CLIPVisionModel

    from demo_core.xcomposer.vision import clip_config

    assert s.vision is not None
    with torch.device(device):
        tower = CLIPVisionModel(clip_config(s.vision, s.vision["image_size"]))
    out = {f"vit.vision_tower.vision_model.{k}": v.to(dtype) for k, v in tower.state_dict().items()}
    vh = s.vision["hidden_size"]
    out["vision_proj.0.weight"] = _rand((s.hidden, vh), dtype, device, 0.02)
    out["vision_proj.0.bias"] = torch.zeros(s.hidden, dtype=dtype, device=device)
    out["vision_proj.2.weight"] = _rand((s.hidden, s.hidden), dtype, device, 0.02)
    out["vision_proj.2.bias"] = torch.zeros(s.hidden, dtype=dtype, device=device)
    return out


def write_checkpoint(
    dest: Path, s: Shape, dtype: torch.dtype, device: torch.device, shard_bytes: int = 4 * GB
) -> Path:
    """Random weights at shape ``s`` in the official layout, generated tensor by tensor on
    ``device`` (fast on a GPU) and written in shards with an index, as the hub releases are."""
    from safetensors.torch import save_file

    from demo_core.internlm2.tiny import write_tiny_tokenizer
    from demo_core.xcomposer.config import DEFAULT_LORA_R
    from demo_core.xcomposer.tiny import tiny_xcomposer_config, xcomposer_tokenizer_config

    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    write_tiny_tokenizer(dest)  # ids past its 600 pieces decode to "" (noise either way)
    xcomposer = s.vision is not None
    lora_r = 0
    if xcomposer:
        xcomposer_tokenizer_config(dest)
        real = s.hidden >= 1024
        lora_r = DEFAULT_LORA_R if real else 8
        cfg = tiny_xcomposer_config(
            s.vocab, "vl", lora_r=lora_r, lora_alpha=float(lora_r), **s.sizes()
        )
        cfg.update(img_size=s.img_size, max_length=4096, vision_config=s.vision)
        if real:  # as the release ships it: CLIP-L and PLoRA 256/256 are the loader's defaults
            for k in ("lora_r", "lora_alpha", "vision_config"):
                cfg.pop(k)
    else:
        cfg = s.config()
    cfg["torch_dtype"] = str(dtype).replace("torch.", "")
    (dest / "config.json").write_text(json.dumps(cfg, indent=2))
    ext, prefix = (".bin", "pytorch_model") if xcomposer else (".safetensors", "model")

    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0

    def add(tensors: dict[str, torch.Tensor]) -> None:
        nonlocal size
        for k, v in tensors.items():
            nbytes = v.numel() * v.element_size()
            if size and size + nbytes > shard_bytes:
                flush()
            shards[-1][k] = v.cpu().contiguous()
            size += nbytes

    written: list[str] = []
    weight_map: dict[str, str] = {}

    def flush() -> None:
        nonlocal size
        if not shards[-1]:
            return
        name = f"{prefix}-part{len(written) + 1:05d}{ext}"
        if xcomposer:
            torch.save(shards[-1], dest / name)
        else:
            save_file(shards[-1], str(dest / name))
        weight_map.update(dict.fromkeys(shards[-1], name))
        written.append(name)
        shards.append({})
        size = 0

    add(
        {
            "model.tok_embeddings.weight": _rand((s.vocab, s.hidden), dtype, device, 0.5),
            "model.norm.weight": torch.ones(s.hidden, dtype=dtype, device=device),
            "output.weight": _rand((s.vocab, s.hidden), dtype, device, 0.05),
        }
    )
    for i in range(s.layers):
        add(_layer_tensors(i, s, dtype, device, lora_r))
    if xcomposer:
        add(_vision_tensors(s, dtype, device))
    flush()
    # official names: <prefix>-0000k-of-0000n, and the index the loaders read
    final = {}
    for k, name in enumerate(written, 1):
        new = f"{prefix}-{k:05d}-of-{len(written):05d}{ext}"
        (dest / name).rename(dest / new)
        final[name] = new
    index = {"metadata": {}, "weight_map": {k: final[v] for k, v in weight_map.items()}}
    (dest / f"{prefix}{ext}.index.json").write_text(json.dumps(index))
    return dest


# -- measurements ---------------------------------------------------------------------


def measured_bandwidth(device: torch.device, nbytes: int) -> float:
    """Bytes/s of a device-to-device copy (read + write counted)."""
    n = nbytes // 2
    x = torch.empty(n, dtype=torch.bfloat16, device=device)
    y = torch.empty_like(x)
    y.copy_(x)
    _sync(device)
    reps = 10
    t = time.perf_counter()
    for _ in range(reps):
        y.copy_(x)
    _sync(device)
    return 2 * n * 2 * reps / (time.perf_counter() - t)


def datasheet_bandwidth(device: torch.device) -> tuple[str, float | None]:
    if device.type != "cuda":
        return "CPU", None
    name = torch.cuda.get_device_name(device)
    for key, gbps in DATASHEET_GBPS.items():  # most specific names first
        if key in name:
            return name, gbps * 1e9
    return name, None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _engine(loaded, decode: str = "eager", sessions: int = 0):
    from demo_core.engine.batching import BatchSettings
    from demo_core.engine.local import TransformersEngine

    info = EngineInfo("suite", "suite", "transformers", context_window=loaded.context_window)
    return TransformersEngine(
        loaded, info, decode=decode, batching=BatchSettings(sessions=sessions)
    )


def greedy(tokens: int) -> GenerationParams:
    return GenerationParams(max_new_tokens=tokens, do_sample=False, repetition_penalty=1.0)


def decode_speed(engine, tokens: int, runs: int) -> float:
    prompt = engine.render_chat([{"role": "user", "content": "Write a story about the sea."}])
    engine.stream_text(prompt, greedy(8)).result()  # warm-up (compiles, for compiled)
    engine.stream_text(prompt, greedy(8)).result()
    speeds = []
    for _ in range(runs):
        gen = engine.stream_text(prompt, greedy(tokens))
        gen.result()
        speeds.append(gen.stats.tokens_per_s)
    return statistics.median(speeds)


def ttft(engine, prompt_tokens: int, runs: int) -> float:
    text = "The quick brown fox jumps over the lazy dog. "
    text *= max(1, prompt_tokens // max(1, engine.count_tokens(text)))
    prompt = engine.render_chat([{"role": "user", "content": text}])
    engine.stream_text(prompt, greedy(2)).result()
    times = []
    for _ in range(runs):
        gen = engine.stream_text(prompt, greedy(2))
        gen.result()
        times.append(gen.stats.ttft_s or 0.0)
    return statistics.median(times)


def human(nbytes: float) -> str:
    return f"{nbytes / GB:.2f} GB" if nbytes >= GB / 10 else f"{nbytes / 2**20:.1f} MB"


def param_bytes(module: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters())


@dataclass
class Table:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def add(self, model: str, what: str, value: str, note: str = "") -> None:
        self.rows.append((model, what, value, note))
        print(f"[{time.perf_counter() - self.started:6.1f}s] {model} | {what} | {value} | {note}")
        sys.stdout.flush()

    def markdown(self) -> str:
        lines = ["| model | what | figure | note |", "|---|---|---|---|"]
        lines += [f"| {m} | {w} | {v} | {n} |" for m, w, v, n in self.rows]
        return "\n".join(lines)


@dataclass
class Plan:
    shapes: dict[str, Shape]
    device: torch.device
    dtype: torch.dtype
    tokens: int
    runs: int
    sessions: list[int]
    prompt_tokens: int
    budget_s: float
    session_tokens: int = 64  # new tokens per reply in the sessions table
    modes: tuple[str, ...] = ("eager", "static", "compiled")


def _load(path: Path, key: str, device: torch.device, dtype: torch.dtype):
    if "xcomposer" in key:
        from demo_core.xcomposer.loader import load_xcomposer2

        return load_xcomposer2(path, device=device, dtype=dtype)
    from demo_core.internlm2.loader import load_internlm2

    return load_internlm2(path, device=device, dtype=dtype)


def run(plan: Plan, work: Path) -> Table:
    table = Table()
    dev = plan.device
    name, sheet = datasheet_bandwidth(dev)
    bw = measured_bandwidth(dev, 2 * GB if dev.type == "cuda" else 256 * 2**20)
    table.add(
        name,
        "memory bandwidth",
        f"{bw / 1e9:.0f} GB/s measured",
        (f"datasheet {sheet / 1e9:.0f} GB/s" if sheet else "no datasheet figure"),
    )

    def out_of_time() -> bool:
        return time.perf_counter() - table.started > plan.budget_s

    for key, shape in plan.shapes.items():
        if out_of_time():
            table.add(key, "skipped", "-", "time budget spent")
            continue
        t = time.perf_counter()
        folder = write_checkpoint(work / key, shape, plan.dtype, dev)
        written = time.perf_counter() - t
        if dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
        t = time.perf_counter()
        loaded = _load(folder, key, dev, plan.dtype)
        _sync(dev)
        load_s = time.perf_counter() - t
        weights = param_bytes(loaded.model) + (
            param_bytes(loaded.vision) if getattr(loaded, "vision", None) is not None else 0
        )
        peak = (
            f"peak {human(torch.cuda.max_memory_allocated(dev) - base)} = "
            f"{(torch.cuda.max_memory_allocated(dev) - base) / weights:.2f}x the weights"
            if dev.type == "cuda"
            else "peak device memory: n/a on CPU"
        )
        table.add(
            key,
            "load time",
            f"{load_s:.1f} s",
            f"{weights / GB:.2f} GB weights; {peak}; checkpoint written in {written:.1f} s",
        )
        if "xcomposer" in key:
            _xcomposer_rows(table, key, loaded, plan)
        else:
            _text_rows(table, key, loaded, plan, bw, weights, out_of_time)
        del loaded
        shutil.rmtree(folder, ignore_errors=True)
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return table


def _text_rows(
    table: Table, key: str, loaded, plan: Plan, bw: float, weights: int, out_of_time
) -> None:
    bound = bw / weights
    for mode in plan.modes:
        if out_of_time():
            table.add(key, f"decode tok/s, {mode}", "-", "skipped: time budget spent")
            continue
        engine = _engine(loaded, decode=mode)
        actual = engine.decode
        speed = decode_speed(engine, plan.tokens, plan.runs)
        note = f"{speed / bound:.0%} of the bound {bound:.0f} tok/s"
        if actual != mode:
            note += f"; ran as {actual} ({engine.info.extra.get('decode_note', '')})"
        table.add(key, f"decode tok/s batch 1, {mode}", f"{speed:.1f}", note)
        if mode == "compiled" and "forward" in loaded.model.__dict__:
            del loaded.model.forward  # back to the plain forward for what follows
    if out_of_time():
        return
    engine = _engine(loaded)
    table.add(
        key,
        f"time to first token, {plan.prompt_tokens}-token prompt",
        f"{ttft(engine, plan.prompt_tokens, plan.runs) * 1000:.0f} ms",
        "eager, queued path",
    )
    if out_of_time():
        return
    result = batching_bench.compare(loaded, plan.sessions, plan.session_tokens, runs=2)
    table.add(
        key,
        "1 session, batching on vs off",
        f"{result['single_ratio']:.2f}x",
        f"{result['single_batched_tok_s']:.1f} vs {result['single_queued_tok_s']:.1f} tok/s",
    )
    for r in result["rows"]:
        q, b = r["queued"], r["batched"]
        table.add(
            key,
            f"{r['sessions']} sessions: aggregate tok/s batched / queued",
            f"{b['aggregate_tok_s']:.1f} / {q['aggregate_tok_s']:.1f} ({r['aggregate_ratio']:.2f}x)",
            f"first token p50/p95 batched {b['first_token_s_p50']:.2f}/{b['first_token_s_p95']:.2f} s, "
            f"queued {q['first_token_s_p50']:.2f}/{q['first_token_s_p95']:.2f} s"
            + (f"; errors {b['errors'] + q['errors']}" if b["errors"] or q["errors"] else ""),
        )


def _xcomposer_rows(table: Table, key: str, loaded, plan: Plan) -> None:
    size = loaded.config.img_size
    pixels = torch.randn(1, 3, size, size, device=plan.device, dtype=plan.dtype)
    with torch.inference_mode():
        loaded.vision(pixels)  # warm-up
        _sync(plan.device)
        times = []
        for _ in range(max(3, plan.runs)):
            t = time.perf_counter()
            loaded.vision(pixels)
            _sync(plan.device)
            times.append(time.perf_counter() - t)
    table.add(
        key,
        f"image encode ({size} px, tower + projector)",
        f"{statistics.median(times) * 1000:.0f} ms/image",
        f"{loaded.config.tokens_per_image} tokens",
    )


def make_plan(args: argparse.Namespace) -> Plan:
    cuda = torch.cuda.is_available() and not args.cpu_small and not args.tiny
    if cuda:
        return Plan(
            REAL,
            torch.device("cuda"),
            torch.bfloat16,
            args.tokens or 128,
            args.runs or 3,
            args.sessions,
            args.prompt_tokens,
            args.budget_s,
            session_tokens=args.tokens or 64,
        )
    shapes = TINY if args.tiny else SMALL
    return Plan(
        shapes,
        torch.device("cpu"),
        torch.float32,
        args.tokens or (8 if args.tiny else 32),
        args.runs or (1 if args.tiny else 2),
        args.sessions,
        args.prompt_tokens,
        args.budget_s,
        session_tokens=args.tokens or (8 if args.tiny else 32),
    )


def main(argv: list[str] | None = None) -> Table:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu-small", action="store_true", help="reduced shapes (auto without CUDA)")
    ap.add_argument("--tiny", action="store_true", help="smallest shapes: the test's quick run")
    ap.add_argument("--tokens", type=int, default=0, help="new tokens per reply")
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--prompt-tokens", type=int, default=1000)
    ap.add_argument("--budget-s", type=float, default=420.0, help="skip what is left after this")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--work", type=Path, help="where checkpoints are written (default: temp)")
    args = ap.parse_args(argv)
    plan = make_plan(args)
    print(
        f"device {plan.device}, dtype {plan.dtype}, shapes: "
        f"{'real' if plan.device.type == 'cuda' else 'reduced'}"
    )
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        table = run(plan, Path(tmp))
    print()
    print(table.markdown())
    if args.json:
        args.json.write_text(json.dumps({"rows": table.rows}, indent=2, ensure_ascii=False))
    return table


if __name__ == "__main__":
    main()
