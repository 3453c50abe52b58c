"""The Llama-format export that lets servers without remote code serve InternLM2 weights."""

from __future__ import annotations

import json

import torch
from transformers import AutoTokenizer, LlamaForCausalLM

from demo_core.internlm2.export_llama import export_llama
from demo_core.internlm2.loader import load_internlm2, load_tokenizer
from demo_core.internlm2.template import render_chat


def test_exported_folder_loads_as_plain_llama_with_same_logits(tiny_model_dir, tmp_path):
    dest = export_llama(tiny_model_dir, tmp_path / "llama")
    cfg = json.loads((dest / "config.json").read_text())
    assert cfg["model_type"] == "llama" and "auto_map" not in cfg

    native = load_internlm2(tiny_model_dir)
    plain = LlamaForCausalLM.from_pretrained(dest)
    tok = AutoTokenizer.from_pretrained(dest)
    prompt = render_chat([{"role": "user", "content": "请写一个故事 about the sea"}])
    ids = native.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert tok(prompt, add_special_tokens=False)["input_ids"] == ids
    x = torch.tensor([ids])
    with torch.inference_mode():
        torch.testing.assert_close(plain(x).logits, native.model(x).logits)
    gen = json.loads((dest / "generation_config.json").read_text())
    assert sorted(gen["eos_token_id"]) == native.stop_ids  # stops on <|im_end|> too
    # the server applies this template to chat requests
    assert tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    ) == render_chat([{"role": "user", "content": "hi"}])


def test_real_tokenizer_survives_export(real_tokenizer_dir, tmp_path):
    """Token for token on the real InternLM2 vocabulary, special tokens and BOS included."""
    src = load_tokenizer(real_tokenizer_dir)
    src.save_pretrained(tmp_path)
    back = AutoTokenizer.from_pretrained(tmp_path)
    texts = [
        render_chat(
            [
                {"role": "system", "content": "You are InternLM (书生·浦语)."},
                {"role": "user", "content": "请写一个三百字的小故事 about 🐷\n\n  spaces\t!"},
            ]
        ),
        "<|action_start|><|interpreter|>\nprint(df.describe())<|action_end|>\n",
    ]
    for text in texts:
        ids = src(text, add_special_tokens=False)["input_ids"]
        assert back(text, add_special_tokens=False)["input_ids"] == ids
        assert back.decode(ids) == src.decode(ids)
    assert back("hi")["input_ids"] == src("hi")["input_ids"]  # BOS added the same way
