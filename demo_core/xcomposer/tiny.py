"""Tiny random XComposer2 checkpoints in the official on-disk layout.

Written like the hub's releases -- ``config.json`` with ``model_type:
internlmxcomposer2`` and ``img_size``, one pickled ``pytorch_model.bin`` under the
official key names (packed ``wqkv``, ``Plora_A``/``Plora_B`` on every linear,
``vit.vision_tower.vision_model.*``, ``vision_proj.{0,2}``), a tokenizer config that
points at the remote tokenizer class -- so they go through the very loader the 7B model
goes through. The CLIP table is stored at its pre-training grid, so loading the "VL"
flavour exercises the position interpolation. Output is noise.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from demo_core.internlm2.tiny import random_internlm2_weights, tiny_config, write_tiny_tokenizer
from demo_core.xcomposer.vision import clip_config

TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "patch_size": 14,
    "image_size": 28,  # pre-training grid 2x2 (the real tower: 336 px, 24x24)
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "projection_dim": 16,
}
FLAVOURS = {"composition": 28, "vl": 42}  # img_size: 2x2 grid as stored, or 3x3 interpolated

_LINEARS = (
    "attention.wqkv",
    "attention.wo",
    "feed_forward.w1",
    "feed_forward.w2",
    "feed_forward.w3",
)


def tiny_xcomposer_config(
    vocab: int, flavour: str, *, lora_r: int = 4, lora_alpha: float = 8.0, **overrides
) -> dict:
    cfg = tiny_config(vocab, **overrides)
    cfg.update(
        architectures=["InternLMXComposer2ForCausalLM"],
        auto_map={
            "AutoConfig": "configuration_internlm_xcomposer2.InternLMXcomposer2Config",
            "AutoModel": "modeling_internlm_xcomposer2.InternLMXComposer2ForCausalLM",
            "AutoModelForCausalLM": "modeling_internlm_xcomposer2.InternLMXComposer2ForCausalLM",
        },
        model_type="internlmxcomposer2",
        img_size=FLAVOURS[flavour],
        max_length=cfg["max_position_embeddings"],
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        vision_config=dict(TINY_VISION),
    )
    return cfg


def random_xcomposer_weights(cfg: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under the official XComposer2 key names."""
    sd = random_internlm2_weights(cfg, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    r = int(cfg["lora_r"])

    def rnd(*shape: int, scale: float = 0.2) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * scale

    for i in range(cfg["num_hidden_layers"]):
        for lin in _LINEARS:
            out_f, in_f = sd[f"model.layers.{i}.{lin}.weight"].shape
            sd[f"model.layers.{i}.{lin}.Plora_A.weight"] = rnd(r, in_f)
            sd[f"model.layers.{i}.{lin}.Plora_B.weight"] = rnd(out_f, r)
    vision = cfg["vision_config"]
    from transformers import CLIPVisionModel

    torch.manual_seed(seed + 2)
    tower = CLIPVisionModel(clip_config(vision, vision["image_size"]))
    for name, t in tower.state_dict().items():
        sd[f"vit.vision_tower.vision_model.{name}"] = (
            t.clone()
            if not name.endswith("position_embedding.weight")
            else rnd(*t.shape, scale=0.5)
        )
    vh, h = vision["hidden_size"], cfg["hidden_size"]
    sd["vision_proj.0.weight"] = rnd(h, vh)
    sd["vision_proj.0.bias"] = rnd(h, scale=0.02)
    sd["vision_proj.2.weight"] = rnd(h, h)
    sd["vision_proj.2.bias"] = rnd(h, scale=0.02)
    return sd


def xcomposer_tokenizer_config(dest: Path) -> None:
    """Rewrite the tiny tokenizer's config the way XComposer2 ships it: a remote tokenizer
    class in ``auto_map`` and no added-token table (the chat markers are sentencepiece
    user-defined pieces)."""
    path = dest / "tokenizer_config.json"
    cfg = json.loads(path.read_text())
    cfg = {
        "auto_map": {
            "AutoTokenizer": ["tokenization_internlm_xcomposer2.InternLMXComposer2Tokenizer", None]
        },
        "tokenizer_class": "InternLMXComposer2Tokenizer",
        "bos_token": cfg["bos_token"],
        "eos_token": cfg["eos_token"],
        "pad_token": cfg["pad_token"],
        "unk_token": cfg["unk_token"],
        "clean_up_tokenization_spaces": False,
        "model_max_length": cfg["model_max_length"],
    }
    path.write_text(json.dumps(cfg, indent=2))


def build_tiny_xcomposer2(
    dest: str | Path,
    *,
    flavour: str = "vl",
    seed: int = 0,
    tokenizer_vocab: int = 600,
    **config_overrides,
) -> Path:
    """Write a complete tiny XComposer2 checkpoint (``flavour``: ``composition`` | ``vl``)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; use one of {', '.join(FLAVOURS)}")
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    vocab = write_tiny_tokenizer(dest, tokenizer_vocab)
    xcomposer_tokenizer_config(dest)
    cfg = tiny_xcomposer_config(vocab, flavour, **config_overrides)
    (dest / "config.json").write_text(json.dumps(cfg, indent=2))
    torch.save(random_xcomposer_weights(cfg, seed), str(dest / "pytorch_model.bin"))
    (dest / "README.md").write_text(
        f"# Tiny random XComposer2 ({flavour}, test model)\n\nRandom weights in the official "
        "XComposer2 layout. Its output is noise: it exists to exercise the app without "
        "downloading a model.\n"
    )
    return dest
