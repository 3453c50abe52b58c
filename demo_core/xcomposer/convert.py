"""Map official XComposer2 checkpoint keys onto our modules.

The checkpoint is InternLM2 (renamed and split exactly as :mod:`demo_core.internlm2.convert`
does) plus, on every attention/MLP linear, ``Plora_A``/``Plora_B``; plus the CLIP tower
under ``vit.vision_tower.vision_model.*`` and the projector under ``vision_proj.{0,2}``.
``wqkv.Plora_B`` rows are in the packed wqkv layout, so the same ``split_wqkv`` cuts them
into q, k and v; ``wqkv.Plora_A`` acts on the input and is shared by all three.
Anything else (rotary caches, ``position_ids``, other adapters' weights) is dropped.
"""

from __future__ import annotations

import re

import torch

from demo_core.internlm2.convert import convert_tensor, split_wqkv
from demo_core.xcomposer.vision import interpolate_pos_embedding

LLM = "llm."
VISION = "vision."
_VIT_PREFIX = "vit.vision_tower.vision_model."
_PROJ_RE = re.compile(r"^vision_proj\.(\d+)\.(weight|bias)$")
_LORA_RE = re.compile(
    r"^model\.layers\.(\d+)\.(attention\.wqkv|attention\.wo|feed_forward\.w[123])"
    r"\.Plora_([AB])\.weight$"
)
_LORA_TARGET = {
    "attention.wo": "self_attn.o_proj",
    "feed_forward.w1": "mlp.gate_proj",
    "feed_forward.w3": "mlp.up_proj",
    "feed_forward.w2": "mlp.down_proj",
}
POS_KEY = "embeddings.position_embedding.weight"


def convert_xcomposer_tensor(
    key: str, tensor: torch.Tensor, n_heads: int, n_kv: int, grid: int
) -> dict[str, torch.Tensor]:
    """One checkpoint tensor -> zero or more ``{our_name: tensor}`` entries."""
    if key.startswith(_VIT_PREFIX):
        name = key[len(_VIT_PREFIX) :]
        if name == POS_KEY:
            tensor = interpolate_pos_embedding(tensor, grid)
        return {f"{VISION}tower.{name}": tensor}
    m = _PROJ_RE.match(key)
    if m:
        return {f"{VISION}proj.{m.group(1)}.{m.group(2)}": tensor}
    m = _LORA_RE.match(key)
    if m:
        layer, body, which = m.groups()
        pre = f"{LLM}model.layers.{layer}"
        if body == "attention.wqkv":
            names = [f"{pre}.self_attn.{p}_proj" for p in "qkv"]
            if which == "A":
                return {f"{n}.lora_A": tensor for n in names}
            parts = split_wqkv(tensor, n_heads, n_kv)
            return {f"{n}.lora_B": t for n, t in zip(names, parts, strict=True)}
        return {f"{pre}.{_LORA_TARGET[body]}.lora_{which}": tensor}
    out = convert_tensor(key, tensor, n_heads, n_kv)
    # a PLoRA linear keeps the Llama Linear's parameter names (weight, bias)
    return {f"{LLM}{k}": v for k, v in out.items()}
