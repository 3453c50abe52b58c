"""Load an official InternLM2 checkpoint as a transformers ``LlamaForCausalLM``.

No ``trust_remote_code``: the model is built on the meta device from a translated config,
each checkpoint tensor is renamed/split (``convert``) and placed straight onto the target
device, and the rotary buffers -- which never live in a checkpoint -- are rebuilt for real
(leaving them on meta is the uninitialised-``inv_freq`` NaN bug of the hub code).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Generic, TypeVar

import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.utils import logging as hf_logging

from demo_core.internlm2.checkpoint import CheckpointError, iter_tensors
from demo_core.internlm2.convert import convert_tensor, llama_config_kwargs


@dataclass
class LoadedModel:
    model: LlamaForCausalLM
    tokenizer: PreTrainedTokenizerBase
    path: Path
    stop_ids: list[int]
    context_window: int


def read_config(path: Path) -> dict:
    cfg_file = Path(path) / "config.json"
    if not cfg_file.is_file():
        raise CheckpointError(f"{path} has no config.json")
    try:
        return json.loads(cfg_file.read_text())
    except ValueError as exc:
        raise CheckpointError(f"{cfg_file} is not valid JSON: {exc}") from exc


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """The checkpoint's own sentencepiece tokenizer, through transformers' generic backend.

    ``trust_remote_code=False`` is faithful for InternLM2; ``LlamaTokenizer(Fast)`` is not.
    """
    try:
        # transformers warns that "internlm2" is an unknown model type; that is expected.
        with _quiet_transformers():
            return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    except Exception as exc:
        raise CheckpointError(f"cannot load the tokenizer in {path}: {exc}") from exc


@contextmanager
def _quiet_transformers():
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)


def stop_ids_for(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """``</s>`` and ``<|im_end|>`` -- ``[2, 92542]`` on the real vocabulary."""
    ids = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")]
    return sorted({i for i in ids if i is not None and i != tokenizer.unk_token_id})


def set_stop_ids(model, tokenizer: PreTrainedTokenizerBase, stop: list[int]) -> None:
    """Generation ends on any of ``stop``; padding uses the tokenizer's pad token, or the
    first stop id when it has none (InternLM2's tokenizer has one, tiny ones may not)."""
    model.generation_config.eos_token_id = stop
    model.generation_config.pad_token_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop[0]
    )


def build_llama(
    cfg: dict, dtype: torch.dtype, config_kwargs: Callable[[dict], dict] = llama_config_kwargs
) -> LlamaForCausalLM:
    """An empty (meta-device) Llama shaped like the config (InternLM2's, or another
    generation's through its ``config_kwargs`` mapping)."""
    config = LlamaConfig(**config_kwargs(cfg))
    config.dtype = dtype
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    return model.to(dtype=dtype) if dtype is not None else model


def materialise_state(
    model: torch.nn.Module,
    tensors,
    n_heads: int,
    n_kv: int,
    device: torch.device,
    dtype: torch.dtype,
    convert=convert_tensor,
) -> None:
    """Assign converted checkpoint tensors into a meta-device model, one by one."""
    expected = {k for k in model.state_dict()}
    seen: set[str] = set()
    for key, tensor in tensors:
        for name, value in convert(key, tensor, n_heads, n_kv).items():
            if name not in expected:
                continue
            value = value.to(
                device=device, dtype=dtype if value.is_floating_point() else value.dtype
            )
            _assign(model, name, value)
            seen.add(name)
    missing = sorted(expected - seen)
    if missing:
        raise CheckpointError(f"checkpoint is missing {len(missing)} tensor(s), e.g. {missing[:3]}")


def _assign(model: torch.nn.Module, name: str, value: torch.Tensor) -> None:
    module_name, _, attr = name.rpartition(".")
    module = model.get_submodule(module_name)
    old = getattr(module, attr)
    if tuple(old.shape) != tuple(value.shape):
        raise CheckpointError(
            f"{name}: checkpoint shape {tuple(value.shape)} != model {tuple(old.shape)}"
        )
    setattr(module, attr, torch.nn.Parameter(value, requires_grad=False))


def rebuild_rotary(model: LlamaForCausalLM, device: torch.device) -> None:
    with torch.device(device):
        model.model.rotary_emb = LlamaRotaryEmbedding(model.config)


Loaded = TypeVar("Loaded", bound=LoadedModel)


def loaded_model(
    kind: type[Loaded],
    model: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerBase,
    path: Path,
    stop: list[int],
    context_window: int,
    **extra,
) -> Loaded:
    """``model`` set to end generation on ``stop``, with what an engine needs to drive it
    (``kind``: :class:`LoadedModel`, or a subclass whose further fields are ``extra``)."""
    set_stop_ids(model, tokenizer, stop)
    return kind(
        model=model,
        tokenizer=tokenizer,
        path=path,
        stop_ids=stop,
        context_window=context_window,
        **extra,
    )


def default_dtype(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cuda" else torch.float32


@dataclass(frozen=True)
class CheckpointLoader(Generic[Loaded]):
    """``loader(path, device="cpu", dtype=None, attn_implementation="sdpa")`` for one model
    family: the arguments are resolved here once (a ``Path``, a ``torch.device``, the
    family's ``default_dtype`` where no dtype is asked for) and handed to ``build``."""

    build: Callable[[Path, torch.device, torch.dtype, str], Loaded]
    default_dtype: Callable[[torch.device], torch.dtype] = default_dtype

    def __call__(
        self,
        path: str | Path,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        attn_implementation: str = "sdpa",
    ) -> Loaded:
        device = torch.device(device)
        return self.build(
            Path(path), device, dtype or self.default_dtype(device), attn_implementation
        )


def build_llama_shaped(
    path: Path,
    device: torch.device,
    dtype: torch.dtype,
    attn_implementation: str,
    *,
    tokenizer_for: Callable[[Path], PreTrainedTokenizerBase],
    model_for: Callable[[dict, torch.dtype], LlamaForCausalLM],
    stop_ids: Callable[[PreTrainedTokenizerBase], list[int]],
    convert=convert_tensor,
) -> LoadedModel:
    """Read the config at ``path``, build the model on the meta device with ``model_for``,
    fill it from the checkpoint and wrap it with its tokenizer and stop ids: the steps every
    InternLM generation shares (each passes its own config mapping, tokenizer and keys)."""
    cfg = read_config(path)
    tokenizer = tokenizer_for(path)
    model = model_for(cfg, dtype)
    model.config._attn_implementation = attn_implementation
    mc = model.config
    materialise_state(
        model, iter_tensors(path), mc.num_attention_heads, mc.num_key_value_heads,
        device, dtype, convert=convert,
    )  # fmt: skip
    rebuild_rotary(model, device)
    model.eval()
    context_window = int(cfg.get("max_position_embeddings", 2048))
    return loaded_model(LoadedModel, model, tokenizer, path, stop_ids(tokenizer), context_window)


#: Load weights and tokenizer from an official InternLM2(-chat) folder.
load_internlm2 = CheckpointLoader(
    partial(
        build_llama_shaped,
        tokenizer_for=load_tokenizer,
        model_for=build_llama,
        stop_ids=stop_ids_for,
    )
)
