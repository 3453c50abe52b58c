"""A ChatEngine that talks to an OpenAI-compatible server (LMDeploy, vLLM, transformers serve).

One GPU running in-process transformers serves one request at a time; a serving engine
brings continuous batching, tensor parallelism and a faster kernel path. Pages do not
care which they get: this engine yields the same :class:`Generation` (text deltas, token
counts, time to first token, finish reason, Stop) as the in-process one.

- chat: streaming ``/v1/chat/completions``; images ride along as ``image_url`` content parts
  (``data:`` URLs), which is how LMDeploy serves XComposer2-VL.
- raw text (the agent renders InternLM2's protocol itself): streaming ``/v1/completions``.
- Stop: the socket is shut down, which is what tells the server to stop generating.
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from demo_core.classroom import ACTIVITY
from demo_core.engine.base import (
    CancelToken,
    EngineError,
    EngineInfo,
    Generation,
    GenerationParams,
    Message,
    ModelUnavailable,
)
from demo_core.engine.content_parts import (
    IMAGE_TOKENS_ESTIMATE,
    image_count,
    text_only,
    to_wire,
)
from demo_core.engine.http_stream import (
    Endpoint,
    HttpStatusError,
    HttpStream,
    _message_from,
    iter_sse_data,
)
from demo_core.engine.streaming import find_stop_word, partial_stop_suffix
from demo_core.engine.trace import Alternative, TokenStep, Trace
from demo_core.i18n import _
from demo_core.internlm2.template import BOS, fit_to_context, render_chat

CANCEL_POLL_S = 0.05
TOP_LOGPROBS = 10  # alternatives asked for per token while "How it works" is open
NO_LOGPROBS = (
    "The server sent no logprobs, so the probabilities of the tokens cannot be shown "
    "(vLLM and LMDeploy send them; some servers ignore the request)."
)


@dataclass(frozen=True)
class OpenAIConfig:
    """One model served elsewhere; the fields are the settings.json keys."""

    key: str
    base_url: str
    model: str
    api_key: str = ""
    label: str = ""
    connect_timeout_s: float = 5.0
    timeout_s: float = 120.0  # longest silence while waiting for the next bytes
    context_window: int = 32768
    # top_k, repetition_penalty, skip_special_tokens: LMDeploy and vLLM accept them,
    # strict OpenAI servers (transformers serve) reject unknown fields with HTTP 422.
    extended_params: bool = True


def config_from_settings(key: str, entry: Mapping, label: str = "") -> OpenAIConfig:
    """Validate a ``settings.json`` model entry; a mistake becomes a message naming the key."""

    def where(field: str) -> str:
        return f'settings.json: models["{key}"]["{field}"]'

    base_url = entry.get("base_url")
    if not isinstance(base_url, str) or not base_url.strip():
        raise EngineError(
            _(
                '{where} is missing: with backend "openai" it must be the server\'s '
                "API address, e.g. http://127.0.0.1:23333/v1"
            ).format(where=where("base_url"))
        )
    Endpoint.parse(base_url)
    model = entry.get("model", key)
    if not isinstance(model, str) or not model:
        raise EngineError(
            _("{where} must be the model name the server serves").format(where=where("model"))
        )

    def number(field: str, default: float, kind: type = float) -> float:
        raw = entry.get(field, default)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
            raise EngineError(
                _("{where} must be a positive number, not {value}").format(
                    where=where(field), value=repr(raw)
                )
            )
        return kind(raw)

    return OpenAIConfig(
        key=key,
        base_url=base_url.strip(),
        model=model,
        api_key=str(entry.get("api_key") or ""),
        label=label or model,
        connect_timeout_s=number("connect_timeout_s", 5.0),
        timeout_s=number("timeout_s", 120.0),
        context_window=int(number("context_window", 32768, int)),
        extended_params=bool(entry.get("extended_params", True)),
    )


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate for history trimming: InternLM2 spends about one token per
    CJK character and one per ~4 other characters. The server counts exactly (usage)."""
    cjk = sum(1 for ch in text if ord(ch) >= 0x2E80)
    return cjk + (len(text) - cjk + 3) // 4


