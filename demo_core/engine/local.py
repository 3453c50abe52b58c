"""In-process generation with transformers, shared safely by every browser session.

``model.generate`` runs in a worker thread and feeds a streamer; the consumer reads
text deltas from a :class:`Generation`. Streamlit cannot stop that thread (a rerun only
kills the consumer), so cancellation is a StoppingCriteria that polls the cancel flag
once per token. Requests take turns through a :class:`FairQueue`; with batching on
(the default for eager decoding), requests that can batch decode together through
transformers' continuous batching (:mod:`demo_core.engine.batching`, which lists what
cannot) and the rest take the whole model in turn, as before.

A seed must give the same text whatever else runs: ``torch.manual_seed`` seeds the one
process-wide generator that every engine's worker thread samples from, so a second model
generating at the same time changed the draws. A seeded request therefore samples with
its own ``torch.Generator`` (see :func:`seeded_sampling`); unseeded ones use transformers'
sampling unchanged.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation.streamers import BaseStreamer

from demo_core.classroom import ACTIVITY
from demo_core.engine.base import (
    CancelToken,
    EngineError,
    EngineInfo,
    Generation,
    GenerationParams,
    Message,
    OutOfMemory,
)
from demo_core.engine.batching import BatchSettings, ContinuousBatcher, batch_blockers, slots_needed
from demo_core.engine.fair_queue import Cancelled, FairQueue
from demo_core.engine.recorder import recording_kwargs, sampling_warpers
from demo_core.engine.streaming import IncrementalDecoder, find_stop_word, partial_stop_suffix
from demo_core.engine.trace import Trace, piece_text
from demo_core.i18n import N_, _
from demo_core.internlm2.loader import LoadedModel
from demo_core.internlm2.template import fit_to_context, render_chat


class _Stream(BaseStreamer):
    """Receives token ids from generate() and forwards text to the Generation."""

    def __init__(
        self, gen: Generation, decoder: IncrementalDecoder, stop_words: Sequence[str]
    ) -> None:
        self.gen = gen
        self.decoder = decoder
        self.stop_words = tuple(stop_words)
        self._prompt_seen = False
        self._text = ""  # decoded so far
        self._sent = 0  # chars of _text already emitted
        self.hit_stop_word = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() first hands over the prompt itself
            self._prompt_seen = True
            return
        self.push_ids(value.reshape(-1).tolist())

    def push_ids(self, ids: list[int]) -> None:
        for tok in ids:
            self.gen.count_token()
            if self.hit_stop_word:
                continue
            self._text += self.decoder.push(int(tok))
            self._forward()

    def end(self) -> None:
        if not self.hit_stop_word:
            self._text += self.decoder.flush()
            self._forward(final=True)

    def _forward(self, final: bool = False) -> None:
        if self.stop_words:
            cut = find_stop_word(self._text, self.stop_words)
            if cut >= 0:
                self.hit_stop_word = True
                self._text = self._text[:cut]
                final = True
        hold = (
            0 if final or not self.stop_words else partial_stop_suffix(self._text, self.stop_words)
        )
        upto = len(self._text) - hold
        if upto > self._sent:
            self.gen.emit(self._text[self._sent : upto])
            self._sent = upto


class _StopWhen(StoppingCriteria):
    """Stop on the cancel flag or a stop word. ``report``: also tell the Generation how
    many steps are done (beam search, whose text only comes at the end; its criteria are
    asked once per step for all the candidate beams at once)."""

    def __init__(self, cancel: CancelToken, stream: _Stream, report: bool = False) -> None:
        self.cancel = cancel
        self.stream = stream
        self.report = report
        self.steps = 0
        self._keep_going: torch.Tensor | None = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        # called once per token: answer with a cached tensor, allocate only to stop
        if self.report:
            self.steps += 1
            self.stream.gen.report_steps(self.steps)
        stop = self.cancel.cancelled or self.stream.hit_stop_word
        if (
            not stop
            and self._keep_going is not None
            and self._keep_going.shape[0] == input_ids.shape[0]
        ):
            return self._keep_going
        result = torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)
        if not stop:
            self._keep_going = result
        return result


class _DrawWith(LogitsProcessor):
    """The last step of seeded sampling: draw one token per row from the (already
    warped) distribution with a private generator, and leave only that token finite, so
    ``generate()``'s greedy step picks exactly it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._generator: torch.Generator | None = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self._generator is None or self._generator.device != scores.device:
            self._generator = torch.Generator(device=scores.device)
            self._generator.manual_seed(self.seed)
        probs = torch.softmax(scores.float(), dim=-1)
        token = torch.multinomial(probs, 1, generator=self._generator)
        chosen = torch.full_like(scores, float("-inf"))
        return chosen.scatter_(1, token, 0.0)


