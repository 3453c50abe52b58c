"""The first-generation InternLM chat format, per release, as its remote code builds it.

``build_inputs`` of the releases (read from their ``modeling_internlm.py``):

* **eoh** -- internlm-chat-7b as first published (July 2023, the lesson's camp-1 version),
  internlm-chat-20b and the InternLM web demo of that time: per turn
  ``<|User|>:{q}<eoh>\\n<|Bot|>:{a}<eoa>\\n``, the new turn ``<|User|>:{q}<eoh>\\n<|Bot|>:``;
  no system text; the tokenizer adds the one ``<s>`` (``add_bos_token``). An early
  revision also put ``<s>`` before every history turn; the next one ("Small change to chat
  prompt") removed it, which is what is kept here.
* **v1.1** -- the later internlm-chat-7b code: ``<s><|System|>:{meta}\\n`` (when a meta
  instruction is given), then ``<|User|>:{q}\\n<|Bot|>:{a}<eoa>\\n`` -- no ``<eoh>``.

The app's system prompt (the story chat's meta instruction, a persona) is written the
way the later code writes its meta instruction, ``<|System|>:{text}\\n`` right after
``<s>``, in both formats: the first code had no place for one. Generation stops on
``<eoa>`` (id 103028) or ``</s>`` (2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from demo_core.engine.base import Message

BOS = "<s>"
EOH = "<eoh>"
EOA = "<eoa>"
USER = "<|User|>"
BOT = "<|Bot|>"
SYSTEM = "<|System|>"


@dataclass(frozen=True)
class ChatFormat:
    name: str
    eoh: str  # what closes a user turn before "\n"

    def system(self, text: str) -> str:
        return f"{SYSTEM}:{text}\n"

    def user(self, text: str) -> str:
        return f"{USER}:{text}{self.eoh}\n"

    def bot(self, text: str) -> str:
        return f"{BOT}:{text}{EOA}\n"


FORMATS = {
    "eoh": ChatFormat("eoh", EOH),
    "v1.1": ChatFormat("v1.1", ""),
}
DEFAULT_FORMAT = "eoh"


def get_format(name: str | None) -> ChatFormat:
    try:
        return FORMATS[name or DEFAULT_FORMAT]
    except KeyError:
        raise ValueError(
            f"unknown InternLM chat format {name!r}; choose one of {', '.join(FORMATS)}"
        ) from None


def render_chat(
    messages: Sequence[Message],
    fmt: ChatFormat | str | None = None,
    add_generation_prompt: bool = True,
    bos: str = BOS,
) -> str:
    """``<s>`` [+ ``<|System|>:…\\n``] + turns + ``<|Bot|>:`` (the model writes from there)."""
    fmt = fmt if isinstance(fmt, ChatFormat) else get_format(fmt)
    parts = [bos]
    for m in messages:
        role, content = m["role"], m["content"]
        if role == "system":
            parts.append(fmt.system(content))
        elif role == "user":
            parts.append(fmt.user(content))
        elif role == "assistant":
            parts.append(fmt.bot(content))
        else:  # tool / environment output has no slot in the v1 chat format: a user turn
            parts.append(fmt.user(content))
    if add_generation_prompt:
        parts.append(f"{BOT}:")
    return "".join(parts)
