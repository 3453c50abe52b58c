"""First-generation InternLM behind the shared in-process engine.

Everything but the prompt is :class:`~demo_core.engine.local.TransformersEngine`: the queue,
streaming, cancellation, seeded sampling. The chat format is the release's (see
:mod:`demo_core.internlm1.template`), chosen by the model spec's ``extra["chat_format"]``
or a per-model ``"chat_format"`` in settings.json.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from demo_core import settings
from demo_core.engine.base import EngineInfo, Message
from demo_core.engine.batching import BatchSettings
from demo_core.engine.local import TransformersEngine
from demo_core.engine.manager import local_engine_info, register_loader
from demo_core.internlm1.template import ChatFormat, get_format, render_chat
from demo_core.internlm2.loader import LoadedModel
from demo_core.specs import ModelSpec


class InternLM1Engine(TransformersEngine):
    def __init__(
        self,
        loaded: LoadedModel,
        info: EngineInfo,
        fmt: ChatFormat,
        decode: str = "eager",
        batching: BatchSettings | None = None,
    ) -> None:
        super().__init__(loaded, info, decode=decode, batching=batching)
        self.chat_format = fmt
        info.extra["chat_format"] = fmt.name

    def render_chat(self, messages: Sequence[Message]) -> str:
        return render_chat(messages, self.chat_format, bos=self.tokenizer.bos_token or "")


def chat_format_for(spec: ModelSpec) -> ChatFormat:
    chosen = settings.model_settings(spec.key).get("chat_format")
    return get_format(chosen or spec.extra.get("chat_format"))


def load_engine(spec: ModelSpec, path: Path, device: torch.device) -> InternLM1Engine:
    from demo_core.internlm1.loader import load_internlm1
    from demo_core.internlm2.checkpoint import weight_bytes

    loaded = load_internlm1(path, device=device)
    info = local_engine_info(spec, path, device, loaded, weight_bytes(path), generation=1)
    entry = settings.model_settings(spec.key)
    return InternLM1Engine(
        loaded,
        info,
        chat_format_for(spec),
        decode=entry.get("decode", "eager"),
        batching=BatchSettings.from_settings(entry),
    )


register_loader("internlm", load_engine)
