"""XComposer2's prompt text, and how text and images interleave into one sequence.

The released tokenizer spells the chat markers ``[UNUSED_TOKEN_146]`` / ``[UNUSED_TOKEN_145]``
(sentencepiece user-defined pieces, ids 92543 / 92542 -- the ids InternLM2-chat calls
``<|im_start|>`` / ``<|im_end|>``); our tiny test tokenizers use the InternLM2-chat
spelling. :func:`detect_markers` asks the tokenizer which one it has, so the same prompt
builders serve both.

An image is a run of ``grid*grid`` embeddings spliced where its placeholder stands:
``<ImageHere>`` in image Q&A, ``<image>`` in the composition demo. Where the text parts
get a BOS differs between the two originals and is kept: Q&A tokenised every text part
with the tokenizer's default (a BOS each), composition only the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from demo_core.engine.base import EngineError

QA_PLACEHOLDER = "<ImageHere>"
COMPOSE_PLACEHOLDER = "<image>"

QA_META = (
    "You are an AI assistant whose name is InternLM-XComposer (浦语·灵笔).\n"
    "- InternLM-XComposer (浦语·灵笔) is a multi-modality conversational language model that "
    "is developed by Shanghai AI Laboratory (上海人工智能实验室). It is designed to be helpful, "
    "honest, and harmless.\n"
    "- InternLM-XComposer (浦语·灵笔) can understand and communicate fluently in the language "
    "chosen by the user such as English and 中文.\n"
    "- InternLM-XComposer (浦语·灵笔) is capable of comprehending and articulating responses "
    "effectively based on the provided image."
)

# The composition demo's ``meta_instruction``, as it is (its closing newline included),
# sent as a system turn before every prompt when "With Meta (使用meta指令)" is on (off
# by default there and here). Not the Q&A one: no images in its self-description.
COMPOSE_META = (
    "You are an AI assistant whose name is InternLM-XComposer (浦语·灵笔).\n"
    "- InternLM-XComposer (浦语·灵笔) is a conversational language model that is developed by "
    "Shanghai AI Laboratory (上海人工智能实验室). It is designed to be helpful, honest, and "
    "harmless.\n"
    "- InternLM-XComposer (浦语·灵笔) can understand and communicate fluently in the language "
    "chosen by the user such as English and 中文.\n"
)

BosPolicy = Literal["each", "first"]
Part = str | int  # text, or the index of an image


class PromptFormatError(EngineError):
    """Placeholders and images do not match up."""


@dataclass(frozen=True)
class Markers:
    """How the turns of a prompt are spelled: the chat markers, and the system prompt
    (``meta``) the composition demo puts before every user turn when asked to."""

    im_start: str
    im_end: str
    meta: str = ""


RELEASE_MARKERS = Markers("[UNUSED_TOKEN_146]", "[UNUSED_TOKEN_145]")
CHAT_MARKERS = Markers("<|im_start|>", "<|im_end|>")


def detect_markers(tokenizer) -> Markers:
    """The spelling of the chat markers this tokenizer encodes as single tokens."""
    unk = tokenizer.unk_token_id
    for markers in (RELEASE_MARKERS, CHAT_MARKERS):
        ids = tokenizer.convert_tokens_to_ids([markers.im_start, markers.im_end])
        if all(isinstance(i, int) and i != unk for i in ids):
            return markers
    raise EngineError("this tokenizer has no chat markers; is it an InternLM2 tokenizer?")


def user_turn(text: str, markers: Markers) -> str:
    """``<|im_start|>user\\n{text}<|im_end|>\\n<|im_start|>assistant\\n`` -- the original
    demos' ``text2instruction``; with ``markers.meta``, its "With Meta" form that starts
    with ``<|im_start|>system\\n{meta}<|im_end|>\\n``."""
    s, e = markers.im_start, markers.im_end
    system = f"{s}system\n{markers.meta}{e}\n" if markers.meta else ""
    return f"{system}{s}user\n{text}{e}\n{s}assistant\n"


def render_chat(
    query: str,
    history: Sequence[tuple[str, str]],
    markers: Markers,
    meta: str = QA_META,
) -> str:
    """The Q&A prompt: optional system turn, past (query, answer) pairs, the new query."""
    s, e = markers.im_start, markers.im_end
    text = f"{s}system\n{meta}{e}\n" if meta else ""
    for q, a in history:
        text += f"{s}user\n{q}{e}\n{s}assistant\n{a}{e}\n"
    return text + f"{s}user\n{query}{e}\n{s}assistant\n"


def split_interleaved(text: str, n_images: int, placeholder: str) -> list[Part]:
    """``"a<ph>b<ph>"`` with 2 images -> ``["a", 0, "b", 1]`` (empty text parts dropped)."""
    pieces = text.split(placeholder)
    if len(pieces) - 1 != n_images:
        raise PromptFormatError(
            f"the prompt has {len(pieces) - 1} image placeholder(s) but {n_images} image(s) "
            "were given"
        )
    parts: list[Part] = []
    for i, piece in enumerate(pieces):
        if piece:
            parts.append(piece)
        if i < n_images:
            parts.append(i)
    return parts


def count_placeholders(text: str, placeholder: str = QA_PLACEHOLDER) -> int:
    return text.count(placeholder)
