"""The backend-neutral streaming interface every page and the agent talk to.

An engine turns a prompt (raw text or chat messages) into a :class:`Generation`: an
iterator of text deltas that also carries its own stats and a cancel switch. The
in-process transformers engine and the OpenAI-compatible client both produce it, so a
page never knows which one it is talking to.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

from demo_core.i18n import N_

Message = dict  # {"role": "system" | "user" | "assistant" | ..., "content": str}


class EngineError(RuntimeError):
    """A failure the UI should show as a message (never a traceback)."""


class ModelUnavailable(EngineError):
    """The model's weights are not on this machine (or its server is down)."""


class OutOfMemory(EngineError):
    """The device ran out of memory; the message says what to try."""


class PromptTooLong(EngineError):
    """Even the newest message alone does not fit the context window."""


@dataclass
class GenerationParams:
    """Sampling settings; the defaults are the original lesson demos'."""

    max_new_tokens: int = 1024
    temperature: float = 0.8
    top_p: float = 0.8
    top_k: int = 40
    repetition_penalty: float = 1.005
    do_sample: bool = True
    seed: int | None = None
    stop_words: tuple[str, ...] = ()
    # Beam search (``generate(num_beams=N)``) when more than 1, as the XComposer2 demos
    # offer it ("Beam Size (集束大小)"). The reply cannot stream token by token: the best
    # beam is only known at the end, so its text arrives all at once; meanwhile the
    # Generation reports decoding steps (``("steps", n)`` events) and Stop still works.
    num_beams: int = 1
    # The reply text keeps the model's special tokens (the agent reads InternLM2's
    # ``<|action_start|>`` and friends itself); chats never show them.
    keep_special_tokens: bool = False
    # Record the real prompt and each token's distribution for the "How it works" panel
    # (``Generation.trace``); off, the request runs exactly as without it.
    explain: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SamplingLimit:
    """The accepted range of one sampling setting.

    The sampling sliders and the persona-file validator both read :data:`SAMPLING_LIMITS`,
    so a value a file may set is always one a slider can show (a slider given a value
    outside its range raises instead of drawing).
    """

    label: str
    low: float
    high: float
    step: float
    integer: bool = False

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def clamp(self, value: float) -> float:
        """``value`` moved into the range, as the slider's number type."""
        kind = int if self.integer else float
        return kind(min(max(value, self.low), self.high))

    def describe(self) -> str:
        kind = int if self.integer else float
        return f"{kind(self.low)}–{kind(self.high)}"


SAMPLING_LIMITS: dict[str, SamplingLimit] = {
    "max_new_tokens": SamplingLimit(N_("Max new tokens"), 16, 4096, 16, integer=True),
    "temperature": SamplingLimit(N_("Temperature"), 0.0, 2.0, 0.05),
    "top_p": SamplingLimit(N_("Top-p"), 0.05, 1.0, 0.05),
    "top_k": SamplingLimit(N_("Top-k"), 1, 100, 1, integer=True),
    "repetition_penalty": SamplingLimit(N_("Repetition penalty"), 1.0, 1.5, 0.005),
    # the XComposer2 chat demo's "Beam Size (集束大小)": 1-5, default 1
    "num_beams": SamplingLimit(N_("Beams"), 1, 5, 1, integer=True),
}


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    new_tokens: int = 0
    queued_s: float = 0.0
    ttft_s: float | None = None
    total_s: float = 0.0
    finish_reason: str = ""  # stop | length | cancelled | error | stop_word

    @property
    def tokens_per_s(self) -> float:
        """Decode speed after the first token (prefill excluded)."""
        if self.ttft_s is None or self.new_tokens < 2:
            return 0.0
        decode = self.total_s - self.ttft_s
        return (self.new_tokens - 1) / decode if decode > 0 else 0.0


