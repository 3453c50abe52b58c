"""An independent first-generation InternLM forward pass, written from the original code's math.

Read from the releases' ``modeling_internlm.py`` (never imported; shares no code with
``demo_core``): ``InternLMRMSNorm`` (float32 variance, ``rms_norm_eps``), q/k/v/o
``nn.Linear(bias=config.bias)``, full multi-head attention scaled by 1/sqrt(head_dim) with a
causal mask, rotate-half rotary with ``base`` 10000 unless ``config.rotary`` says otherwise,
and the later code's dynamic NTK base once the sequence is longer than
``max_position_embeddings``; SwiGLU MLP without bias; untied ``lm_head``. Computed in float64.
"""

from __future__ import annotations

import math

import torch


def _rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotary_base(cfg: dict, seq_len: int, head_dim: int) -> float:
    rotary = cfg.get("rotary")
    if not rotary:  # the first code: InternLMRotaryEmbedding(head_dim, max_pos) -> base 10000
        return 10000.0
    base = float(rotary["base"])
    max_pos = cfg["max_position_embeddings"]
    if rotary["type"] == "dynamic" and seq_len > max_pos:
        f = float(rotary.get("scaling_factor", 1.0))
        base = base * ((f * seq_len / max_pos) - (f - 1)) ** (head_dim / (head_dim - 2))
    return base


def reference_logits(sd: dict[str, torch.Tensor], cfg: dict, ids: list[int]) -> torch.Tensor:
    """Logits ``[seq, vocab]`` for ``ids`` (one full forward, no cache)."""
    sd = {k: v.double() for k, v in sd.items()}
    n_heads, hidden = cfg["num_attention_heads"], cfg["hidden_size"]
    head_dim = hidden // n_heads
    eps = cfg["rms_norm_eps"]
    bias = cfg.get("bias", True)
    seq = len(ids)

    base = rotary_base(cfg, seq, head_dim)
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    angles = torch.outer(torch.arange(seq, dtype=torch.float64), inv_freq)
    emb = torch.cat([angles, angles], dim=-1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]

    def rotate(x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[..., : head_dim // 2], x[..., head_dim // 2 :]
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin

    def linear(x: torch.Tensor, name: str) -> torch.Tensor:
        y = x @ sd[f"{name}.weight"].T
        return y + sd[f"{name}.bias"] if bias and f"{name}.bias" in sd else y

    x = sd["model.embed_tokens.weight"][torch.tensor(ids)]
    mask = torch.full((seq, seq), float("-inf"), dtype=torch.float64).triu(1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = _rms_norm(x, sd[f"{p}.input_layernorm.weight"], eps)
        q = rotate(linear(h, f"{p}.self_attn.q_proj").view(seq, n_heads, head_dim))
        k = rotate(linear(h, f"{p}.self_attn.k_proj").view(seq, n_heads, head_dim))
        v = linear(h, f"{p}.self_attn.v_proj").view(seq, n_heads, head_dim)
        scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(head_dim) + mask
        out = torch.einsum("hqk,khd->qhd", torch.softmax(scores, dim=-1), v)
        x = x + linear(out.reshape(seq, hidden), f"{p}.self_attn.o_proj")
        h = _rms_norm(x, sd[f"{p}.post_attention_layernorm.weight"], eps)
        gate = torch.nn.functional.silu(h @ sd[f"{p}.mlp.gate_proj.weight"].T)
        x = x + (gate * (h @ sd[f"{p}.mlp.up_proj.weight"].T)) @ sd[f"{p}.mlp.down_proj.weight"].T
    x = _rms_norm(x, sd["model.norm.weight"], eps)
    return x @ sd["lm_head.weight"].T


def original_prompt(
    query: str, history: list[tuple[str, str]], release: str, meta: str = ""
) -> str:
    """The text ``build_inputs`` of each release hands to its tokenizer (written from it).

    ``eoh``: first chat-7b / chat-20b code (the tokenizer adds ``<s>``); ``v1.1``: the later
    chat-7b code, ``<s>`` written out (its tokenizer then has ``add_bos_token`` off).
    """
    if release == "eoh":
        prompt = ""
        for q, a in history:
            prompt += f"<|User|>:{q}<eoh>\n<|Bot|>:{a}<eoa>\n"
        return prompt + f"<|User|>:{query}<eoh>\n<|Bot|>:"
    prompt = f"<s><|System|>:{meta}\n" if meta else "<s>"
    for q, a in history:
        prompt += f"<|User|>:{q}\n<|Bot|>:{a}<eoa>\n"
    return prompt + f"<|User|>:{query}\n<|Bot|>:"


def original_ids(sp, text: str, add_bos: bool) -> list[int]:
    """``InternLMTokenizer``'s encoding: split on ``<s>``/``</s>`` (special), sentencepiece the
    rest, ``<s>`` in front when ``add_bos_token``."""
    import re

    ids = [1] if add_bos else []
    for part in re.split(r"(<s>|</s>)", text):
        if part == "<s>":
            ids.append(1)
        elif part == "</s>":
            ids.append(2)
        elif part:
            ids.extend(sp.encode(part))
    return ids
