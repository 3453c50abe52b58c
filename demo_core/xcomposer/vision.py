"""The CLIP ViT-L/14 vision tower and the ``vision_proj`` MLP, built from config.

The remote code downloads ``openai/clip-vit-large-patch14-336`` while constructing the
model and then overwrites it with the checkpoint's own ``vit.vision_tower.*`` weights;
we build the same ``CLIPVisionModel`` from a config (no download) and load only the
checkpoint's weights. The 336 px tower sees 24x24 patches; XComposer2-VL feeds 490 px
(35x35) and XComposer2 224 px (16x16), so the 24x24 position table is bicubically
interpolated to the image's grid, the CLS row kept as is -- once, at load time.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModel


def clip_config(vision: dict, img_size: int) -> CLIPVisionConfig:
    """A CLIPVisionConfig sized for ``img_size``: its position table has one row per patch
    of that image plus CLS, so no interpolation happens at run time."""
    return CLIPVisionConfig(
        hidden_size=int(vision["hidden_size"]),
        intermediate_size=int(vision["intermediate_size"]),
        num_hidden_layers=int(vision["num_hidden_layers"]),
        num_attention_heads=int(vision["num_attention_heads"]),
        patch_size=int(vision["patch_size"]),
        image_size=int(img_size),
        hidden_act=vision.get("hidden_act", "quick_gelu"),
        layer_norm_eps=float(vision.get("layer_norm_eps", 1e-5)),
        projection_dim=int(vision.get("projection_dim", 768)),
    )


def interpolate_pos_embedding(table: torch.Tensor, grid: int) -> torch.Tensor:
    """``[1 + n*n, dim]`` -> ``[1 + grid*grid, dim]``: CLS row kept, the n x n patch rows
    resized bicubically (align_corners=False), computed in float32."""
    rows, dim = table.shape
    n = math.isqrt(rows - 1)
    if n * n != rows - 1:
        raise ValueError(f"position table has {rows} rows, not 1 + a square")
    if n == grid:
        return table
    cls, patches = table[:1], table[1:]
    img = patches.float().reshape(1, n, n, dim).permute(0, 3, 1, 2)
    img = nn.functional.interpolate(img, size=(grid, grid), mode="bicubic", align_corners=False)
    resized = img.permute(0, 2, 3, 1).reshape(grid * grid, dim).to(table.dtype)
    return torch.cat([cls, resized], dim=0)


def build_projector(vision_hidden: int, hidden: int) -> nn.Sequential:
    """``vision_proj``: Linear -> GELU -> Linear (the original ``mlp2x_gelu``)."""
    return nn.Sequential(nn.Linear(vision_hidden, hidden), nn.GELU(), nn.Linear(hidden, hidden))


class VisionEncoder(nn.Module):
    """Pixels ``[n, 3, S, S]`` -> LLM-space image embeddings ``[n, grid*grid, hidden]``."""

    def __init__(self, vision: dict, img_size: int, llm_hidden: int) -> None:
        super().__init__()
        self.tower = CLIPVisionModel(clip_config(vision, img_size))
        self.proj = build_projector(int(vision["hidden_size"]), llm_hidden)
        self.img_size = img_size

    @property
    def dtype(self) -> torch.dtype:
        return self.proj[0].weight.dtype

    @property
    def device(self) -> torch.device:
        return self.proj[0].weight.device

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Last encoder layer (before post_layernorm), CLS dropped."""
        out = self.tower(pixel_values=pixels.to(device=self.device, dtype=self.dtype))
        return out.last_hidden_state[:, 1:]

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.proj(self.features(pixels))
