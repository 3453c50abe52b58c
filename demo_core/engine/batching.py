"""Concurrent sessions decode together: transformers' own continuous batching, in-process.

A memory-bound decode step costs about as much for eight sequences as for one, so a queue
that serves one browser tab at a time throws most of the GPU away. This module puts
transformers' continuous-batching manager (``model.init_continuous_batching`` -- the
machinery behind ``generate_batch`` and ``transformers serve``: paged KV cache, FIFO
scheduler, per-request temperature / top-k / top-p, streaming, cancellation) behind the
engine. Nothing here decodes by hand: we submit token ids, read the manager's streamed
outputs, and route them to the right request.

What cannot batch (checked in :func:`batch_blockers`; such a request takes the whole model
through the fair queue and runs ``model.generate`` as before), read from transformers 5.24's
``generation/continuous_batching``:

- **repetition penalty != 1.0**: ``RepetitionPenaltyLogitsProcessor`` is marked
  ``supports_continuous_batching = False`` and the manager drops it; CB's processors are
  handed one flattened row of the batch's last token ids, not each request's history, so
  no per-request penalty can be computed there.
- **a seed**: CB samples every request with the one process-wide generator
  (``torch.multinomial`` after ``torch.manual_seed`` at start), so a seed could not give the
  same text whatever else runs. Seeded requests keep their private generator
  (``local.seeded_sampling``).
- **beam search** (``num_beams`` > 1): CB keeps one sequence per request and has no
  beams; such a request runs ``generate(num_beams=N)`` alone.
- **static / compiled decode modes**: those are ``generate()``'s static KV cache and
  ``torch.compile`` of ``model.forward``; CB has its own paged cache. An engine set to one of
  them does not batch at all.
- **a prompt + reply longer than the batch KV cache** (``batch_kv_tokens``): CB would fail the
  whole loop ("no requests can be scheduled"), so it runs alone instead.
- **any other per-request setting** (a field of ``GenerationParams`` this module does not
  know, e.g. a per-step logits recorder for the "how it works" panel: the batch decoder
  returns sampled ids only), and **models whose
  inputs are embeddings** (XComposer2: images arrive as ``inputs_embeds`` and PLoRA reads a
  per-request image mask; ``add_request`` takes token ids only): engines mark these with
  :attr:`TransformersEngine.batch_blocker` or a request attribute, see the engine.

Greedy requests batch with sampling ones: per-request ``top_k = 1`` keeps only the argmax.
The fair queue still orders everything (first come, first served, with the places shown):
a batched request takes slots of the queue, an unbatchable one takes all of them.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from transformers import GenerationConfig
from transformers.generation.configuration_utils import ContinuousBatchingConfig
from transformers.generation.continuous_batching.continuous_api import OutputRouter

from demo_core.engine.base import EngineError, GenerationParams, OutOfMemory
from demo_core.i18n import _

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSettings:
    """How many sessions decode together and how much KV cache they share.

    ``sessions`` 0 (or 1) turns batching off: every request queues, as before.
    ``kv_tokens``: tokens of paged KV cache shared by the batch (default ``sessions`` x 2048);
    a request needs ``ceil((prompt + max_new) / (kv_tokens / sessions))`` slots of the queue.
    ``prefill_tokens``: the most prompt tokens one step processes (longer prompts are split).
    """

    sessions: int = 8
    kv_tokens: int = 0
    prefill_tokens: int = 1024
    page_size: int = 256

    @property
    def enabled(self) -> bool:
        return self.sessions > 1

    @property
    def cache_tokens(self) -> int:
        return self.kv_tokens or self.sessions * 2048

    @property
    def slot_tokens(self) -> int:
        return max(1, self.cache_tokens // max(1, self.sessions))

    @property
    def cache_blocks(self) -> int:
        """Pages of KV cache the batch decoder allocates (one spare page per slot)."""
        return self.sessions * (math.ceil(self.slot_tokens / self.page_size) + 1)

    def cache_bytes(self, config: dict, dtype_bytes: int) -> int:
        """Bytes of the paged KV cache for a model with this ``config.json``: transformers
        allocates every page when the batch decoder starts, so the memory budget must count
        it beside the weights (0 when batching is off)."""
        if not self.enabled:
            return 0
        layers = int(config.get("num_hidden_layers", 0))
        heads = int(config.get("num_attention_heads", 1))
        kv_heads = int(config.get("num_key_value_heads") or heads)
        head_dim = int(config.get("head_dim") or int(config.get("hidden_size", 0)) // heads)
        per_token = 2 * layers * kv_heads * head_dim * dtype_bytes  # keys and values
        # transformers keeps two more pages that are never handed out ("trash" sectors)
        return (self.cache_blocks + 2) * self.page_size * per_token

    def fitted(self, config: dict, dtype_bytes: int, room_bytes: int) -> BatchSettings:
        """These settings with as many sessions as ``room_bytes`` of KV cache hold (each
        keeps its slot size); fewer than two sessions means no batch (every request queues).
        A first-generation 7B's cache at the defaults is ~10 GB: on a 24 GB card that is the
        difference between loading and failing at the first batched reply."""
        def with_sessions(n: int) -> BatchSettings:
            return replace(self, sessions=n, kv_tokens=self.slot_tokens * n)

        sessions = self.sessions
        while sessions > 1 and with_sessions(sessions).cache_bytes(config, dtype_bytes) > room_bytes:
            sessions -= 1
        if sessions == self.sessions:
            return self
        return with_sessions(sessions) if sessions > 1 else replace(self, sessions=0)

    @classmethod
    def from_settings(cls, entry: dict) -> BatchSettings:
        """Per-model ``settings.json`` keys: ``batch_sessions``, ``batch_kv_tokens``,
        ``batch_prefill_tokens``; ``"batching": false`` turns it off."""
        if entry.get("batching") is False:
            return cls(sessions=0)
        try:
            return cls(
                sessions=int(entry.get("batch_sessions", cls.sessions)),
                kv_tokens=int(entry.get("batch_kv_tokens", 0)),
                prefill_tokens=int(entry.get("batch_prefill_tokens", cls.prefill_tokens)),
            )
        except (TypeError, ValueError) as exc:
            raise EngineError(
                _("batch settings must be whole numbers: {error}").format(error=exc)
            ) from exc


# the settings the batch decoder honours per request; any other one that is set (e.g. a
# logits recorder for the "how it works" panel) sends the request to generate() alone
_BATCHED_FIELDS = {
    "max_new_tokens",
    "temperature",
    "top_p",
    "top_k",
    "do_sample",
    "stop_words",
    "keep_special_tokens",
}


def batch_blockers(params: GenerationParams) -> list[str]:
    """Why a request with these sampling settings cannot join the batch (empty: it can)."""
    reasons = [
        name
        for name, value in vars(params).items()
        if name not in _BATCHED_FIELDS | {"repetition_penalty", "seed", "num_beams"} and value
    ]
    if params.num_beams > 1:  # generate()'s beam search; CB decodes one sequence each
        reasons.append("beam search")
    if params.repetition_penalty != 1.0:
        reasons.append("repetition penalty")
    if params.seed is not None and params.do_sample and params.temperature > 0:
        reasons.append("seed")
    return reasons


def slots_needed(settings: BatchSettings, prompt_tokens: int, max_new_tokens: int) -> int:
    """Queue slots a batched request takes: its share of the batch's KV cache."""
    return max(1, math.ceil((prompt_tokens + max_new_tokens) / settings.slot_tokens))


