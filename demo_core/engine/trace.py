"""The record of one request for the "How it works" panel: prompt parts and token steps.

Plain data (no torch), so both engines fill it: the in-process one through the processors
in :mod:`demo_core.engine.recorder`, the OpenAI-compatible one from the server's
``logprobs``. The worker thread appends while the page reads; :meth:`Trace.token_steps`
takes what arrived so far under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Alternative:
    token_id: int
    text: str
    prob: float  # under the sampling settings (what the draw used)
    raw_prob: float | None = None  # under the untouched logits (softmax at temperature 1)


@dataclass
class TokenStep:
    """One generated token and the distribution it was drawn from."""

    token_id: int
    text: str
    prob: float | None  # the drawn token's probability under the settings (None: unknown)
    top: list[Alternative] = field(default_factory=list)
    greedy_id: int | None = None  # argmax of the raw logits
    greedy_text: str = ""
    greedy_prob: float | None = None


@dataclass
class PromptPart:
    """A run of prompt tokens, or an image's span of embeddings (``ids`` empty)."""

    ids: list[int] = field(default_factory=list)
    image: int | None = None  # index of the image this span stands for
    image_tokens: int = 0


@dataclass
class Trace:
    """What one request recorded: the model's real input and its per-step choices.

    ``parts`` is the prompt exactly as the engine handed it to ``generate()``: one part of
    token ids for a text prompt; text and image spans for an interleaved XComposer2 one.
    ``note`` says what could not be recorded (e.g. a server that gives no logprobs)."""

    parts: list[PromptPart] = field(default_factory=list)
    steps: list[TokenStep] = field(default_factory=list)
    source: str = ""  # "transformers" | "openai"
    note: str = ""
    settings: dict = field(default_factory=dict)
    prompt_text: str = ""  # the prompt text, where the engine had one (OpenAI: no ids)
    messages: list = field(default_factory=list)  # a chat request's messages, all of them
    dropped: int = 0  # how many of them were left out to fit the context window
    context_window: int = 0
    placeholder: str = ""  # what stood for an image in the prompt text (<ImageHere>)
    _pending: list = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    piece: Callable[[int], str] | None = field(default=None, repr=False)  # id -> piece

    @property
    def prompt_ids(self) -> list[int]:
        """All text token ids, in order (image spans left out)."""
        return [i for p in self.parts for i in p.ids]

    @property
    def prompt_tokens(self) -> int:
        return sum(len(p.ids) + p.image_tokens for p in self.parts)

    def set_prompt(self, prompt: object, tokens_per_image: int = 0) -> None:
        """Record ``prompt`` as the engine passes it on: a list of ids, or an object with
        ``parts`` (lists of ids and image indices, see ``XComposerEngine``)."""
        parts = getattr(prompt, "parts", None)
        if parts is None:
            self.parts = [PromptPart(ids=list(prompt))]  # type: ignore[call-overload]
            return
        self.parts = [
            PromptPart(image=p, image_tokens=tokens_per_image)
            if isinstance(p, int)
            else PromptPart(ids=list(p))
            for p in parts
        ]

    def add(self, step: TokenStep) -> None:
        """A step that arrives as numbers already (the OpenAI-compatible backend)."""
        with self._lock:
            self.steps.append(step)

    def token_steps(self) -> list[TokenStep]:
        """The steps recorded so far. The in-process recorder hands over device tensors
        (turning them into numbers per token would wait for the device each step); they
        are converted here, on first read."""
        with self._lock:
            pending, self._pending = self._pending, []
            if pending and self.piece is not None:
                self.steps.extend(_to_step(row, self.piece) for row in pending)
            return list(self.steps)


def _to_step(row: tuple, decode: Callable[[int], str]) -> TokenStep:
    """A recorder row (device tensors, or numbers) -> a :class:`TokenStep`."""
    top_ids, top_p, top_raw, greedy_id, greedy_p, chosen, chosen_p = (
        t.tolist() if hasattr(t, "tolist") else t for t in row
    )
    return TokenStep(
        token_id=int(chosen),
        text=decode(int(chosen)),
        prob=float(chosen_p),
        top=[
            Alternative(int(i), decode(int(i)), float(p), float(r))
            for i, p, r in zip(top_ids, top_p, top_raw, strict=True)
            if p > 0  # top-p/top-k cut the rest: zero, in no meaningful order
        ],
        greedy_id=int(greedy_id),
        greedy_text=decode(int(greedy_id)),
        greedy_prob=float(greedy_p),
    )


def piece_text(tokenizer, token_id: int) -> str:
    """A token as the piece it is: sentencepiece's ``▁`` as a space, special tokens and
    byte pieces (``<0x0A>``) spelled out. Decoding one token alone would drop a leading
    space and turn a lone byte into U+FFFD."""
    piece = tokenizer.convert_ids_to_tokens(int(token_id))
    if piece is None:
        return ""
    if piece.startswith("<0x") and piece.endswith(">") and len(piece) == 6:
        return "\n" if piece == "<0x0A>" else piece
    return piece.replace("\u2581", " ")
