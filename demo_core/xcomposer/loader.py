"""Load an official XComposer2(-VL) checkpoint without its remote code.

The decoder is transformers' ``LlamaForCausalLM`` (as for InternLM2) whose attention and
MLP linears are swapped for Partial-LoRA linears; the vision side is a ``CLIPVisionModel``
built from config plus the ``vision_proj`` MLP. Everything is created on the meta device
and filled tensor by tensor from the memory-mapped checkpoint, so the 17 GB pickled
``pytorch_model.bin`` never sits in RAM twice and nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from demo_core.internlm2.checkpoint import CheckpointError, iter_tensors
from demo_core.internlm2.loader import (
    CheckpointLoader,
    LoadedModel,
    _quiet_transformers,
    build_llama,
    loaded_model,
    materialise_state,
    rebuild_rotary,
    stop_ids_for,
)
from demo_core.xcomposer.config import XComposerConfig, load_config
from demo_core.xcomposer.convert import convert_xcomposer_tensor
from demo_core.xcomposer.plora import ImageMask, install_plora
from demo_core.xcomposer.vision import VisionEncoder

# The composition demo also stops on [UNUSED_TOKEN_0] (id 92397 in the real vocabulary).
EXTRA_STOP_TOKENS = ("[UNUSED_TOKEN_0]",)


@dataclass
class LoadedXComposer(LoadedModel):
    """A :class:`LoadedModel` (so the text engine can drive it) plus the vision side."""

    vision: VisionEncoder | None = None
    image_mask: ImageMask | None = None
    config: XComposerConfig | None = None


class _Root(nn.Module):
    """Gives the decoder and the vision encoder one namespace for loading."""

    def __init__(self, llm: nn.Module, vision: nn.Module) -> None:
        super().__init__()
        self.llm = llm
        self.vision = vision


def default_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the GPU has it (no fp16 overflow), fp16 on older GPUs, fp32 on CPU."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_xcomposer_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """The checkpoint's sentencepiece tokenizer through transformers' generic backend.

    XComposer2's ``tokenizer_config.json`` names a remote class in ``auto_map``, and
    AutoTokenizer refuses that without ``trust_remote_code``; the generic backend reads the
    same ``tokenizer.model`` faithfully (the chat markers are user-defined pieces).
    """
    from transformers import TokenizersBackend

    try:
        with _quiet_transformers():
            return TokenizersBackend.from_pretrained(str(path))
    except Exception as exc:
        raise CheckpointError(f"cannot load the tokenizer in {path}: {exc}") from exc


def xcomposer_stop_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    ids = set(stop_ids_for(tokenizer))
    for tok in ("[UNUSED_TOKEN_145]", *EXTRA_STOP_TOKENS):
        i = tokenizer.convert_tokens_to_ids(tok)
        if isinstance(i, int) and i != tokenizer.unk_token_id:
            ids.add(i)
    return sorted(ids)


def build_xcomposer2(
    path: Path, device: torch.device, dtype: torch.dtype, attn_implementation: str
) -> LoadedXComposer:
    xcfg = load_config(path)
    tokenizer = load_xcomposer_tokenizer(path)

    llm = build_llama(xcfg.raw, dtype)
    llm.config._attn_implementation = attn_implementation
    image_mask = install_plora(llm, xcfg.lora_r, xcfg.lora_scaling)
    with torch.device("meta"):
        vision = VisionEncoder(xcfg.vision, xcfg.img_size, llm.config.hidden_size)
    vision = vision.to(dtype=dtype)
    vision.tower.config._attn_implementation = attn_implementation
    root = _Root(llm, vision)

    n_heads, n_kv = llm.config.num_attention_heads, llm.config.num_key_value_heads

    expected = set(root.state_dict())
    unexpected: list[str] = []

    def convert(key: str, tensor: torch.Tensor, nh: int, nkv: int) -> dict[str, torch.Tensor]:
        out = convert_xcomposer_tensor(key, tensor, nh, nkv, xcfg.grid)
        # e.g. wqkv biases while config.json says bias: false -- never drop those silently
        unexpected.extend(k for k in out if k not in expected)
        return out

    materialise_state(root, iter_tensors(path), n_heads, n_kv, device, dtype, convert=convert)
    if unexpected:
        raise CheckpointError(
            f"the checkpoint has {len(unexpected)} tensor(s) its config.json does not describe, "
            f"e.g. {unexpected[:3]}; is config.json (e.g. 'bias') from another model?"
        )
    _share_qkv_lora_a(llm)
    rebuild_rotary(llm, device)
    emb = vision.tower.embeddings
    emb.position_ids = torch.arange(emb.num_positions, device=device).expand((1, -1))
    leftovers = [n for n, t in [*root.named_parameters(), *root.named_buffers()] if t.is_meta]
    if leftovers:
        raise CheckpointError(f"not initialised after loading: {leftovers[:3]}")
    root.eval()

    stop = xcomposer_stop_ids(tokenizer)
    return loaded_model(
        LoadedXComposer,
        llm,
        tokenizer,
        path,
        stop,
        xcfg.context_window,
        vision=vision,
        image_mask=image_mask,
        config=xcfg,
    )


#: ``load_xcomposer2(path, device="cpu", dtype=None, attn_implementation="sdpa")``
load_xcomposer2 = CheckpointLoader(build_xcomposer2, default_dtype)


def _share_qkv_lora_a(llm: nn.Module) -> None:
    """q, k and v got one copy each of ``wqkv.Plora_A``; keep one (saves ~128 MB on 7B)."""
    for layer in llm.model.layers:
        attn = layer.self_attn
        if not torch.equal(attn.q_proj.lora_A, attn.k_proj.lora_A):
            raise CheckpointError("q/k/v Plora_A differ; the checkpoint is not XComposer2")
        attn.k_proj.lora_A = attn.q_proj.lora_A
        attn.v_proj.lora_A = attn.q_proj.lora_A