@dataclass
class _Sink:
    on_tokens: Callable[[list[int]], bool]  # new ids -> keep going?
    on_done: Callable[[str, EngineError | None], None]
    stop_ids: frozenset[int]
    seen: int = 0


class _Router(OutputRouter):
    """Hands each streamed output straight to its request's callbacks on the manager's own
    thread. The manager's default router puts every output on one shared queue for a reader
    thread (or needs an asyncio loop); a reader thread costs a hand-over and a GIL switch per
    token, which measurably slowed a lone session on CPU."""

    def __init__(self, batcher: ContinuousBatcher) -> None:
        super().__init__()
        self._batcher = batcher

    def deliver(self, output) -> None:
        self._batcher._route(output)

    def deliver_batch(self, outputs) -> None:
        for output in outputs:
            self._batcher._route(output)


class ContinuousBatcher:
    """One transformers ``ContinuousBatchingManager`` for one model, shared by its sessions.

    The manager runs its own generation thread, which hands each request's new token ids to
    that request's callbacks (:class:`_Router`).
    If the manager's loop dies (a fatal error), every request it held is failed and the
    next request starts a fresh manager, so one bad step never leaves the model stuck.
    """

    def __init__(
        self, model, settings: BatchSettings, stop_ids: list[int], pad_token_id: int | None
    ) -> None:
        self.model = model
        self.settings = settings
        self.stop_ids = list(stop_ids)
        self.pad_token_id = pad_token_id
        self._lock = threading.Lock()
        self._sinks: dict[str, _Sink] = {}
        self._manager = None
        self._counter = 0
        self._closed = False

    # -- manager lifecycle -----------------------------------------------------------
    def _generation_config(self) -> GenerationConfig:
        # non-default temperature / top-k / top-p so that the manager builds their
        # per-request processors; every request passes its own values
        return GenerationConfig(
            do_sample=True,
            temperature=0.7,
            top_k=40,
            top_p=0.8,
            max_new_tokens=256,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_token_id,
        )

    def _cb_config(self) -> ContinuousBatchingConfig:
        s = self.settings
        return ContinuousBatchingConfig(
            per_request_processors=True,
            num_blocks=s.cache_blocks,
            max_batch_tokens=s.prefill_tokens,
            max_requests_per_batch=s.sessions,
            page_size=s.page_size,
            # keep the model's own attention (sdpa): the queued path shares the model, and
            # its numbers were verified against the original with it
            auto_switch_to_flash=False,
        )

    def _ensure_running(self):
        """The live manager, started if needed (caller holds ``_lock``)."""
        mgr = self._manager
        if mgr is not None and mgr.is_running():
            return mgr
        if mgr is not None:  # its loop died: fail what it held, start afresh
            self._fail_all_locked(EngineError(_("the batch decoder stopped; please try again")))
            self._shutdown(mgr)
        mgr = self.model.init_continuous_batching(
            generation_config=self._generation_config(),
            continuous_batching_config=self._cb_config(),
        )
        # before start(): the loop's batch processor is built with the manager's router
        mgr.output_router = _Router(self)
        _start_as_daemon(mgr)
        self._manager = mgr
        return mgr

    @property
    def running(self) -> bool:
        mgr = self._manager
        return mgr is not None and mgr.is_running()

    @staticmethod
    def _shutdown(mgr) -> None:
        try:
            mgr.stop(block=True, timeout=10)
            mgr.destroy()
        except Exception:  # a dead loop may refuse a clean stop; it is gone either way
            log.exception("stopping the continuous-batching manager failed")

    def close(self) -> None:
        """Stop the manager's thread (the model is being unloaded)."""
        with self._lock:
            self._closed = True
            mgr, self._manager = self._manager, None
            self._fail_all_locked(EngineError(_("the model was unloaded")))
        if mgr is not None:
            self._shutdown(mgr)

    # -- requests ------------------------------------------------------------------
    def submit(
        self,
        ids: list[int],
        params: GenerationParams,
        stop_ids: list[int],
        on_tokens: Callable[[list[int]], bool],
        on_done: Callable[[str, EngineError | None], None],
    ) -> str:
        """Add one request; ``on_tokens(new_ids)`` runs on the manager's thread for every
        step (keep it short: it decodes a token and hands the text on) (return False to end the request, e.g. on a stop word), ``on_done(reason,
        error)`` once at the end. Returns the id for :meth:`cancel`."""
        greedy = not params.do_sample or params.temperature <= 0
        vocab = int(self.model.config.vocab_size)
        sampling = {
            "temperature": 1.0 if greedy else float(params.temperature),
            "top_k": 1 if greedy else int(params.top_k if params.top_k > 0 else vocab),
            "top_p": 1.0 if greedy else float(params.top_p),
        }
        with self._lock:
            if self._closed:
                raise EngineError(_("the model was unloaded"))
            mgr = self._ensure_running()
            self._counter += 1
            rid = f"demo-{self._counter}"
            self._sinks[rid] = _Sink(on_tokens, on_done, frozenset(stop_ids))
            added = mgr.add_request(
                list(ids),
                request_id=rid,
                max_new_tokens=max(1, params.max_new_tokens),
                streaming=True,
                eos_token_id=list(stop_ids),
                **sampling,
            )
            if added is None:  # the manager refused (stopping); nothing will come back
                self._sinks.pop(rid, None)
                raise EngineError(_("the batch decoder is restarting; please try again"))
        return rid

    def cancel(self, rid: str) -> bool:
        """Take ``rid`` out of the batch; False if it had already finished."""
        with self._lock:
            sink = self._sinks.pop(rid, None)
            mgr = self._manager
        if sink is None:
            return False
        if mgr is not None:
            mgr.cancel_request(rid)
        return True

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._sinks)

    # -- outputs, on the manager's thread ------------------------------------------------
    def _route(self, out) -> None:
        with self._lock:
            sink = self._sinks.get(out.request_id)
            mgr = self._manager
        if sink is None or mgr is None:  # cancelled meanwhile: drop what was in flight
            return
        try:
            self._deliver(mgr, out, sink)
        except Exception:  # never let one request's callback kill the shared loop
            log.exception("delivering a batched output failed")

    def _deliver(self, mgr, out, sink: _Sink) -> None:
        tokens = list(out.generated_tokens)
        new, sink.seen = tokens[sink.seen :], len(tokens)
        keep_going = True
        try:
            if new:
                keep_going = sink.on_tokens(new)
        except Exception as exc:  # a consumer bug ends its own request only
            self._end(out.request_id, "error", _failure(str(exc)))
            mgr.cancel_request(out.request_id)
            return
        if out.error is not None:
            self._end(out.request_id, "error", _failure(out.error))
        elif out.is_finished():
            last = tokens[-1] if tokens else None
            self._end(out.request_id, "stop" if last in sink.stop_ids else "length", None)
        elif not keep_going:
            self._end(out.request_id, "stop_word", None)
            mgr.cancel_request(out.request_id)

    def _end(self, rid: str, reason: str, error: EngineError | None) -> None:
        with self._lock:
            sink = self._sinks.pop(rid, None)
        if sink is not None:
            sink.on_done(reason, error)

    def _fail_all_locked(self, error: EngineError) -> None:
        sinks, self._sinks = self._sinks, {}
        for sink in sinks.values():
            sink.on_done("error", error)


def _start_as_daemon(mgr) -> None:
    """Start the manager's loop thread as a daemon thread.

    transformers starts it as an ordinary thread, which would keep the process alive at
    exit (Ctrl-C on the app, the end of a test run) until someone stopped the manager. A
    new thread inherits the daemon flag of the thread that starts it, so start it from a
    daemon thread; ``inference_mode`` is per thread and the loop takes its starter's."""

    def start() -> None:
        with torch.inference_mode():
            mgr.start()

    if threading.current_thread().daemon:
        start()
        return
    starter = threading.Thread(target=start, daemon=True, name="batch-start")
    starter.start()
    starter.join()


def _failure(message: str) -> EngineError:
    """The batch decoder's error string as the engine's error (an OOM says what to try)."""
    if "out of memory" in message.lower():
        return OutOfMemory(
            _(
                "the GPU ran out of memory while generating: lower max new tokens, clear the "
                "conversation, or unload other models on the Models page"
            )
        )
    return EngineError(_("generation failed: {error}").format(error=message))
