"""Tiny random-weight first-generation InternLM checkpoints in the official v1 layout.

Written as the hub releases are: ``config.json`` with ``model_type: internlm``,
``InternLMForCausalLM`` and ``auto_map`` pointing at the remote code (never run here),
weights under Llama key names in pickled ``pytorch_model*.bin`` shards with an index (as
every v1 release ships them; ``safetensors`` too for the converted copies), the old
persistent ``rotary_emb.inv_freq`` buffers included, a sentencepiece ``tokenizer.model``
with ``<eoh>``/``<eoa>`` pieces and the original ``tokenizer_config.json`` (class
``InternLMTokenizer``). ``release`` picks the config style:

* ``chat-7b`` -- biases on q/k/v/o and the later code's ``rotary: {type: dynamic}``;
* ``7b-original`` -- biases, no ``rotary`` (the first code: fixed base 10000);
* ``20b`` -- no biases, no ``rotary``, 4096 positions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from demo_core.internlm1.template import EOA, EOH
from demo_core.internlm2.tiny import random_llama_weights, train_sentencepiece, write_two_shards

RELEASES = ("chat-7b", "7b-original", "20b")


def write_tiny_tokenizer(dest: Path, vocab_size: int = 600) -> int:
    """``tokenizer.model`` + the original ``tokenizer_config.json``; returns the vocab size."""
    import sentencepiece as spm

    dest.mkdir(parents=True, exist_ok=True)
    model_bytes = train_sentencepiece(vocab_size, [EOH, EOA])
    (dest / "tokenizer.model").write_bytes(model_bytes)
    specials = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>"}
    config = {
        "auto_map": {"AutoTokenizer": ["tokenization_internlm.InternLMTokenizer", None]},
        **specials,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 1000000000000000019884624838656,
        "tokenizer_class": "InternLMTokenizer",
    }
    (dest / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    (dest / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))
    return spm.SentencePieceProcessor(model_proto=model_bytes).get_piece_size()


def tiny_config(
    vocab_size: int,
    *,
    release: str = "chat-7b",
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    intermediate_size: int = 128,
    max_position_embeddings: int | None = None,
    scaling_factor: float | None = None,
) -> dict:
    """A v1 ``config.json`` dict with the release's fields, tiny sizes."""
    if release not in RELEASES:
        raise ValueError(f"unknown release {release!r}; choose one of {', '.join(RELEASES)}")
    big = release == "20b"
    cfg = {
        "architectures": ["InternLMForCausalLM"],
        "auto_map": {
            "AutoConfig": "configuration_internlm.InternLMConfig",
            "AutoModel": "modeling_internlm.InternLMForCausalLM",
            "AutoModelForCausalLM": "modeling_internlm.InternLMForCausalLM",
        },
        "bias": not big,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": intermediate_size,
        "max_position_embeddings": max_position_embeddings or (4096 if big else 2048),
        "model_type": "internlm",
        "num_attention_heads": num_attention_heads,
        "num_hidden_layers": num_hidden_layers,
        "pad_token_id": 2 if big else 0,
        "rms_norm_eps": 1e-06,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": "4.33.2",
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    if big:
        cfg.update(num_key_value_heads=num_attention_heads, rope_scaling=None, rope_theta=10000.0)
    if release == "chat-7b":
        cfg["rotary"] = {"base": 10000, "type": "dynamic"}
        if scaling_factor is not None:
            cfg["rotary"]["scaling_factor"] = scaling_factor
    return cfg


def random_weights(
    cfg: dict, seed: int = 0, *, with_inv_freq: bool = True
) -> dict[str, torch.Tensor]:
    """Random weights under the v1 key names (Llama's), biases where ``bias`` is set."""
    sd = random_llama_weights(cfg, seed, bias=cfg.get("bias", True))
    if with_inv_freq:
        hd = cfg["hidden_size"] // cfg["num_attention_heads"]
        inv_freq = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        for i in range(cfg["num_hidden_layers"]):
            sd[f"model.layers.{i}.self_attn.rotary_emb.inv_freq"] = inv_freq.clone()
    return sd


def build_tiny_internlm1(
    dest: str | Path,
    *,
    release: str = "chat-7b",
    seed: int = 0,
    weights_format: str = "sharded_bin",
    tokenizer_vocab: int = 600,
    **config_overrides,
) -> Path:
    """Write a complete tiny v1 checkpoint to ``dest`` and return it.

    ``weights_format``: ``sharded_bin`` (two ``pytorch_model-0000N-of-00002.bin`` + index, as
    the releases ship), ``bin`` (one ``pytorch_model.bin``) or ``safetensors``.
    """
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    vocab = write_tiny_tokenizer(dest, tokenizer_vocab)
    cfg = tiny_config(vocab, release=release, **config_overrides)
    (dest / "config.json").write_text(json.dumps(cfg, indent=2))
    (dest / "generation_config.json").write_text(
        json.dumps({"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2})
    )
    sd = random_weights(cfg, seed, with_inv_freq=release != "20b")
    if weights_format == "bin":
        torch.save(sd, str(dest / "pytorch_model.bin"))
    elif weights_format == "safetensors":
        sd = {k: v for k, v in sd.items() if not k.endswith("inv_freq")}
        save_file(sd, str(dest / "model.safetensors"), metadata={"format": "pt"})
    elif weights_format == "sharded_bin":
        weight_map = write_two_shards(dest, sd, "pytorch_model-0000{}-of-00002.bin", torch.save)
        total = sum(t.numel() * t.element_size() for t in sd.values())
        (dest / "pytorch_model.bin.index.json").write_text(
            json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2)
        )
    else:
        raise ValueError(f"unknown weights_format {weights_format!r}")
    (dest / "README.md").write_text(
        "# Tiny random InternLM (first generation, test model)\n\nRandom weights in the official "
        "v1 layout. Its output is noise: it exists to exercise the app without a download.\n"
    )
    return dest
