"""Map a first-generation InternLM ``config.json`` onto transformers' ``LlamaConfig``.

Read from the releases' own remote code (``modeling_internlm.py`` / ``configuration_internlm.py``
of internlm-7b, internlm-chat-7b, internlm-20b, internlm-chat-20b):

* the architecture is Llama's: RMSNorm (``rms_norm_eps``, 1e-6 in every release), SwiGLU MLP
  without bias, rotate-half rotary embeddings, untied ``lm_head``, full multi-head attention
  (no grouped kv);
* ``bias`` (default True in ``InternLMConfig``) puts a bias on **all four** of q/k/v/o --
  exactly what ``LlamaConfig.attention_bias`` does. The 7B releases have it, the 20B ones
  (``"bias": false``) do not;
* rotary base: the first code (7B of July 2023, both 20B) builds ``InternLMRotaryEmbedding``
  with its default ``base=10000`` and never reads ``rope_theta``/``rope_scaling``; the later
  chat-7b code reads ``config.rotary = {"base": B, "type": "origin"|"dynamic",
  "scaling_factor": f}``. Its "dynamic" is NTK scaling with the same formula as transformers'
  ``dynamic`` rope type (base * (f*L/max - (f-1)) ** (d/(d-2)) once L > max positions);
* checkpoint keys are already Llama's; old checkpoints also store
  ``self_attn.rotary_emb.inv_freq`` (a persistent buffer in the first code), which is
  recomputed and therefore dropped.

One behaviour is *not* reproduced: past ``max_position_embeddings`` the later remote code
re-rotates every cached key with the new base at each step (it caches un-rotated keys),
while transformers keeps keys rotated with the base of their time. The engine therefore
caps the context window at ``max_position_embeddings``, where both agree exactly.
"""

from __future__ import annotations

from typing import Any

import torch

from demo_core.internlm2.convert import shared_llama_kwargs

ORIGINAL_BASE = 10000.0  # InternLMRotaryEmbedding's default, used when the config has no "rotary"


def is_internlm1(cfg: dict[str, Any]) -> bool:
    """A first-generation InternLM config (``model_type: internlm``, not ``internlm2``)."""
    return cfg.get("model_type") == "internlm" or "InternLMForCausalLM" in (
        cfg.get("architectures") or []
    )


def rope_parameters(cfg: dict[str, Any]) -> dict[str, Any]:
    """transformers' ``rope_parameters`` for what the release's remote code computes."""
    rotary = cfg.get("rotary")
    if not rotary:
        return {"rope_type": "default", "rope_theta": ORIGINAL_BASE}
    kind = rotary.get("type", "origin")
    base = float(rotary.get("base", ORIGINAL_BASE))
    if kind == "origin":
        return {"rope_type": "default", "rope_theta": base}
    if kind == "dynamic":
        return {
            "rope_type": "dynamic",
            "rope_theta": base,
            "factor": float(rotary.get("scaling_factor", 1.0)),
        }
    raise ValueError(
        f"unsupported InternLM rotary type {kind!r} (the original accepts origin, dynamic)"
    )


def llama_config_kwargs(cfg: dict[str, Any]) -> dict[str, Any]:
    """``LlamaConfig`` keyword arguments for an InternLM (v1) ``config.json`` dict."""
    n_heads = int(cfg["num_attention_heads"])
    # the v1 code has no grouped kv (it ignores the field); InternLMConfig's bias default is True
    return shared_llama_kwargs(cfg, n_heads, n_heads, rope_parameters(cfg), bias=True, pad=0)


def convert_tensor(
    key: str, tensor: torch.Tensor, n_heads: int, n_kv: int
) -> dict[str, torch.Tensor]:
    """Keys are Llama's already; the stored rotary ``inv_freq`` buffers are dropped."""
    if key.endswith("rotary_emb.inv_freq"):
        return {}
    return {key: tensor}