class OpenAIEngine:
    """A model behind an OpenAI-compatible HTTP API, as a :class:`ChatEngine`."""

    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        self.endpoint = Endpoint.parse(config.base_url)
        self.info = EngineInfo(
            key=config.key,
            label=f"{config.label or config.model} @ {self.endpoint.url}",
            backend="openai",
            device=self.endpoint.url,
            context_window=config.context_window,
            extra={"base_url": self.endpoint.url, "model": config.model},
        )
        self._active = 0
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._active > 0

    # -- prompt helpers (the server applies its own template; this is for display) ----
    def render_chat(self, messages: Sequence[Message]) -> str:
        return render_chat(text_only(messages))

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    # -- health --------------------------------------------------------------------
    def health(self, timeout_s: float = 3.0) -> list[str]:
        """The model ids the server offers; :class:`ModelUnavailable` if it is down or
        does not serve the configured model."""
        stream = self._http("/models", None, method="GET", read_timeout_s=timeout_s)
        stream.connect_timeout_s = min(self.config.connect_timeout_s, timeout_s)
        try:
            body = stream.read_all()
        except HttpStatusError as exc:
            raise ModelUnavailable(str(exc)) from None
        except ModelUnavailable:
            raise
        except EngineError as exc:
            raise ModelUnavailable(str(exc)) from None
        finally:
            stream.close()
        try:
            ids = [m["id"] for m in json.loads(body)["data"]]
        except (ValueError, KeyError, TypeError):
            raise ModelUnavailable(
                _(
                    "{url}/models did not return an OpenAI model list; is base_url "
                    "the server's /v1 address?"
                ).format(url=self.endpoint.url)
            ) from None
        if ids and self.config.model not in ids:
            raise ModelUnavailable(
                _(
                    'The server at {url} does not serve {model}; it serves {names}. Set "model" '
                    "for {key} in settings.json to one of these."
                ).format(
                    url=self.endpoint.url,
                    model=repr(self.config.model),
                    names=", ".join(map(repr, ids)),
                    key=self.config.key,
                )
            )
        return ids

    # -- generation ----------------------------------------------------------------
    def stream_chat(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Generation:
        """Messages may carry images (``images`` list or ``image_url`` content parts)."""
        msgs = list(messages)
        images = sum(image_count(m) for m in msgs)

        def count(text: str) -> int:
            return estimate_tokens(text) + images * IMAGE_TOKENS_ESTIMATE

        try:
            fitted = fit_to_context(
                text_only(msgs),
                count,
                self.config.context_window,
                params.max_new_tokens,
                render_chat,
            )
        except EngineError as exc:
            return Generation.failed(exc, cancel)
        has_system = bool(msgs) and msgs[0]["role"] == "system"
        kept = msgs[:1] + msgs[1 + fitted.dropped :] if has_system else msgs[fitted.dropped :]
        try:
            wire = [to_wire(m) for m in kept]
        except EngineError as exc:
            return Generation.failed(exc, cancel)
        body = self._sampling(params, fitted.max_new_tokens, keep_special=False)
        body["messages"] = wire
        if params.explain:  # "How it works": the chat API's per-token logprobs
            body.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        gen = self._start("/chat/completions", body, params, cancel, chat=True)
        if gen.trace is not None:
            gen.trace.prompt_text = fitted.prompt
        return gen.note_fitted(fitted, text_only(msgs))

    def stream_vision_chat(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        cancel: CancelToken | None = None,
    ) -> Generation:
        """Chat about images: each message may hold ``images`` (PIL images, bytes, paths)."""
        return self.stream_chat(messages, params, cancel)

    def stream_text(
        self, prompt: str, params: GenerationParams, cancel: CancelToken | None = None
    ) -> Generation:
        """Continue raw prompt text through ``/v1/completions``.

        A leading ``<s>`` is dropped: LMDeploy, vLLM and transformers serve all put BOS in
        front of a completion prompt themselves, and two BOS tokens change the output.
        """
        if prompt.startswith(BOS):
            prompt = prompt[len(BOS) :]
        keep = params.keep_special_tokens
        body = self._sampling(params, params.max_new_tokens, keep_special=keep)
        body["prompt"] = prompt
        if params.explain:  # the completions API's (legacy) logprobs: the top-n count
            body["logprobs"] = TOP_LOGPROBS
        gen = self._start("/completions", body, params, cancel, chat=False)
        gen.stats.prompt_tokens = estimate_tokens(prompt)
        if gen.trace is not None:
            gen.trace.prompt_text = BOS + prompt
        return gen

    # -- internals -----------------------------------------------------------------
    def _sampling(self, params: GenerationParams, max_new: int, keep_special: bool) -> dict:
        greedy = not params.do_sample or params.temperature <= 0
        body: dict = {
            "model": self.config.model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max(1, int(max_new)),
            "temperature": 0.0 if greedy else float(params.temperature),
        }
        if not greedy:
            body["top_p"] = float(params.top_p)
        if params.seed is not None:
            body["seed"] = int(params.seed)
        if params.stop_words:
            body["stop"] = list(params.stop_words)[:4]  # the OpenAI API allows four
        if self.config.extended_params:
            body["top_k"] = 1 if greedy else int(params.top_k)
            body["repetition_penalty"] = float(params.repetition_penalty)
            if keep_special:
                body["skip_special_tokens"] = False
                body["spaces_between_special_tokens"] = False
        return body

    def _http(
        self,
        path: str,
        body: dict | None,
        *,
        method: str = "POST",
        read_timeout_s: float | None = None,
    ) -> HttpStream:
        return HttpStream(
            self.endpoint,
            path,
            body,
            api_key=self.config.api_key,
            connect_timeout_s=self.config.connect_timeout_s,
            read_timeout_s=read_timeout_s or self.config.timeout_s,
            method=method,
        )

    def _start(
        self,
        path: str,
        body: dict,
        params: GenerationParams,
        cancel: CancelToken | None,
        *,
        chat: bool,
    ) -> Generation:
        gen = Generation(cancel)
        if params.num_beams > 1:
            # The OpenAI API has no beams; LMDeploy's api_server neither (TurboMind and its
            # PyTorch engine sample one sequence), and vLLM's use_beam_search is an extra
            # field other servers reject: refuse rather than silently sample one sequence.
            gen.finish(
                "error",
                EngineError(
                    _(
                        "beam search runs only in-process (transformers); this model is "
                        "served over the OpenAI-compatible API, which has no beams. Set "
                        "Beams to 1."
                    )
                ),
            )
            return gen
        if params.explain:
            gen.trace = Trace(
                source="openai",
                context_window=self.config.context_window,
                settings={
                    "temperature": params.temperature,
                    "top_p": params.top_p,
                    "top_k": params.top_k,
                    "repetition_penalty": params.repetition_penalty,
                    "do_sample": bool(params.do_sample and params.temperature > 0),
                },
            )
        ACTIVITY.add(self.info.key, gen)  # the Class view's queue length and cancel
        stream = self._http(path, body)
        threading.Thread(  # in a copy of the caller's context: errors in its language
            target=contextvars.copy_context().run,
            args=(self._run, gen, stream, params, chat),
            daemon=True,
            name="openai-stream",
        ).start()
        return gen

    def _run(
        self, gen: Generation, stream: HttpStream, params: GenerationParams, chat: bool
    ) -> None:
        with self._lock:
            self._active += 1
        finished = threading.Event()
        threading.Thread(
            target=_watch_cancel, args=(gen, stream, finished), daemon=True, name="openai-cancel"
        ).start()
        gen.started()
        try:
            reason = self._consume(gen, stream, params, chat)
            error = None
        except HttpStatusError as exc:
            reason, error = "error", exc
            if not chat and exc.status in (404, 405, 501):
                error = EngineError(
                    _(
                        "The server at {url} has no /v1/completions endpoint for raw "
                        "prompts, which the agent needs (chat works). LMDeploy and vLLM offer it; "
                        "or run this model in-process. (Server said: {error})"
                    ).format(url=self.endpoint.url, error=exc)
                )
        except EngineError as exc:
            reason, error = "error", exc
        except Exception as exc:  # never let a worker die silently
            reason, error = (
                "error",
                EngineError(_("talking to the model server failed: {error}").format(error=exc)),
            )
        finally:
            finished.set()
            stream.close()
            with self._lock:
                self._active -= 1
        if gen.cancelled:
            gen.finish("cancelled")
        else:
            gen.finish(reason, error)

    def _consume(
        self, gen: Generation, stream: HttpStream, params: GenerationParams, chat: bool
    ) -> str:
        stops = tuple(w for w in params.stop_words if w)
        text, sent = "", 0
        finish: str | None = None
        usage: dict | None = None
        for data in iter_sse_data(stream.lines()):
            if gen.cancelled:
                return "cancelled"
            piece, fr, u = _parse_event(data, chat)
            finish = fr or finish
            usage = u or usage
            if gen.trace is not None:
                for step in token_steps(data, chat):
                    gen.trace.add(step)
            if not piece:
                continue
            gen.count_token()
            text += piece
            hold = 0
            if stops:
                cut = find_stop_word(text, stops)
                if cut >= 0:
                    if cut > sent:
                        gen.emit(text[sent:cut])
                    stream.abort()  # the server stops when the connection goes
                    _apply_usage(gen, usage)
                    return "stop_word"
                hold = partial_stop_suffix(text, stops)
            upto = len(text) - hold
            if upto > sent and not gen.done:
                gen.emit(text[sent:upto])
                sent = upto
        if len(text) > sent:
            gen.emit(text[sent:])
        _apply_usage(gen, usage)
        if gen.trace is not None:
            gen.trace.note = (
                _(
                    "Probabilities as the server reports them (vLLM: the model's own "
                    "distribution, before temperature and top-p; raw greedy is not reported)."
                )
                if gen.trace.token_steps()
                else _(NO_LOGPROBS)
            )
        if finish is None:
            raise EngineError(
                _(
                    "The model server at {url} ended the stream without finishing "
                    "the answer (no finish_reason); it may have crashed."
                ).format(url=self.endpoint.url)
            )
        if finish in ("error", "abort"):
            raise EngineError(_("The model server stopped the answer ({reason}).").format(reason=finish))
        return "length" if finish == "length" else "stop"


def _watch_cancel(gen: Generation, stream: HttpStream, finished: threading.Event) -> None:
    """Turn a Stop press into a closed connection within ``CANCEL_POLL_S``, even while the
    worker is blocked waiting for the server (prefill, a queue on the server side)."""
    while not finished.wait(CANCEL_POLL_S):
        if gen.cancelled:
            stream.abort()
            gen.finish("cancelled")
            return


def _apply_usage(gen: Generation, usage: dict | None) -> None:
    """The server's exact token counts replace our per-chunk count and prompt estimate."""
    if not usage:
        return
    done = usage.get("completion_tokens")
    if isinstance(done, int) and done >= 0:
        gen.stats.new_tokens = done
    prompt = usage.get("prompt_tokens")
    if isinstance(prompt, int) and prompt >= 0:
        gen.stats.prompt_tokens = prompt


def _malformed(data: str) -> EngineError:
    return EngineError(
        _(
            "The model server sent a malformed stream event: {data}. Is base_url an "
            "OpenAI-compatible /v1 API?"
        ).format(data=repr(data[:200]))
    )


def _parse_event(data: str, chat: bool) -> tuple[str, str | None, dict | None]:
    """``(text delta, finish_reason, usage)`` of one streamed chunk."""
    try:
        obj = json.loads(data)
    except ValueError:
        raise _malformed(data) from None
    if not isinstance(obj, dict):
        raise _malformed(data)
    if obj.get("error") or obj.get("object") == "error":
        raise EngineError(
            _("The model server reported an error mid-answer: {message}").format(
                message=_message_from(obj)
            )
        )
    choices = obj.get("choices") or []
    if not isinstance(choices, list):
        raise _malformed(data)
    text, finish = "", None
    for choice in choices:
        if not isinstance(choice, dict):
            raise _malformed(data)
        if choice.get("index", 0) != 0:
            continue
        if chat:
            delta = choice.get("delta") or {}
            piece = delta.get("content") if isinstance(delta, dict) else None
        else:
            piece = choice.get("text")
        if piece is not None and not isinstance(piece, str):
            raise _malformed(data)
        text += piece or ""
        finish = choice.get("finish_reason") or finish
    usage = obj.get("usage")
    return text, finish, usage if isinstance(usage, dict) else None


def token_steps(data: str, chat: bool) -> list[TokenStep]:
    """The per-token logprobs of one streamed chunk, in either API's format:
    chat ``logprobs.content[{token, logprob, top_logprobs[{token, logprob}]}]``;
    completions ``logprobs{tokens, token_logprobs, top_logprobs[{token: logprob}]}``."""
    import math

    try:
        obj = json.loads(data)
        choice = next(c for c in obj.get("choices") or [] if c.get("index", 0) == 0)
    except (ValueError, StopIteration, AttributeError, TypeError):
        return []
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        return []
    steps: list[TokenStep] = []
    try:
        if chat:
            for entry in lp.get("content") or []:
                tops = [
                    Alternative(-1, str(t["token"]), math.exp(float(t["logprob"])))
                    for t in entry.get("top_logprobs") or []
                ]
                steps.append(
                    TokenStep(-1, str(entry["token"]), math.exp(float(entry["logprob"])), tops)
                )
        else:
            tokens = lp.get("tokens") or []
            probs = lp.get("token_logprobs") or []
            tops_all = lp.get("top_logprobs") or [None] * len(tokens)
            for tok, p, tops in zip(tokens, probs, tops_all, strict=False):
                alts = [
                    Alternative(-1, str(t), math.exp(float(v)))
                    for t, v in sorted((tops or {}).items(), key=lambda kv: -float(kv[1]))
                ]
                steps.append(TokenStep(-1, str(tok), None if p is None else math.exp(p), alts))
    except (KeyError, TypeError, ValueError):
        return steps
    return steps
