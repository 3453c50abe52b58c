"""Partial-LoRA: a Linear whose low-rank update applies at image positions only.

XComposer2 keeps InternLM2's text weights untouched and adds ``Plora_B(Plora_A(x)) *
alpha / r`` only where the token is an image patch. transformers' Llama has no way to
pass a per-token mask down to its Linear layers, so every PLoRA layer of one model reads
the mask from one shared :class:`ImageMask`, which the model's decoder sets from its own
inputs before each forward (see :func:`install_plora`): the prompt pass gets the mask
that was prepared with the image embeddings; decoding steps -- new text tokens, one at a
time through the KV cache -- get none.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional as F


class ImageMask:
    """The current ``im_mask`` (``[batch, seq]`` bool) of one model, or None for text."""

    def __init__(self) -> None:
        self.prepared: torch.Tensor | None = None  # mask for the next prompt pass
        self.active: torch.Tensor | None = None  # mask of the forward now running
        self._lock = threading.Lock()

    @contextmanager
    def use(self, mask: torch.Tensor | None) -> Iterator[None]:
        """Make ``mask`` the prompt mask for the duration of one generate()."""
        with self._lock:
            self.prepared = mask
            try:
                yield
            finally:
                self.prepared = None
                self.active = None

    def select_for(self, embeds: torch.Tensor | None) -> None:
        """Called before each decoder forward: the prepared mask applies to the pass whose
        ``inputs_embeds`` it was made for (same batch and length), never to later steps."""
        mask = self.prepared
        if mask is not None and embeds is not None and mask.shape[0] == 1 < embeds.shape[0]:
            mask = mask.expand(embeds.shape[0], -1)  # beam search: the prompt once per beam
        if mask is not None and embeds is not None and tuple(embeds.shape[:2]) == tuple(mask.shape):
            self.active = mask
        else:
            self.active = None


class PLoRALinear(nn.Module):
    """``y = W x + b`` everywhere, plus ``B(A x) * scaling`` where the image mask is set."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank: int,
        scaling: float,
        mask: ImageMask,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.scaling = scaling
        self.mask = mask
        self.weight = nn.Parameter(torch.empty(out_features, in_features), requires_grad=False)
        self.bias = nn.Parameter(torch.empty(out_features), requires_grad=False) if bias else None
        self.lora_A = nn.Parameter(torch.empty(rank, in_features), requires_grad=False)
        self.lora_B = nn.Parameter(torch.empty(out_features, rank), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight, self.bias)
        im = self.mask.active
        if im is None or tuple(im.shape) != tuple(x.shape[:-1]):
            return out
        part = x[im]
        if part.shape[0] == 0:
            return out
        delta = F.linear(F.linear(part, self.lora_A), self.lora_B) * self.scaling
        out[im] += delta.to(out.dtype)
        return out

    def extra_repr(self) -> str:
        return (
            f"in={self.in_features}, out={self.out_features}, r={self.lora_A.shape[0]}, "
            f"scaling={self.scaling}"
        )


# Llama module suffixes that carry PLoRA in XComposer2 (all attention and MLP linears).
PLORA_TARGETS = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)


def install_plora(model: nn.Module, rank: int, scaling: float) -> ImageMask:
    """Swap every attention/MLP Linear of a (meta-device) Llama for a PLoRA linear and hook
    the decoder so the shared mask follows its inputs. Returns the shared mask."""
    mask = ImageMask()
    for layer in model.model.layers:
        for target in PLORA_TARGETS:
            parent_name, _, attr = target.rpartition(".")
            parent = layer.get_submodule(parent_name)
            old: nn.Linear = getattr(parent, attr)
            with torch.device(old.weight.device):
                new = PLoRALinear(
                    old.in_features,
                    old.out_features,
                    rank,
                    scaling,
                    mask,
                    bias=old.bias is not None,
                )
            setattr(parent, attr, new.to(dtype=old.weight.dtype))

    def before_forward(module, args, kwargs):
        mask.select_for(kwargs.get("inputs_embeds"))

    model.model.register_forward_pre_hook(before_forward, with_kwargs=True)
    return mask
