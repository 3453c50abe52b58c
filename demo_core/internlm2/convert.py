"""Map the official InternLM2 checkpoint layout onto transformers' Llama.

InternLM2 is Llama with renamed keys and a packed ``wqkv``. The hub's remote code is
broken on transformers 5, so instead of trusting it we rename the keys and split the
packed projection ourselves. The split is the subtle part: ``wqkv`` rows are grouped
per key/value head as ``(n_kv, g + 2, head_dim)`` -- g query heads, one key head, one
value head -- so a contiguous q|k|v split loads without error and silently gives wrong
logits. Every function here is pure (tensor in, tensor out) so that the XComposer2
loader can reuse it for its Partial-LoRA weights.
"""

from __future__ import annotations

import re
from typing import Any

import torch

# Per-layer renames, InternLM2 suffix -> Llama suffix.
_LAYER_RENAMES: dict[str, str] = {
    "attention.wo": "self_attn.o_proj",
    "feed_forward.w1": "mlp.gate_proj",
    "feed_forward.w3": "mlp.up_proj",
    "feed_forward.w2": "mlp.down_proj",
    "attention_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
_TOP_RENAMES: dict[str, str] = {
    "model.tok_embeddings.weight": "model.embed_tokens.weight",
    "model.norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_LAYER_RE = re.compile(r"^model\.layers\.(\d+)\.(.+)\.(weight|bias)$")


def llama_config_kwargs(cfg: dict[str, Any]) -> dict[str, Any]:
    """Translate an InternLM2 ``config.json`` dict into ``LlamaConfig`` keyword args."""
    n_heads = int(cfg["num_attention_heads"])
    n_kv = int(cfg.get("num_key_value_heads") or n_heads)
    rope: dict[str, Any] = {"rope_theta": float(cfg.get("rope_theta", 10000.0))}
    scaling = cfg.get("rope_scaling") or None
    if scaling:
        kind = scaling.get("type") or scaling.get("rope_type")
        if kind not in ("dynamic", "linear"):
            raise ValueError(f"unsupported InternLM2 rope_scaling type {kind!r}")
        rope.update(rope_type=kind, factor=float(scaling["factor"]))
    else:
        rope["rope_type"] = "default"
    return shared_llama_kwargs(cfg, n_heads, n_kv, rope, bias=False, pad=2)


def shared_llama_kwargs(
    cfg: dict[str, Any], n_heads: int, n_kv: int, rope: dict[str, Any], *, bias: bool, pad: int
) -> dict[str, Any]:
    """``LlamaConfig`` keyword arguments from the fields every InternLM generation's
    ``config.json`` names alike; the callers work out the kv heads and the rotary
    parameters, and give the defaults of ``bias`` and of ``pad_token_id`` (``pad``), which
    differ."""
    return dict(
        vocab_size=int(cfg["vocab_size"]),
        hidden_size=int(cfg["hidden_size"]),
        intermediate_size=int(cfg["intermediate_size"]),
        num_hidden_layers=int(cfg["num_hidden_layers"]),
        num_attention_heads=n_heads,
        num_key_value_heads=n_kv,
        hidden_act=cfg.get("hidden_act", "silu"),
        max_position_embeddings=int(cfg.get("max_position_embeddings", 2048)),
        rms_norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
        rope_parameters=rope,
        attention_bias=bool(cfg.get("bias", bias)),
        mlp_bias=False,
        tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        bos_token_id=cfg.get("bos_token_id", 1),
        eos_token_id=cfg.get("eos_token_id", 2),
        pad_token_id=cfg.get("pad_token_id", pad),
    )


def split_wqkv(
    wqkv: torch.Tensor, n_heads: int, n_kv: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split packed ``wqkv`` rows (weight or bias, or a LoRA B matrix) into q, k, v.

    Rows are ``(n_kv, g + 2, head_dim)``; query head ``i * g + j`` of the result is the
    j-th query of kv group i, which is exactly the order Llama's ``repeat_kv`` expects.
    """
    if n_heads % n_kv:
        raise ValueError(
            f"num_attention_heads {n_heads} is not a multiple of num_key_value_heads {n_kv}"
        )
    g = n_heads // n_kv
    rows = wqkv.shape[0]
    if rows % (n_kv * (g + 2)):
        raise ValueError(f"wqkv has {rows} rows, not divisible into {n_kv} groups of {g + 2} heads")
    head_dim = rows // (n_kv * (g + 2))
    grouped = wqkv.reshape(n_kv, g + 2, head_dim, *wqkv.shape[1:])
    q = grouped[:, :g].reshape(n_heads * head_dim, *wqkv.shape[1:])
    k = grouped[:, g].reshape(n_kv * head_dim, *wqkv.shape[1:])
    v = grouped[:, g + 1].reshape(n_kv * head_dim, *wqkv.shape[1:])
    return q.contiguous(), k.contiguous(), v.contiguous()


def pack_wqkv(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, n_heads: int, n_kv: int
) -> torch.Tensor:
    """Inverse of :func:`split_wqkv`; used to write checkpoints in the official layout."""
    g = n_heads // n_kv
    head_dim = q.shape[0] // n_heads
    rest = q.shape[1:]
    qg = q.reshape(n_kv, g, head_dim, *rest)
    kg = k.reshape(n_kv, 1, head_dim, *rest)
    vg = v.reshape(n_kv, 1, head_dim, *rest)
    return torch.cat([qg, kg, vg], dim=1).reshape(n_kv * (g + 2) * head_dim, *rest).contiguous()


def rename_key(key: str) -> str | None:
    """Llama name for one InternLM2 key (``None`` for keys we drop, e.g. rotary caches)."""
    if key in _TOP_RENAMES:
        return _TOP_RENAMES[key]
    m = _LAYER_RE.match(key)
    if not m:
        return None
    layer, body, kind = m.groups()
    if body in _LAYER_RENAMES:
        return f"model.layers.{layer}.{_LAYER_RENAMES[body]}.{kind}"
    return None


def convert_tensor(
    key: str, tensor: torch.Tensor, n_heads: int, n_kv: int
) -> dict[str, torch.Tensor]:
    """Convert one InternLM2 tensor into zero or more Llama tensors."""
    m = _LAYER_RE.match(key)
    if m and m.group(2) == "attention.wqkv":
        layer, kind = m.group(1), m.group(3)
        q, k, v = split_wqkv(tensor, n_heads, n_kv)
        prefix = f"model.layers.{layer}.self_attn"
        return {
            f"{prefix}.q_proj.{kind}": q,
            f"{prefix}.k_proj.{kind}": k,
            f"{prefix}.v_proj.{kind}": v,
        }
    new = rename_key(key)
    return {} if new is None else {new: tensor}


def to_internlm2_state_dict(
    llama_sd: dict[str, torch.Tensor], n_heads: int, n_kv: int
) -> dict[str, torch.Tensor]:
    """Llama state dict -> official InternLM2 keys (what the tiny test checkpoints are written with)."""
    inverse_layer = {v: k for k, v in _LAYER_RENAMES.items()}
    inverse_top = {v: k for k, v in _TOP_RENAMES.items()}
    out: dict[str, torch.Tensor] = {}
    layer_re = re.compile(r"^model\.layers\.(\d+)\.(.+)\.(weight|bias)$")
    for key, t in llama_sd.items():
        if key in inverse_top:
            out[inverse_top[key]] = t
            continue
        m = layer_re.match(key)
        if not m:
            continue
        layer, body, kind = m.groups()
        if body == "self_attn.q_proj":
            pre = f"model.layers.{layer}.self_attn"
            out[f"model.layers.{layer}.attention.wqkv.{kind}"] = pack_wqkv(
                t, llama_sd[f"{pre}.k_proj.{kind}"], llama_sd[f"{pre}.v_proj.{kind}"], n_heads, n_kv
            )
        elif body in inverse_layer:
            out[f"model.layers.{layer}.{inverse_layer[body]}.{kind}"] = t
    return out
