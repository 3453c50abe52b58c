"""An independent InternLM2 forward pass written from the spec, for checking the loader.

It reads the official (packed ``wqkv``) state dict directly and shares no code with
``demo_core``: if the loader's key mapping or wqkv split were wrong, the two disagree.
"""

from __future__ import annotations

import math

import torch


def _rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    var = x.pow(2).mean(-1, keepdim=True)
    return x * torch.rsqrt(var + eps) * w


def _rope_base(cfg: dict, seq_len: int, head_dim: int) -> float:
    base = float(cfg["rope_theta"])
    scaling = cfg.get("rope_scaling")
    max_pos = cfg["max_position_embeddings"]
    if scaling and scaling["type"] == "dynamic" and seq_len > max_pos:
        factor = scaling["factor"]
        base = base * ((factor * seq_len / max_pos) - (factor - 1)) ** (head_dim / (head_dim - 2))
    return base


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    rotated = torch.cat([-x2, x1], dim=-1)
    return x * cos + rotated * sin


def reference_logits(sd: dict[str, torch.Tensor], cfg: dict, ids: list[int]) -> torch.Tensor:
    """Logits ``[seq, vocab]`` for ``ids`` under the InternLM2 architecture, in float64."""
    sd = {k: v.double() for k, v in sd.items()}
    n_heads, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hidden = cfg["hidden_size"]
    head_dim = hidden // n_heads
    groups = n_heads // n_kv
    eps = cfg["rms_norm_eps"]
    seq = len(ids)

    base = _rope_base(cfg, seq, head_dim)
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    angles = torch.outer(torch.arange(seq, dtype=torch.float64), inv_freq)
    cos = torch.cat([angles.cos(), angles.cos()], dim=-1)
    sin = torch.cat([angles.sin(), angles.sin()], dim=-1)

    x = sd["model.tok_embeddings.weight"][torch.tensor(ids)]
    mask = torch.full((seq, seq), float("-inf"), dtype=torch.float64).triu(1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = _rms_norm(x, sd[f"{p}.attention_norm.weight"], eps)
        qkv = h @ sd[f"{p}.attention.wqkv.weight"].T  # [seq, n_kv*(g+2)*hd]
        qkv = qkv.view(seq, n_kv, groups + 2, head_dim)
        q = qkv[:, :, :groups, :].reshape(seq, n_heads, head_dim)
        k = qkv[:, :, groups, :]  # [seq, n_kv, hd]
        v = qkv[:, :, groups + 1, :]
        q = _rotate(q, cos[:, None, :], sin[:, None, :])
        k = _rotate(k, cos[:, None, :], sin[:, None, :])
        out = torch.empty(seq, n_heads, head_dim, dtype=torch.float64)
        for head in range(n_heads):
            kv = head // groups
            scores = (q[:, head, :] @ k[:, kv, :].T) / math.sqrt(head_dim) + mask
            out[:, head, :] = torch.softmax(scores, dim=-1) @ v[:, kv, :]
        x = x + out.reshape(seq, hidden) @ sd[f"{p}.attention.wo.weight"].T
        h = _rms_norm(x, sd[f"{p}.ffn_norm.weight"], eps)
        gate = torch.nn.functional.silu(h @ sd[f"{p}.feed_forward.w1.weight"].T)
        up = h @ sd[f"{p}.feed_forward.w3.weight"].T
        x = x + (gate * up) @ sd[f"{p}.feed_forward.w2.weight"].T
    x = _rms_norm(x, sd["model.norm.weight"], eps)
    return x @ sd["output.weight"].T


def naive_convert(
    key: str, tensor: torch.Tensor, n_heads: int, n_kv: int
) -> dict[str, torch.Tensor]:
    """The tempting wrong conversion: ``wqkv`` split contiguously into q | k | v."""
    if key.endswith("attention.wqkv.weight"):
        layer = key.split(".")[2]
        hd = tensor.shape[1] // n_heads
        q, k, v = torch.split(tensor, [n_heads * hd, n_kv * hd, n_kv * hd])
        pre = f"model.layers.{layer}.self_attn"
        return {f"{pre}.q_proj.weight": q, f"{pre}.k_proj.weight": k, f"{pre}.v_proj.weight": v}
    from demo_core.internlm2.convert import convert_tensor

    return convert_tensor(key, tensor, n_heads, n_kv)
