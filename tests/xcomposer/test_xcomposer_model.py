"""The native XComposer2 model against independent references built from the spec."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch.nn import functional as F

from demo_core.internlm2.checkpoint import CheckpointError
from demo_core.internlm2.loader import load_internlm2
from demo_core.xcomposer.config import parse_config
from demo_core.xcomposer.loader import load_xcomposer2
from demo_core.xcomposer.plora import ImageMask, PLoRALinear
from demo_core.xcomposer.vision import interpolate_pos_embedding

LINEARS = (
    "attention.wqkv",
    "attention.wo",
    "feed_forward.w1",
    "feed_forward.w2",
    "feed_forward.w3",
)


def _internlm2_copy(src: Path, dest: Path, sd: dict[str, torch.Tensor], merge: bool) -> Path:
    """An InternLM2 checkpoint with the XComposer base weights -- or, with ``merge``, with
    ``W + B @ A * alpha/r`` (in the packed official layout), which is what every position
    of an all-image sequence must compute."""
    cfg = json.loads((src / "config.json").read_text())
    scaling = cfg["lora_alpha"] / cfg["lora_r"]
    dest.mkdir(parents=True)
    for name in ("tokenizer.model", "tokenizer_config.json"):
        shutil.copy(src / name, dest / name)
    base = {k: v for k, v in sd.items() if k.startswith(("model.", "output.")) and "Plora" not in k}
    if merge:
        for k in list(base):
            stem = k.rsplit(".", 1)[0]
            if stem.split(".", 3)[-1] in LINEARS:
                a, b = sd[f"{stem}.Plora_A.weight"], sd[f"{stem}.Plora_B.weight"]
                base[k] = base[k] + (b @ a) * scaling
    cfg["model_type"] = "internlm2"
    (dest / "config.json").write_text(json.dumps(cfg))
    save_file({k: v.contiguous() for k, v in base.items()}, str(dest / "model.safetensors"))
    return dest


@pytest.fixture(scope="module")
def xc(tiny_vl_dir):
    return load_xcomposer2(tiny_vl_dir)


def test_tiny_checkpoint_uses_the_official_key_layout(checkpoint, tiny_vl_dir):
    keys = set(checkpoint)
    for lin in LINEARS:
        assert f"model.layers.0.{lin}.weight" in keys
        assert f"model.layers.1.{lin}.Plora_A.weight" in keys
        assert f"model.layers.1.{lin}.Plora_B.weight" in keys
    assert "model.tok_embeddings.weight" in keys and "output.weight" in keys
    assert "vit.vision_tower.vision_model.embeddings.position_embedding.weight" in keys
    assert "vit.vision_tower.vision_model.encoder.layers.1.mlp.fc2.bias" in keys
    assert {"vision_proj.0.weight", "vision_proj.2.bias"} <= keys
    cfg = json.loads((tiny_vl_dir / "config.json").read_text())
    assert cfg["model_type"] == "internlmxcomposer2" and cfg["img_size"] == 42
    assert "auto_map" in json.loads((tiny_vl_dir / "tokenizer_config.json").read_text())


def test_text_only_equals_plain_internlm2(xc, checkpoint, tiny_vl_dir, tmp_path):
    ref = load_internlm2(_internlm2_copy(tiny_vl_dir, tmp_path / "base", checkpoint, merge=False))
    ids = torch.tensor([[1, 5, 80, 81, 200, 13, 7, 300]])
    with torch.no_grad():
        want = ref.model(input_ids=ids).logits
        got_ids = xc.model(input_ids=ids).logits
        embeds = xc.model.get_input_embeddings()(ids)
        with xc.image_mask.use(torch.zeros(ids.shape, dtype=torch.bool)):
            got_embeds = xc.model(inputs_embeds=embeds).logits
    torch.testing.assert_close(got_ids, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_embeds, want, rtol=1e-5, atol=1e-5)


def test_image_positions_compute_merged_lora_weights(xc, checkpoint, tiny_vl_dir, tmp_path):
    """All positions masked == a plain model whose packed weights had B@A*alpha/r added
    before splitting: checks the Plora_B split, the shared Plora_A and the scaling."""
    merged = load_internlm2(_internlm2_copy(tiny_vl_dir, tmp_path / "m", checkpoint, merge=True))
    plain = load_internlm2(_internlm2_copy(tiny_vl_dir, tmp_path / "p", checkpoint, merge=False))
    embeds = torch.randn(1, 6, xc.model.config.hidden_size) * 0.5
    with torch.no_grad():
        want = merged.model(inputs_embeds=embeds).logits
        text = plain.model(inputs_embeds=embeds).logits
        with xc.image_mask.use(torch.ones(1, 6, dtype=torch.bool)):
            got = xc.model(inputs_embeds=embeds).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(got, text, atol=1e-3)  # the LoRA really changes something


def test_mixed_mask_only_changes_image_positions_and_after(xc):
    embeds = torch.randn(1, 7, xc.model.config.hidden_size) * 0.5
    mask = torch.tensor([[False, False, False, True, True, False, False]])
    with torch.no_grad():
        plain = xc.model(inputs_embeds=embeds).logits
        with xc.image_mask.use(mask):
            mixed = xc.model(inputs_embeds=embeds).logits
    torch.testing.assert_close(mixed[:, :3], plain[:, :3])  # causal: before the image
    assert not torch.allclose(mixed[:, 3:], plain[:, 3:], atol=1e-4)


def test_plora_linear_matches_the_formula():
    mask = ImageMask()
    lin = PLoRALinear(5, 3, rank=2, scaling=0.5, mask=mask, bias=True)
    for p in lin.parameters():
        p.data.normal_()
    x = torch.randn(2, 4, 5)
    im = torch.tensor([[True, False, False, True], [False, False, True, False]])
    mask.prepared = im
    mask.select_for(x)
    y = lin(x)
    base = x @ lin.weight.T + lin.bias
    want = base + im.unsqueeze(-1) * ((x @ lin.lora_A.T @ lin.lora_B.T) * 0.5)
    torch.testing.assert_close(y, want)
    mask.select_for(x[:, :1])  # a decoding step: other length -> plain
    torch.testing.assert_close(lin(x[:, :1]), base[:, :1])


def test_cached_decoding_treats_new_tokens_as_text(vl_engine):
    """Greedy generate() (KV cache, mask only on the prompt pass) equals recomputing the
    whole sequence each step with the mask False on generated tokens."""
    from PIL import Image

    from demo_core.engine.base import Generation, GenerationParams
    from demo_core.xcomposer.engine import InterleavedPrompt
    from demo_core.xcomposer.images import pixels_for

    img = Image.new("RGB", (60, 40), (30, 140, 220))
    parts = vl_engine.tokenize_parts(["<|im_start|>user\n", 0, "what?<|im_end|>\n"], "each")
    prompt = InterleavedPrompt(parts, pixels_for([img], vl_engine.img_size))
    text_ids = [t for p in parts if isinstance(p, list) for t in p]
    params = GenerationParams(max_new_tokens=6, do_sample=False, repetition_penalty=1.0)
    ids = vl_engine.tokenizer.convert_tokens_to_ids
    gen = vl_engine._start(Generation(), prompt, replace(params, keep_special_tokens=True))
    gen.result()
    assert gen.stats.new_tokens == 6
    model = vl_engine.model
    with torch.no_grad():
        embeds, mask = vl_engine.embed(prompt)
        table = model.get_input_embeddings()
        want: list[int] = []
        for _ in range(6):
            extra = table(torch.tensor([want], dtype=torch.long)) if want else embeds[:, :0]
            full = torch.cat([embeds, extra], dim=1)
            m = torch.cat([mask, torch.zeros(1, len(want), dtype=torch.bool)], dim=1)
            with vl_engine.image_mask.use(m):
                logits = model(inputs_embeds=full).logits
            want.append(int(logits[0, -1].argmax()))
    decoded = vl_engine.tokenizer.decode(want, skip_special_tokens=False)
    assert gen.text == decoded.split("<|im_end|>")[0] or gen.text == decoded
    assert text_ids and ids("<|im_end|>") in vl_engine.loaded.stop_ids


def _reference_clip(sd: dict[str, torch.Tensor], pixels: torch.Tensor, cfg: dict, grid: int):
    """CLIP ViT forward written from the architecture, straight from checkpoint tensors."""
    v = cfg["vision_config"]
    p = "vit.vision_tower.vision_model."
    heads, dim = v["num_attention_heads"], v["hidden_size"]
    x = F.conv2d(pixels, sd[p + "embeddings.patch_embedding.weight"], stride=v["patch_size"])
    x = x.flatten(2).transpose(1, 2)
    cls = sd[p + "embeddings.class_embedding"].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1)
    table = sd[p + "embeddings.position_embedding.weight"]
    n = int((table.shape[0] - 1) ** 0.5)
    patch = table[1:].reshape(1, n, n, dim).permute(0, 3, 1, 2)
    patch = F.interpolate(patch, size=(grid, grid), mode="bicubic", align_corners=False)
    x = x + torch.cat([table[:1], patch.permute(0, 2, 3, 1).reshape(-1, dim)])

    def ln(t, name):
        return F.layer_norm(t, (dim,), sd[p + name + ".weight"], sd[p + name + ".bias"], 1e-5)

    def lin(t, name):
        return F.linear(t, sd[p + name + ".weight"], sd[p + name + ".bias"])

    x = ln(x, "pre_layrnorm")
    b, t, _ = x.shape
    hd = dim // heads
    for i in range(v["num_hidden_layers"]):
        L = f"encoder.layers.{i}."
        h = ln(x, L + "layer_norm1")
        q, k, vv = (
            lin(h, L + f"self_attn.{n}_proj").view(b, t, heads, hd).transpose(1, 2) for n in "qkv"
        )
        att = torch.softmax(q @ k.transpose(-1, -2) / hd**0.5, dim=-1) @ vv
        x = x + lin(att.transpose(1, 2).reshape(b, t, dim), L + "self_attn.out_proj")
        h = lin(ln(x, L + "layer_norm2"), L + "mlp.fc1")
        x = x + lin(h * torch.sigmoid(1.702 * h), L + "mlp.fc2")
    feats = x[:, 1:]
    h = F.gelu(F.linear(feats, sd["vision_proj.0.weight"], sd["vision_proj.0.bias"]))
    return F.linear(h, sd["vision_proj.2.weight"], sd["vision_proj.2.bias"])


def test_vision_tower_equals_reference(xc, checkpoint, tiny_vl_dir):
    cfg = json.loads((tiny_vl_dir / "config.json").read_text())
    pixels = torch.randn(2, 3, 42, 42)
    with torch.no_grad():
        got = xc.vision(pixels)
    want = _reference_clip(checkpoint, pixels, cfg, grid=3)
    assert got.shape == (2, 9, cfg["hidden_size"])
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_position_interpolation_24_to_35_keeps_cls():
    table = torch.randn(577, 8)
    out = interpolate_pos_embedding(table, 35)
    assert out.shape == (1226, 8)
    torch.testing.assert_close(out[0], table[0])
    const = torch.full((577, 4), 0.25)
    torch.testing.assert_close(interpolate_pos_embedding(const, 35), torch.full((1226, 4), 0.25))
    assert interpolate_pos_embedding(table, 24) is table  # already the right grid
    small = interpolate_pos_embedding(table, 16)  # XComposer2 (composition) at 224 px
    assert small.shape == (257, 8)
    with pytest.raises(ValueError, match="square"):
        interpolate_pos_embedding(torch.randn(11, 4), 3)


def test_config_reads_lora_and_image_size():
    base = {"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 10}
    c = parse_config({**base, "img_size": 490, "lora_r": 8, "lora_alpha": 16})
    assert (c.img_size, c.grid, c.tokens_per_image, c.lora_scaling) == (490, 35, 1225, 2.0)
    d = parse_config({**base, "img_size": 224})
    assert (d.lora_r, d.lora_alpha, d.grid) == (256, 256, 16)
    with pytest.raises(CheckpointError, match="multiple"):
        parse_config({**base, "img_size": 500})
    with pytest.raises(CheckpointError, match="hidden_size"):
        parse_config({"img_size": 490})


def test_missing_lora_tensor_and_wrong_rank_are_clear_errors(checkpoint, tiny_vl_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_vl_dir, broken)
    sd = dict(checkpoint)
    del sd["model.layers.1.feed_forward.w2.Plora_B.weight"]
    torch.save(sd, str(broken / "pytorch_model.bin"))
    with pytest.raises(CheckpointError, match="missing"):
        load_xcomposer2(broken)
    cfg = json.loads((tiny_vl_dir / "config.json").read_text())
    torch.save(checkpoint, str(broken / "pytorch_model.bin"))
    (broken / "config.json").write_text(json.dumps({**cfg, "lora_r": 8}))
    with pytest.raises(CheckpointError, match="shape"):
        load_xcomposer2(broken)


def test_tokenizer_loads_without_remote_code_and_bos_policy(vl_engine):
    assert vl_engine.markers.im_start == "<|im_start|>"
    parts = vl_engine.tokenize_parts(["a", 0, "b", 1, "c"], "each")
    assert [p[0] for p in parts if isinstance(p, list)] == [1, 1, 1]
    parts = vl_engine.tokenize_parts(["a", 0, "b"], "first")
    assert parts[0][0] == 1 and parts[2][0] != 1
    assert vl_engine.prompt_length(parts) == len(parts[0]) + 9 + len(parts[2])


def test_tensors_the_config_does_not_describe_are_an_error(checkpoint, tiny_vl_dir, tmp_path):
    broken = tmp_path / "biased"
    shutil.copytree(tiny_vl_dir, broken)
    sd = dict(checkpoint)
    rows = sd["model.layers.0.attention.wqkv.weight"].shape[0]
    sd["model.layers.0.attention.wqkv.bias"] = torch.zeros(rows)  # config says bias: false
    torch.save(sd, str(broken / "pytorch_model.bin"))
    with pytest.raises(CheckpointError, match="does not describe"):
        load_xcomposer2(broken)


def test_pixels_are_bicubic_resized_and_clip_normalised():
    from PIL import Image

    from demo_core.xcomposer.config import CLIP_MEAN, CLIP_STD
    from demo_core.xcomposer.images import to_pixels

    img = Image.new("RGB", (30, 20), (255, 0, 128))
    px = to_pixels(img, 14)
    assert px.shape == (3, 14, 14) and px.dtype == torch.float32
    want = [(v / 255.0 - m) / s for v, m, s in zip((255, 0, 128), CLIP_MEAN, CLIP_STD, strict=True)]
    torch.testing.assert_close(px[:, 7, 7], torch.tensor(want), rtol=1e-5, atol=1e-5)