class CancelToken:
    """A flag shared between the UI and the worker: Stop sets it, generate() polls it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


_END = object()


class Generation:
    """One streaming generation, consumed by iterating over its text deltas.

    The producer (a worker thread, an HTTP stream) calls :meth:`emit`, :meth:`count_token`
    and :meth:`finish`; the consumer iterates. If the consumer goes away (a Streamlit rerun
    after Stop), calling :meth:`cancel` -- or just dropping out of the loop through
    :meth:`close` -- stops the producer instead of letting it run to ``max_new_tokens``.
    """

    def __init__(self, cancel: CancelToken | None = None) -> None:
        self.cancel_token = cancel or CancelToken()
        self.stats = GenerationStats()
        self.text = ""
        self.error: EngineError | None = None
        self.queue_position: int = 0  # 0 = running; n = n requests ahead
        self.steps_done: int = 0  # decoding steps of a beam search so far (report_steps)
        self._q: queue.Queue = queue.Queue()
        self._t0 = time.perf_counter()
        self._t_start: float | None = None
        self._done = threading.Event()
        self._exhausted = False  # the consumer has seen the end marker
        self._on_position: Callable[[int], None] | None = None
        # a demo_core.engine.trace.Trace when the request was made with explain=True
        self.trace = None

    @classmethod
    def failed(cls, error: EngineError, cancel: CancelToken | None = None) -> Generation:
        """A generation that ends with ``error`` before it starts (a request that cannot
        run: the consumer reads the message where it would have read the answer)."""
        gen = cls(cancel)
        gen.finish("error", error)
        return gen

    # -- producer side -------------------------------------------------------------
    def started(self) -> None:
        self._t_start = time.perf_counter()
        self.stats.queued_s = self._t_start - self._t0
        self.set_queue_position(0)

    def set_queue_position(self, n: int) -> None:
        self.queue_position = n
        self._q.put(("position", n))

    def count_token(self, n: int = 1) -> None:
        if self.stats.ttft_s is None and self._t_start is not None:
            self.stats.ttft_s = time.perf_counter() - self._t_start
        self.stats.new_tokens += n

    def report_steps(self, n: int) -> None:
        """``n`` decoding steps done of a request whose text only comes at the end (beam
        search): a sign of progress for the page, not text. Its first step is the
        search's first token, for the stats (its text comes only with the last)."""
        if self.stats.ttft_s is None and self._t_start is not None:
            self.stats.ttft_s = time.perf_counter() - self._t_start
        self.steps_done = n
        self._q.put(("steps", n))

    def emit(self, delta: str) -> None:
        if delta:
            self._q.put(("text", delta))

    def finish(self, reason: str, error: EngineError | None = None) -> None:
        if self._done.is_set():
            return
        if self._t_start is not None:
            self.stats.total_s = time.perf_counter() - self._t_start
        self.stats.finish_reason = reason
        self.error = error
        self._done.set()
        self._q.put((None, _END))

    # -- consumer side -------------------------------------------------------------
    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.cancel_token.cancelled

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the producer has finished (True) or ``timeout`` passed (False).

        After :meth:`cancel` the producer still has to notice the flag; the final stats
        (finish reason, total time) exist only once it has."""
        return self._done.wait(timeout)

    def events(
        self, timeout: float | None = None, idle_s: float | None = None
    ) -> Iterator[tuple[str, object]]:
        """Yield ``("text", delta)``, ``("position", n)`` and ``("steps", n)`` events
        until the end.

        ``timeout``: raise ``queue.Empty`` when nothing came for that long. ``idle_s``
        instead yields ``("idle", None)``, so a consumer waiting in line or for a slow
        first token still gets to run (a Streamlit script notices Stop or a click only
        when it draws something). Safe to call again after the end was seen (e.g.
        ``result()`` after streaming): it then yields nothing instead of waiting forever."""
        while not self._exhausted:
            try:
                kind, value = self._q.get(timeout=idle_s if idle_s is not None else timeout)
            except queue.Empty:
                if idle_s is None:
                    raise
                yield "idle", None
                continue
            if value is _END:
                self._exhausted = True
                return
            if kind == "text":
                self.text += value  # type: ignore[operator]
            yield kind, value

    def __iter__(self) -> Iterator[str]:
        for kind, value in self.events():
            if kind == "text":
                yield value  # type: ignore[misc]

    def result(self) -> str:
        """Drain the stream; raise the engine's error if it failed."""
        for _ in self:
            pass
        if self.error is not None:
            raise self.error
        return self.text

    def close(self) -> None:
        if not self.done:
            self.cancel()

    def note_fitted(self, fitted, messages: Sequence[Message]) -> Generation:
        """Record how a chat request was fitted into the context window (a
        :class:`~demo_core.internlm2.template.FittedPrompt`): the prompt's size, how many
        old messages were left out, and, for the "How it works" panel, the ``messages``
        the history was trimmed from."""
        self.stats.prompt_tokens = fitted.prompt_tokens
        self.dropped_messages = fitted.dropped
        if self.trace is not None:
            self.trace.messages, self.trace.dropped = list(messages), fitted.dropped
        return self


@dataclass
class EngineInfo:
    key: str
    label: str
    backend: str  # "transformers" | "openai"
    device: str = "cpu"
    dtype: str = ""
    context_window: int = 2048
    weight_bytes: int = 0
    is_random: bool = False
    extra: dict = field(default_factory=dict)


@runtime_checkable
class ChatEngine(Protocol):
    """What pages and the agent need from a text model, whatever serves it."""

    info: EngineInfo

    def render_chat(self, messages: Sequence[Message]) -> str:
        """The exact prompt text the model will see for ``messages``."""

    def count_tokens(self, text: str) -> int: ...

    def stream_text(
        self, prompt: str, params: GenerationParams, cancel: CancelToken | None = None
    ) -> Generation:
        """Continue raw prompt text (the agent renders its own protocol)."""

    def stream_chat(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Generation:
        """Answer a conversation; history that does not fit is trimmed, oldest first."""
