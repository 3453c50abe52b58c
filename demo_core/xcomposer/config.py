"""What an XComposer2 checkpoint folder says about its own shape.

The hub's ``config.json`` describes the InternLM2 decoder plus ``img_size``; the CLIP
tower's shape lives in ``openai/clip-vit-large-patch14-336``'s config, which the remote
code downloads at load time. We never download: the CLIP-L/14-336 numbers are written
down here, and a checkpoint (our tiny test ones) may override them with a
``vision_config`` entry. The Partial-LoRA rank and alpha are read from ``config.json``
where present; the 7B releases hard-code ``lora_r = lora_alpha = 256`` (scaling 1.0) in
their remote code, so those are the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo_core.internlm2.checkpoint import CheckpointError
from demo_core.internlm2.loader import read_config

# openai/clip-vit-large-patch14-336, the tower every XComposer2 release starts from.
CLIP_L14_336: dict[str, Any] = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "patch_size": 14,
    "image_size": 336,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "projection_dim": 768,
}
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_LORA_R = 256
DEFAULT_LORA_ALPHA = 256


@dataclass(frozen=True)
class XComposerConfig:
    raw: dict[str, Any]
    img_size: int
    lora_r: int
    lora_alpha: float
    vision: dict[str, Any] = field(default_factory=dict)

    @property
    def lora_scaling(self) -> float:
        return self.lora_alpha / self.lora_r

    @property
    def grid(self) -> int:
        """Patches per side at ``img_size`` (35 for 490 px, 16 for 224 px)."""
        return self.img_size // int(self.vision["patch_size"])

    @property
    def tokens_per_image(self) -> int:
        return self.grid**2

    @property
    def context_window(self) -> int:
        """``max_length`` is what the model was trained at (4096); the rope table is longer."""
        window = int(self.raw.get("max_position_embeddings", 2048))
        if self.raw.get("max_length"):
            window = min(window, int(self.raw["max_length"]))
        return window


def parse_config(raw: dict[str, Any]) -> XComposerConfig:
    for key in ("hidden_size", "num_attention_heads", "num_hidden_layers", "vocab_size"):
        if key not in raw:
            raise CheckpointError(f"config.json lacks {key!r}; is this an XComposer2 checkpoint?")
    vision = {**CLIP_L14_336, **(raw.get("vision_config") or {})}
    img_size = int(raw.get("img_size") or vision["image_size"])
    if img_size % int(vision["patch_size"]):
        raise CheckpointError(
            f"img_size {img_size} is not a multiple of the patch size {vision['patch_size']}"
        )
    lora_r = int(raw.get("lora_r") or DEFAULT_LORA_R)
    lora_alpha = float(raw.get("lora_alpha") or DEFAULT_LORA_ALPHA)
    return XComposerConfig(
        raw=raw, img_size=img_size, lora_r=lora_r, lora_alpha=lora_alpha, vision=vision
    )


def load_config(path: Path) -> XComposerConfig:
    return parse_config(read_config(Path(path)))
