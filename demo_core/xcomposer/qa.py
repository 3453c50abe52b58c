"""Image Q&A: turns with their own images, assembled into one interleaved prompt.

As in the original ``model.chat``: every past turn's question keeps its ``<ImageHere>``
placeholders, the images of all turns are passed in order, and the system prompt is the
XComposer meta instruction. A user may place ``<ImageHere>`` in the question themselves;
if they did not, one per attached image goes in front of the question: the model card's
``'<ImageHere>' + question`` layout (not the gradio demo's ``<Img>...</Img>`` before the
user marker). When the conversation outgrows the context window the oldest turns --
and their images -- are left out, never the new question.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from demo_core.engine.base import CancelToken, Generation, GenerationParams, PromptTooLong
from demo_core.i18n import _, format_number, ngettext
from demo_core.xcomposer.images import ImageInput
from demo_core.xcomposer.prompt import (
    QA_META,
    QA_PLACEHOLDER,
    Markers,
    PromptFormatError,
    render_chat,
    split_interleaved,
)

# The original chat(): sampling at temperature 1.0, top_p 0.8, penalty 1.005; the gradio
# demo capped answers at 512 new tokens; top_k was transformers' default (50).
QA_DEFAULTS = GenerationParams(
    max_new_tokens=512, temperature=1.0, top_p=0.8, top_k=50, repetition_penalty=1.005
)


@dataclass
class QATurn:
    question: str  # exactly as typed
    images: list[ImageInput] = field(default_factory=list)
    answer: str = ""
    note: str = ""  # how it ended: stats, "stopped", ...
    error: str = ""  # why there is no (full) answer, shown once, as an error

    @property
    def prompt_question(self) -> str:
        return place_images(self.question, len(self.images))


def place_images(question: str, n_images: int) -> str:
    """The question with exactly one ``<ImageHere>`` per attached image."""
    have = question.count(QA_PLACEHOLDER)
    if have == n_images:
        return question
    if have == 0:
        return QA_PLACEHOLDER * n_images + question
    raise PromptFormatError(
        _(
            "the question contains {have} {placeholder} placeholder(s) but {n} image(s) "
            "are attached to it: attach as many images as placeholders, or remove the "
            "placeholders to put every image in front of the question"
        ).format(have=have, placeholder=QA_PLACEHOLDER, n=n_images)
    )


def build_prompt(
    history: Sequence[QATurn], turn: QATurn, markers: Markers, meta: str = QA_META
) -> tuple[str, list[ImageInput]]:
    pairs = [(t.prompt_question, t.answer) for t in history]
    text = render_chat(turn.prompt_question, pairs, markers, meta)
    images = [img for t in [*history, turn] for img in t.images]
    return text, images


def fit_history(
    history: Sequence[QATurn],
    turn: QATurn,
    measure: Callable[[Sequence[QATurn], QATurn], int],
    window: int,
    reserve: int,
) -> tuple[list[QATurn], int]:
    """Drop the oldest turns until prompt + ``reserve`` fits ``window``; (kept, dropped)."""
    kept = list(history)
    while True:
        n = measure(kept, turn)
        if n + reserve <= window:
            return kept, len(history) - len(kept)
        if not kept:
            raise PromptTooLong(
                _(
                    "the question and its images need {n} tokens; with {reserve} kept for the "
                    "answer that exceeds the context window ({window}). Attach fewer images or "
                    "shorten the question."
                ).format(n=n, reserve=reserve, window=window)
            )
        kept.pop(0)


def stats_caption(gen: Generation) -> str:
    s = gen.stats
    speed = (
        ", " + _("{speed} tok/s").format(speed=format_number(s.tokens_per_s, 1))
        if s.tokens_per_s
        else ""
    )
    return (
        ngettext("{n} token in {s} s", "{n} tokens in {s} s", s.new_tokens).format(
            n=s.new_tokens, s=format_number(s.total_s, 1)
        )
        + speed
    )


def turn_note(gen: Generation, interrupted: str = "") -> str:
    """The line under an answer: how it ended (``interrupted`` says why a cancelled one
    was cancelled, e.g. "Stopped") and what was left out of its prompt. A failure is not
    a note: it goes to ``QATurn.error``, shown once."""
    if gen.error is not None:
        note = ""
    elif gen.stats.finish_reason == "cancelled":
        note = f"⏹ {(interrupted or _('Stopped')).lower()}"
    elif gen.stats.finish_reason == "length":
        note = _("cut at the max-new-tokens limit") + f" · {stats_caption(gen)}"
    else:
        note = stats_caption(gen)
    dropped = getattr(gen, "dropped_messages", 0)
    if dropped:
        note += " · " + ngettext(
            "{n} oldest turn left out to fit the context window",
            "{n} oldest turns left out to fit the context window",
            dropped,
        ).format(n=dropped)
    return note


def ask(
    engine,
    history: Sequence[QATurn],
    turn: QATurn,
    params: GenerationParams = QA_DEFAULTS,
    cancel: CancelToken | None = None,
    meta: str = QA_META,
) -> Generation:
    """Stream the answer to ``turn`` given ``history`` (an :class:`XComposerEngine`)."""
    gen_error = Generation(cancel)
    try:
        turn.prompt_question  # noqa: B018 -- validates placeholders before any model work

        def measure(kept: Sequence[QATurn], t: QATurn) -> int:
            text, images = build_prompt(kept, t, engine.markers, meta)
            parts = split_interleaved(text, len(images), QA_PLACEHOLDER)
            return engine.prompt_length(engine.tokenize_parts(parts, "each"))

        reserve = max(1, min(params.max_new_tokens, engine.info.context_window // 4))
        kept, dropped = fit_history(history, turn, measure, engine.info.context_window, reserve)
    except (PromptFormatError, PromptTooLong) as exc:
        gen_error.finish("error", exc)
        return gen_error
    text, images = build_prompt(kept, turn, engine.markers, meta)
    gen = engine.stream_interleaved(
        text, images, params, cancel, placeholder=QA_PLACEHOLDER, bos="each"
    )
    gen.dropped_messages = dropped  # type: ignore[attr-defined]
    return gen
