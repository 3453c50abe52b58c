"""First-generation InternLM: native loader vs. an independent reference, template, engine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from demo_core.internlm1.convert import llama_config_kwargs
from demo_core.internlm1.loader import load_internlm1, load_tokenizer
from demo_core.internlm1.template import render_chat
from demo_core.internlm1.tiny import build_tiny_internlm1
from demo_core.internlm2.checkpoint import iter_tensors
from tests.internlm1_reference import original_ids, original_prompt, reference_logits

IDS = [1, 5, 17, 42, 99, 3, 250, 7, 64, 128, 11, 300]
ROOT = Path(__file__).resolve().parents[1]
REAL_V1_TOKENIZER = Path(
    os.environ.get("DEMO_STUDIO_INTERNLM1_TOKENIZER")
    or ROOT.parent / "shared" / "fixtures" / "internlm1-tokenizer"
)


def _official(folder: Path) -> tuple[dict, dict]:
    return dict(iter_tensors(folder)), json.loads((folder / "config.json").read_text())


def _logits(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].double()


@pytest.mark.parametrize("release", ["chat-7b", "7b-original", "20b"])
@pytest.mark.parametrize("fmt", ["sharded_bin", "bin", "safetensors"])
def test_loader_matches_reference_forward(tmp_path, release, fmt):
    folder = build_tiny_internlm1(tmp_path / "m", release=release, weights_format=fmt, seed=7)
    sd, cfg = _official(folder)
    model = load_internlm1(folder).model
    diff = (_logits(model, IDS) - reference_logits(sd, cfg, IDS)).abs().max().item()
    assert diff < 1e-4


def test_biases_are_loaded_on_all_four_projections(tmp_path):
    folder = build_tiny_internlm1(tmp_path / "m", release="chat-7b")
    attn = load_internlm1(folder).model.model.layers[0].self_attn
    for proj in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj):
        assert proj.bias is not None and proj.bias.abs().sum() > 0


def test_negative_control_without_biases_disagrees(tmp_path):
    """Loading a 7B-style checkpoint as if ``bias`` were false drops real weights: wrong logits."""
    folder = build_tiny_internlm1(tmp_path / "m", release="chat-7b", seed=3)
    sd, cfg = _official(folder)
    ours = _logits(load_internlm1(folder).model, IDS)
    nobias = {k: v for k, v in sd.items() if not k.endswith(".bias")}
    wrong = reference_logits(nobias, cfg, IDS)
    assert (ours - wrong).abs().max().item() > 1e-3
    # and ignoring the 'rotary' block (a rope_theta-only reading) is not what we do either:
    assert llama_config_kwargs(cfg)["rope_parameters"]["rope_type"] == "dynamic"


def test_dynamic_ntk_past_max_positions(tmp_path):
    folder = build_tiny_internlm1(
        tmp_path / "m", release="chat-7b", max_position_embeddings=8, scaling_factor=2.0, seed=4
    )
    sd, cfg = _official(folder)
    ids = (IDS * 3)[:30]
    ours = _logits(load_internlm1(folder).model, ids)
    assert (ours - reference_logits(sd, cfg, ids)).abs().max().item() < 1e-4
    plain = reference_logits(sd, {**cfg, "rotary": None}, ids)
    assert (ours - plain).abs().max().item() > 1e-3


def test_first_code_ignores_rope_theta(tmp_path):
    """The first code hard-wires base 10000: a config's rope_theta must not change logits."""
    folder = build_tiny_internlm1(tmp_path / "m", release="20b", seed=5)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["rope_theta"] = 1e6
    (folder / "config.json").write_text(json.dumps(cfg))
    sd, _ = _official(folder)
    ours = _logits(load_internlm1(folder).model, IDS)
    assert (ours - reference_logits(sd, cfg, IDS)).abs().max().item() < 1e-4


# -- tokenizer and chat format -------------------------------------------------------------
HISTORY = [
    ("你好", "你好！我是书生·浦语。"),
    ("Tell me a joke", "Why did the robot cross the road?"),
]
QUERY = "请写一个 300 字的小故事"


def _check_template(tok_dir: Path) -> None:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tok_dir / "tokenizer.model"))
    tok = load_tokenizer(tok_dir)
    msgs = []
    for q, a in HISTORY:
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    msgs.append({"role": "user", "content": QUERY})
    # eoh release: build_inputs text, the tokenizer adds <s>
    ours = tok(render_chat(msgs, "eoh"), add_special_tokens=False)["input_ids"]
    assert ours == original_ids(sp, original_prompt(QUERY, HISTORY, "eoh"), add_bos=True)
    # v1.1 release with a meta instruction: <s> written out, add_bos_token off
    meta = "You are InternLM (书生·浦语)."
    with_meta = [{"role": "system", "content": meta}, *msgs]
    ours = tok(render_chat(with_meta, "v1.1"), add_special_tokens=False)["input_ids"]
    assert ours == original_ids(sp, original_prompt(QUERY, HISTORY, "v1.1", meta), add_bos=False)
    # and the tokenizer on its own adds exactly one <s>, as InternLMTokenizer does
    assert tok("hello")["input_ids"] == [1, *sp.encode("hello")]


def test_template_token_exact_on_tiny_tokenizer(tmp_path):
    _check_template(build_tiny_internlm1(tmp_path / "m"))


def test_template_token_exact_on_real_tokenizer():
    if not (REAL_V1_TOKENIZER / "tokenizer.model").is_file():
        pytest.skip(f"real InternLM (v1) tokenizer fixture not found at {REAL_V1_TOKENIZER}")
    _check_template(REAL_V1_TOKENIZER)
    tok = load_tokenizer(REAL_V1_TOKENIZER)
    ids = tok(render_chat([{"role": "user", "content": "你好"}]), add_special_tokens=False)
    # <s> <|User|>: 你好 <eoh> \n <|Bot|>:   -- <eoh> is 103027, <eoa> 103028, vocab 103168
    assert ids["input_ids"] == [
        1,
        333,
        352,
        1621,
        352,
        27232,
        76379,
        103027,
        364,
        333,
        352,
        23845,
        352,
        27232,
    ]
    assert len(tok) == 103168 and tok.convert_tokens_to_ids("<eoa>") == 103028


def test_system_prompt_and_formats():
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    assert render_chat(msgs, "eoh") == "<s><|System|>:S\n<|User|>:Q<eoh>\n<|Bot|>:"
    assert render_chat(msgs, "v1.1") == "<s><|System|>:S\n<|User|>:Q\n<|Bot|>:"
    with pytest.raises(ValueError):
        render_chat(msgs, "v9")


def test_engine_streams_and_stops_on_eoa(tmp_path, studio_home):
    from demo_core.engine.base import GenerationParams
    from demo_core.engine.manager import ModelManager

    manager = ModelManager(device=torch.device("cpu"))
    engine = manager.get("tiny-internlm")
    assert engine.info.extra["chat_format"] == "eoh"
    assert engine.loaded.stop_ids == sorted({2, engine.tokenizer.convert_tokens_to_ids("<eoa>")})
    gen = engine.stream_chat(
        [{"role": "user", "content": "hi"}], GenerationParams(max_new_tokens=8, do_sample=False)
    )
    text = gen.result()
    assert gen.stats.finish_reason in ("stop", "length")
    assert "<eoa>" not in text
