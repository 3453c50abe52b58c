"""Tiny random-weight InternLM2 checkpoints in the official on-disk layout.

No machine here (CI included) can download a real model, yet every code path -- loader,
template, generation, streaming, the UI -- must run for real. These checkpoints are
written exactly like the hub's (``config.json`` with ``model_type: internlm2``, weights
under InternLM2 key names with a packed ``wqkv``, a sentencepiece ``tokenizer.model`` and a
``tokenizer_config.json`` carrying the chat template and the InternLM2 special tokens),
so they travel through the same loader as the 7B model. Their output is random noise.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from safetensors.torch import save_file

from demo_core.internlm2.convert import to_internlm2_state_dict

SPECIAL_TOKENS = [
    "<|plugin|>",
    "<|interpreter|>",
    "<|action_end|>",
    "<|action_start|>",
    "<|im_end|>",
    "<|im_start|>",
]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_CORPUS = """\
Once upon a time there was a little robot who wanted to write a story about the sea.
You are InternLM, a helpful, honest, and harmless AI assistant developed by Shanghai AI Laboratory.
Please write a 300 character story. The data analysis agent reads a CSV file and plots a chart.
import pandas as pd; df = pd.read_csv('data.csv'); print(df.describe())
def main(): return sum(x * x for x in range(10))
你是猪八戒，猪八戒说话幽默风趣，说话方式通常表现为直率、幽默，有时带有一点自嘲和调侃。
你的话语中常常透露出对食物的喜爱和对安逸生活的向往。书生·浦语是你的好朋友，是你的AI助手。
请写一个三百字的小故事。从前有一座山，山里有一座庙，庙里有一个老和尚在给小和尚讲故事。
上海人工智能实验室 书生 浦语 灵笔 图文 创作 数据 分析 智能体 你好 谢谢 再见
The quick brown fox jumps over the lazy dog. 0123456789 + - * / = ( ) [ ] { } < > ! ? , . : ;
"""


def train_sentencepiece(vocab_size: int, symbols: list[str] = SPECIAL_TOKENS) -> bytes:
    """A tiny BPE sentencepiece model with the settings of the real InternLM ones (identity
    normaliser, no dummy prefix, byte fallback, split digits); ``symbols`` are its
    user-defined pieces."""
    import sentencepiece as spm

    buf = io.BytesIO()
    lines = [line for line in _CORPUS.splitlines() if line.strip()] * 4
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=buf,
        vocab_size=vocab_size,
        model_type="bpe",
        character_coverage=1.0,
        byte_fallback=True,
        user_defined_symbols=symbols,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        hard_vocab_limit=False,
        minloglevel=2,
        num_threads=1,
        normalization_rule_name="identity",
    )
    return buf.getvalue()


def write_tiny_tokenizer(dest: Path, vocab_size: int = 600) -> int:
    """Write ``tokenizer.model`` + ``tokenizer_config.json``; return the vocab size."""
    import sentencepiece as spm

    dest.mkdir(parents=True, exist_ok=True)
    model_bytes = train_sentencepiece(vocab_size)
    (dest / "tokenizer.model").write_bytes(model_bytes)
    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    decoder = {
        str(i): {
            "content": sp.id_to_piece(i),
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for i in [0, 1, 2, *(sp.piece_to_id(t) for t in SPECIAL_TOKENS)]
    }
    config = {
        "tokenizer_class": "InternLM2Tokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "pad_token": "</s>",
        "unk_token": "<unk>",
        "additional_special_tokens": SPECIAL_TOKENS,
        "added_tokens_decoder": decoder,
        "model_max_length": 1000000000000000019884624838656,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }
    (dest / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2))
    return sp.get_piece_size()


def tiny_config(
    vocab_size: int,
    *,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 1024,
    rope_theta: float = 1_000_000.0,
    rope_factor: float = 2.0,
) -> dict:
    """An InternLM2 ``config.json`` dict with the real model's fields, tiny sizes."""
    return {
        "architectures": ["InternLM2ForCausalLM"],
        "auto_map": {
            "AutoConfig": "configuration_internlm2.InternLM2Config",
            "AutoModelForCausalLM": "modeling_internlm2.InternLM2ForCausalLM",
        },
        "bias": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": intermediate_size,
        "max_position_embeddings": max_position_embeddings,
        "model_type": "internlm2",
        "num_attention_heads": num_attention_heads,
        "num_hidden_layers": num_hidden_layers,
        "num_key_value_heads": num_key_value_heads,
        "rms_norm_eps": 1e-05,
        "rope_scaling": {"type": "dynamic", "factor": rope_factor},
        "rope_theta": rope_theta,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def random_llama_weights(
    cfg: dict, seed: int = 0, *, bias: bool = False
) -> dict[str, torch.Tensor]:
    """Random weights under Llama's key names, biases on q/k/v/o where ``bias`` is set; drawn
    in a fixed order, so a seed always gives the same checkpoint."""
    gen = torch.Generator().manual_seed(seed)
    h, inter, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = h // nh

    def rnd(*shape: int, scale: float = 0.08) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * scale

    attention = {  # name: (rows, columns, scale)
        "q_proj": (nh * hd, h, 0.3),
        "k_proj": (nkv * hd, h, 0.3),
        "v_proj": (nkv * hd, h, 0.08),
        "o_proj": (h, nh * hd, 0.08),
    }
    sd: dict[str, torch.Tensor] = {
        "model.embed_tokens.weight": rnd(v, h, scale=0.5),
        "model.norm.weight": 1.0 + rnd(h, scale=0.1),
        "lm_head.weight": rnd(v, h, scale=0.3),
    }
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        for name, (rows, cols, scale) in attention.items():
            sd[f"{p}.self_attn.{name}.weight"] = rnd(rows, cols, scale=scale)
            if bias:
                sd[f"{p}.self_attn.{name}.bias"] = rnd(rows, scale=0.2)
        sd.update(
            {
                f"{p}.mlp.gate_proj.weight": rnd(inter, h),
                f"{p}.mlp.up_proj.weight": rnd(inter, h),
                f"{p}.mlp.down_proj.weight": rnd(h, inter),
                f"{p}.input_layernorm.weight": 1.0 + rnd(h, scale=0.1),
                f"{p}.post_attention_layernorm.weight": 1.0 + rnd(h, scale=0.1),
            }
        )
    return sd


def random_internlm2_weights(cfg: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under the official InternLM2 key names (packed ``wqkv``)."""
    llama = random_llama_weights(cfg, seed)
    return to_internlm2_state_dict(llama, cfg["num_attention_heads"], cfg["num_key_value_heads"])


def build_tiny_internlm2(
    dest: str | Path,
    *,
    seed: int = 0,
    weights_format: str = "safetensors",
    tokenizer_vocab: int = 600,
    **config_overrides,
) -> Path:
    """Write a complete tiny InternLM2 chat checkpoint to ``dest`` and return it.

    ``weights_format``: ``safetensors``, ``bin`` (pickled, like XComposer2) or ``sharded``
    (two safetensors shards plus an index, like the 7B release).
    """
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    vocab = write_tiny_tokenizer(dest, tokenizer_vocab)
    cfg = tiny_config(vocab, **config_overrides)
    (dest / "config.json").write_text(json.dumps(cfg, indent=2))
    (dest / "generation_config.json").write_text(
        json.dumps(
            {
                "bos_token_id": 1,
                "eos_token_id": [2, vocab_special_id(dest, "<|im_end|>")],
                "pad_token_id": 2,
            }
        )
    )
    sd = random_internlm2_weights(cfg, seed)
    if weights_format == "safetensors":
        save_file(sd, str(dest / "model.safetensors"), metadata={"format": "pt"})
    elif weights_format == "bin":
        torch.save(sd, str(dest / "pytorch_model.bin"))
    elif weights_format == "sharded":
        save = partial(save_file, metadata={"format": "pt"})
        weight_map = write_two_shards(dest, sd, "model-0000{}-of-00002.safetensors", save)
        (dest / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": weight_map})
        )
    else:
        raise ValueError(f"unknown weights_format {weights_format!r}")
    (dest / "README.md").write_text(
        "# Tiny random InternLM2 (test model)\n\nRandom weights in the official InternLM2 layout. "
        "Its output is noise: it exists to exercise the app without downloading a model.\n"
    )
    return dest


def write_two_shards(
    dest: Path, sd: dict[str, torch.Tensor], name: str, save: Callable[[dict, str], None]
) -> dict[str, str]:
    """Save ``sd`` as two shards (its sorted keys, halved) named ``name.format(1)`` and
    ``name.format(2)`` in ``dest`` with ``save(tensors, file)``; returns the index's weight map."""
    keys = sorted(sd)
    half = len(keys) // 2
    weight_map: dict[str, str] = {}
    for n, ks in enumerate((keys[:half], keys[half:]), start=1):
        save({k: sd[k] for k in ks}, str(dest / name.format(n)))
        weight_map.update({k: name.format(n) for k in ks})
    return weight_map


def vocab_special_id(folder: Path, token: str) -> int:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(Path(folder) / "tokenizer.model"))
    return sp.piece_to_id(token)