def seeded_sampling(params: GenerationParams, seed: int) -> LogitsProcessorList:
    """Sampling as ``generate(do_sample=True)`` does it -- temperature, top-k, top-p after
    the usual processors (repetition penalty...), under the same conditions -- but drawn
    with a generator of our own, for ``generate(do_sample=False)``."""
    return LogitsProcessorList([*sampling_warpers(params), _DrawWith(seed)])


DECODE_MODES = ("eager", "static", "compiled")
# why an engine in a decode mode does not batch (shown on the Models page)
_NOT_BATCHED = {
    "static": N_("static decoding runs generate() alone"),
    "compiled": N_("compiled decoding runs generate() alone"),
}


class TransformersEngine:
    """A loaded InternLM2(-like) model behind the :class:`ChatEngine` interface.

    ``decode``: ``eager`` (dynamic KV cache, the default), ``static`` (preallocated KV
    cache) or ``compiled`` (static cache + ``torch.compile``; CUDA only, where eager
    decoding is bound by kernel launches -- on CPU it falls back to ``static``).

    ``batching``: how many sessions decode together (:class:`BatchSettings`; eager decoding
    only). ``None`` means the defaults; ``BatchSettings(sessions=0)`` queues every request.
    """

    #: why this kind of engine never batches (a subclass sets it), or None
    batch_blocker: str | None = None

    def __init__(
        self,
        loaded: LoadedModel,
        info: EngineInfo,
        decode: str = "eager",
        batching: BatchSettings | None = None,
    ) -> None:
        if decode not in DECODE_MODES:
            raise EngineError(
                _("unknown decode mode {mode}; choose one of {names}").format(
                    mode=repr(decode), names=", ".join(DECODE_MODES)
                )
            )
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.info = info
        if decode == "compiled" and self.model.device.type != "cuda":
            info.extra["decode_note"] = (
                "torch.compile is only used on CUDA; static KV cache instead"
            )
            decode = "static"
        if decode == "compiled":
            self.model.forward = torch.compile(
                self.model.forward, mode="reduce-overhead", fullgraph=True
            )
        self.decode = info.extra["decode"] = decode
        settings = batching if batching is not None else BatchSettings()
        why_not = self.batch_blocker or _NOT_BATCHED.get(decode)
        self.batcher: ContinuousBatcher | None = None
        if settings.enabled and why_not is None:
            self.batcher = ContinuousBatcher(
                self.model,
                settings,
                loaded.stop_ids,
                self.model.generation_config.pad_token_id,
            )
            info.extra["batch_sessions"] = settings.sessions
        else:
            info.extra["batch_sessions"] = 0
            info.extra["batch_off"] = why_not or N_("turned off in settings")
        self.queue = FairQueue(settings.sessions if self.batcher else 1)
        # generate() always runs on this one long-lived thread: a fresh thread per request
        # builds a new CPU thread pool every time and decodes ~7 % slower on CPU
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self._special_ids = set(self.tokenizer.all_special_ids)

    @property
    def busy(self) -> bool:
        return len(self.queue) > 0

    def fit_batch(self, settings: BatchSettings) -> None:
        """Decode with a smaller batch than settings.json asked for: the model manager
        found the memory budget cannot hold that KV cache (called before any request, so
        the batch decoder has not allocated anything yet)."""
        if self.batcher is None or settings == self.batcher.settings:
            return
        if settings.enabled:
            self.batcher.settings = settings
        else:
            self.batcher.close()
            self.batcher = None
            self.info.extra["batch_off"] = N_("the memory budget leaves no room for a batch")
        self.info.extra["batch_sessions"] = settings.sessions
        self.queue = FairQueue(settings.sessions if self.batcher else 1)

    def close(self) -> None:
        """Stop the batch decoder's threads (the model manager unloads this engine)."""
        if self.batcher is not None:
            self.batcher.close()

    def batch_blockers_for(self, prompt: object, params: GenerationParams) -> list[str]:
        """Why this request must run ``generate()`` alone (empty: it can batch).

        A request that records per-step logits (the "how it works" panel) never batches:
        a flag for it on ``GenerationParams`` is caught by :func:`batch_blockers`; one
        carried some other way must add its reason here (the batch decoder returns sampled
        ids only)."""
        if self.batcher is None:
            return ["batching off"]
        if not isinstance(prompt, list):
            return ["embedded prompt"]
        return batch_blockers(params)

    def _batch_weight(self, prompt: object, params: GenerationParams) -> int | None:
        """Queue slots for a batched request, or None: it takes the model alone."""
        if self.batch_blockers_for(prompt, params) or self.batcher is None:
            return None
        slots = slots_needed(self.batcher.settings, len(prompt), params.max_new_tokens)  # type: ignore[arg-type]
        return slots if slots <= self.queue.capacity else None

    # -- prompt helpers -------------------------------------------------------------
    def render_chat(self, messages: Sequence[Message]) -> str:
        return render_chat(messages, bos=self.tokenizer.bos_token or "")

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def _token_text(self, token_id: int) -> str:
        """One token as the piece it is (for the recorder and the prompt view)."""
        return piece_text(self.tokenizer, token_id)

    # -- generation ---------------------------------------------------------------
    def stream_chat(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Generation:
        try:
            fitted = fit_to_context(
                messages,
                self.count_tokens,
                self.info.context_window,
                params.max_new_tokens,
                self.render_chat,
            )
        except EngineError as exc:
            return Generation.failed(exc, cancel)
        p = GenerationParams(**{**params.to_dict(), "max_new_tokens": fitted.max_new_tokens})
        return self.stream_text(fitted.prompt, p, cancel).note_fitted(fitted, messages)

    def stream_ids(
        self, ids: list[int], params: GenerationParams, cancel: CancelToken | None = None
    ) -> Generation:
        """Continue exact token ids (step mode feeds back the ids it picked: re-encoding
        their text could split it into other tokens)."""
        gen = Generation(cancel)
        gen.stats.prompt_tokens = len(ids)
        return self._start(gen, list(ids), params)

    def stream_text(
        self, prompt: str, params: GenerationParams, cancel: CancelToken | None = None
    ) -> Generation:
        gen = Generation(cancel)
        ids = self.encode(prompt)
        gen.stats.prompt_tokens = len(ids)
        return self._start(gen, ids, params)

    def _start(self, gen: Generation, prompt: object, params: GenerationParams) -> Generation:
        """Queue ``prompt`` (token ids, or whatever :meth:`_prompt_inputs` of a subclass
        understands) on a worker thread."""
        if params.explain and gen.trace is None:
            gen.trace = Trace(context_window=self.info.context_window)
        ACTIVITY.add(self.info.key, gen)  # the Class view's queue length and cancel
        worker = threading.Thread(  # in a copy of the caller's context: errors in its language
            target=contextvars.copy_context().run,
            args=(self._run, gen, [prompt], params),  # a box _run empties: see there
            daemon=True,
            name="generate",
        )
        worker.start()
        return gen

    @contextmanager
    def _prompt_inputs(self, ids: list[int]) -> Iterator[dict[str, torch.Tensor]]:
        """The keyword inputs of ``generate()`` for one prompt; runs in the worker, inside
        the queue, so subclasses may do model work here (e.g. encode images)."""
        input_ids = torch.tensor([ids], dtype=torch.long, device=self.model.device)
        yield {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}

    def _run(self, gen: Generation, box: list, params: GenerationParams) -> None:
        """The worker: wait in line, generate, finish ``gen``.

        ``box`` holds the prompt (token ids, or a subclass's inputs with image tensors).
        The worker is a daemon thread, and finishing ``gen`` can be the last thing a
        script waits for before it exits (``print(gen.result())``): any tensor this
        thread still held would then be freed during interpreter shutdown, and freeing a
        tensor releases the GIL, which a daemon thread cannot take back then. Python
        ends the thread by unwinding it through torch's C++ and the process aborts
        ("terminate called without an active exception", about 1 run in 30). So the
        prompt is taken out of the box, and every reference this frame has is dropped
        before ``finish``."""
        ids = box.pop()
        weight = self._batch_weight(ids, params)
        try:
            ticket = self.queue.acquire(
                gen.set_queue_position, lambda: gen.cancelled, weight=weight
            )
        except Cancelled:
            del ids
            gen.finish("cancelled")
            return
        job = None
        try:
            gen.started()
            if weight is not None:
                reason, error = self._generate_batched(gen, ids, params)
            else:
                job = self._executor.submit(
                    contextvars.copy_context().run, self._generate, gen, ids, params
                )
                reason, error = job.result()
        except Exception as exc:  # never let a worker die silently
            reason, error = "error", EngineError(_("generation failed: {error}").format(error=exc))
        finally:
            self.queue.release(ticket)
        del ids, job  # (a failed job's traceback holds the generation's frames)
        gen.finish(reason, error)

    def _stream_for(self, gen: Generation, params: GenerationParams) -> _Stream:
        skip = set(self.loaded.stop_ids) | (
            set() if params.keep_special_tokens else self._special_ids
        )
        decoder = IncrementalDecoder(
            lambda t: self.tokenizer.decode(
                t, skip_special_tokens=False, clean_up_tokenization_spaces=False
            ),
            skip_ids=skip,
        )
        return _Stream(gen, decoder, params.stop_words)

    def _generate_batched(
        self, gen: Generation, ids: list[int], params: GenerationParams
    ) -> tuple[str, EngineError | None]:
        """Decode in the shared batch; Stop takes only this request out of it."""
        assert self.batcher is not None
        stream = self._stream_for(gen, params)
        lock = threading.Lock()  # the manager thread's deltas vs our final flush
        done = threading.Event()
        outcome: list = ["error", EngineError(_("generation ended without a result"))]
        ended = False

        def on_tokens(new: list[int]) -> bool:
            with lock:
                if not ended:
                    stream.push_ids(new)
                return not stream.hit_stop_word

        def on_done(reason: str, error: EngineError | None) -> None:
            outcome[:] = [reason, error]
            done.set()

        rid = self.batcher.submit(ids, params, self.loaded.stop_ids, on_tokens, on_done)
        while not done.wait(0.05):
            if gen.cancelled and self.batcher.cancel(rid):
                outcome[:] = ["cancelled", None]
                break
            if not self.batcher.running and not done.wait(1.0):  # died without a word
                self.batcher.cancel(rid)
                break
        with lock:
            ended = True
            stream.end()
        reason, error = outcome
        return ("cancelled", None) if gen.cancelled and error is None else (reason, error)

    def _generate(
        self, gen: Generation, ids: list[int], params: GenerationParams
    ) -> tuple[str, EngineError | None]:
        stop_ids = self.loaded.stop_ids
        stream = self._stream_for(gen, params)
        kwargs: dict = dict(
            max_new_tokens=max(1, params.max_new_tokens),
            repetition_penalty=params.repetition_penalty,
            eos_token_id=stop_ids,
            pad_token_id=self.model.generation_config.pad_token_id,
        )
        sample = params.do_sample and params.temperature > 0
        beams = max(1, int(params.num_beams))
        if sample and (params.seed is None or beams > 1):
            kwargs.update(
                do_sample=True,
                temperature=params.temperature,
                top_p=params.top_p,
                top_k=params.top_k,
            )
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if sample:  # seeded: our own generator
                kwargs["logits_processor"] = seeded_sampling(params, params.seed)  # type: ignore[arg-type]
        if beams > 1:  # as the XComposer2 demos: generate(num_beams=N), sampling or not
            kwargs["num_beams"] = beams
        if gen.trace is not None:  # the "How it works" panel is open (recorder.py)
            gen.trace.set_prompt(ids, getattr(self, "tokens_per_image", 0))
            if beams == 1:  # per-step picks of one sequence; beams have no such thing
                kwargs.update(recording_kwargs(params, gen.trace, _DrawWith, self._token_text))
            else:
                gen.trace.note = _(
                    "Beam search: the reply is the best of {n} candidate sequences, chosen "
                    "at the end, so there is no single draw per token to show. Set the beams "
                    "to 1 to see each token's probabilities."
                ).format(n=beams)
        if self.decode != "eager":
            kwargs["cache_implementation"] = "static"
        stop_when = _StopWhen(gen.cancel_token, stream, report=beams > 1)
        try:
            with (
                torch.inference_mode(),
                _global_seed(params.seed if sample and beams > 1 else None, self.model.device),
                self._prompt_inputs(ids) as inputs,
            ):
                out = self.model.generate(
                    **inputs,
                    # generate() refuses a streamer with beams: the text comes at the end
                    streamer=stream if beams == 1 else None,
                    stopping_criteria=StoppingCriteriaList([stop_when]),
                    **kwargs,
                )
        except torch.OutOfMemoryError:
            _free_cuda()
            return "error", OutOfMemory(
                _(
                    "the GPU ran out of memory while generating: lower max new tokens, clear the "
                    "conversation, or unload other models on the Models page"
                )
            )
        prompt_len = inputs["input_ids"].shape[1] if "input_ids" in inputs else 0
        new = out[0, prompt_len:].tolist()
        if beams > 1:  # the best beam, up to its stop token (the rest is padding)
            end = next((k for k, t in enumerate(new) if t in stop_ids), len(new) - 1)
            new = new[: end + 1]
            stream.push_ids(new)
            stream.end()
        if gen.cancelled:
            return "cancelled", None
        if stream.hit_stop_word:
            return "stop_word", None
        if new and new[-1] in stop_ids:
            return "stop", None
        return "length", None


@contextmanager
def _global_seed(seed: int | None, device: torch.device) -> Iterator[None]:
    """Beam *sampling* draws from torch's process-wide generator inside ``generate()``
    (no processor can take over its draws, as :func:`seeded_sampling` does for one
    sequence): seed it for this call, as the original demo's ``set_random_seed`` did, and
    give the previous state back afterwards. The same seed gives the same beams as long as
    no other model samples unseeded at the same moment."""
    if seed is None:
        yield
        return
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _free_cuda() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
