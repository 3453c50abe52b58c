"""Load an official first-generation InternLM checkpoint as a transformers ``LlamaForCausalLM``.

Same route as :mod:`demo_core.internlm2.loader` (meta-device model, tensors streamed in,
rotary buffers rebuilt for real), with the v1 config mapping of
:mod:`demo_core.internlm1.convert`.

Tokenizer: ``AutoTokenizer`` refuses these folders without ``trust_remote_code`` (their
``tokenizer_config.json`` names ``InternLMTokenizer`` in ``auto_map``). The remote class is a
thin sentencepiece wrapper: ``sp.encode`` on the text between special tokens, ``<s>`` in
front (``add_bos_token`` defaults to True), nothing at the end. transformers' own generic
``TokenizersBackend`` built from the same ``tokenizer.model`` reproduces that (the model's
normalizer is ``identity`` without a dummy prefix, and ``<eoh>``/``<eoa>`` are sentencepiece
user-defined pieces 103027/103028), so it is used with ``add_bos_token`` set as the remote
class would -- checked token for token against the real vocabulary in the tests.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from demo_core.internlm1.convert import convert_tensor, llama_config_kwargs
from demo_core.internlm1.template import EOA
from demo_core.internlm2.checkpoint import CheckpointError
from demo_core.internlm2.loader import (
    CheckpointLoader,
    _quiet_transformers,
    build_llama,
    build_llama_shaped,
)


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """The checkpoint's sentencepiece tokenizer as the remote ``InternLMTokenizer`` uses it."""
    from transformers import TokenizersBackend

    path = Path(path)
    if not (path / "tokenizer.model").is_file():
        raise CheckpointError(f"{path} has no tokenizer.model")
    options: dict = {}
    cfg_file = path / "tokenizer_config.json"
    if cfg_file.is_file():
        try:
            options = json.loads(cfg_file.read_text())
        except ValueError as exc:
            raise CheckpointError(f"{cfg_file} is not valid JSON: {exc}") from exc
    try:
        with _quiet_transformers():
            return TokenizersBackend.from_pretrained(
                str(path),
                add_bos_token=bool(options.get("add_bos_token", True)),
                add_eos_token=bool(options.get("add_eos_token", False)),
            )
    except Exception as exc:
        raise CheckpointError(f"cannot load the tokenizer in {path}: {exc}") from exc


def stop_ids_for(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """``</s>`` and ``<eoa>`` -- ``[2, 103028]`` on the real vocabulary."""
    ids = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(EOA)]
    return sorted({i for i in ids if i is not None and i != tokenizer.unk_token_id})


#: Load weights and tokenizer from an official InternLM (v1) folder.
load_internlm1 = CheckpointLoader(
    partial(
        build_llama_shaped,
        tokenizer_for=load_tokenizer,
        model_for=partial(build_llama, config_kwargs=llama_config_kwargs),
        stop_ids=stop_ids_for,
        convert=convert_tensor,
    )
)
