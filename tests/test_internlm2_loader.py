"""The native loader reproduces InternLM2 exactly, on tiny checkpoints in the official layout."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from demo_core.internlm2.checkpoint import CheckpointError, iter_tensors
from demo_core.internlm2.convert import pack_wqkv, split_wqkv
from demo_core.internlm2.loader import (
    build_llama,
    load_internlm2,
    materialise_state,
    rebuild_rotary,
)
from demo_core.internlm2.tiny import build_tiny_internlm2
from tests.internlm2_reference import naive_convert, reference_logits

IDS = [1, 5, 17, 42, 99, 3, 250, 7, 64, 128, 11, 300]


def _official(folder):
    return dict(iter_tensors(folder)), json.loads((folder / "config.json").read_text())


def _logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].double()


@pytest.mark.parametrize("heads,kv", [(4, 2), (4, 1), (4, 4), (8, 2)])
def test_loader_matches_reference_forward(tmp_path, heads, kv):
    folder = build_tiny_internlm2(
        tmp_path / "m", seed=heads * 10 + kv, num_attention_heads=heads, num_key_value_heads=kv
    )
    sd, cfg = _official(folder)
    model = load_internlm2(folder).model
    diff = (_logits(model, IDS) - reference_logits(sd, cfg, IDS)).abs().max().item()
    assert diff < 1e-4


def test_dynamic_rope_past_max_positions(tmp_path):
    folder = build_tiny_internlm2(tmp_path / "m", max_position_embeddings=8, seed=3)
    sd, cfg = _official(folder)
    model = load_internlm2(folder).model
    ids = (IDS * 3)[:30]  # 30 > 8 positions: dynamic NTK scaling is active
    ours = _logits(model, ids)
    assert (ours - reference_logits(sd, cfg, ids)).abs().max().item() < 1e-4
    # and the scaling really matters: without it the reference disagrees
    plain = reference_logits(sd, {**cfg, "rope_scaling": None}, ids)
    assert (ours - plain).abs().max().item() > 1e-3


def test_contiguous_qkv_split_is_wrong(tmp_path):
    """Negative control: the naive q|k|v split loads fine and gives different logits."""
    folder = build_tiny_internlm2(tmp_path / "m", seed=5)
    sd, cfg = _official(folder)
    model = build_llama(cfg, torch.float32)
    materialise_state(
        model, iter_tensors(folder), 4, 2, torch.device("cpu"), torch.float32, naive_convert
    )
    rebuild_rotary(model, torch.device("cpu"))
    diff = (_logits(model, IDS) - reference_logits(sd, cfg, IDS)).abs().max().item()
    assert diff > 1e-2


def test_split_and_pack_are_inverse():
    w = torch.randn(8 * 16 + 2 * 2 * 16, 32)  # 8 heads, 2 kv, head_dim 16
    q, k, v = split_wqkv(w, 8, 2)
    assert q.shape == (128, 32) and k.shape == (32, 32) and v.shape == (32, 32)
    assert torch.equal(pack_wqkv(q, k, v, 8, 2), w)
    # group 0 holds query heads 0..3, then k0, then v0
    assert (
        torch.equal(q[:16], w[:16])
        and torch.equal(k[:16], w[64:80])
        and torch.equal(v[:16], w[80:96])
    )


def test_kv_cache_greedy_equals_recompute(tiny_model_dir):
    model = load_internlm2(tiny_model_dir).model
    prompt = torch.tensor([IDS[:6]])
    out = model.generate(
        prompt, max_new_tokens=12, do_sample=False, eos_token_id=None, min_new_tokens=12
    )
    ids = IDS[:6]
    for _ in range(12):  # no cache: full forward every step
        ids = ids + [int(_logits(model, ids)[-1].argmax())]
    assert out[0].tolist() == ids


@pytest.mark.parametrize("fmt", ["bin", "sharded"])
def test_other_checkpoint_formats_load_identically(tmp_path, tiny_model_dir, fmt):
    other = build_tiny_internlm2(tmp_path / fmt, seed=0, weights_format=fmt)
    a = _logits(load_internlm2(tiny_model_dir).model, IDS)
    b = _logits(load_internlm2(other).model, IDS)
    assert torch.equal(a, b)


def test_rotary_buffers_are_real_not_meta(tiny_model_dir):
    model = load_internlm2(tiny_model_dir).model
    for name, buf in model.named_buffers():
        assert buf.device.type == "cpu", name
        assert torch.isfinite(buf).all(), name


def test_missing_tensor_is_a_clear_error(tmp_path):
    folder = build_tiny_internlm2(tmp_path / "m")
    sd = load_file(str(folder / "model.safetensors"))
    sd.pop("model.layers.1.feed_forward.w2.weight")
    from safetensors.torch import save_file

    save_file(sd, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="missing 1 tensor"):
        load_internlm2(folder)


def test_corrupt_weights_are_a_clear_error(tmp_path):
    folder = build_tiny_internlm2(tmp_path / "m")
    (folder / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_internlm2(folder)


def test_missing_shard_is_a_clear_error(tmp_path):
    folder = build_tiny_internlm2(tmp_path / "m", weights_format="sharded")
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing shard"):
        load_internlm2(folder)


def test_stop_ids_and_context(tiny_model_dir):
    lm = load_internlm2(tiny_model_dir)
    assert lm.stop_ids == sorted({2, lm.tokenizer.convert_tokens_to_ids("<|im_end|>")})
    assert lm.context_window == 1024
