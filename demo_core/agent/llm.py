"""lagent's LLM interface on top of our engine, so Internlm2Agent runs on any backend.

lagent's ``HFTransformer`` calls private generation APIs that transformers 5 removed,
and it loads a model of its own (the old demo loaded one 7B copy per browser tab). This
adapter renders lagent's message list with ``INTERNLM2_META`` -- the exact prompt text
InternLM2-chat was trained on, tool tokens included -- and streams it through the shared
:class:`~demo_core.engine.base.ChatEngine` with ``keep_special_tokens=True`` in its
parameters so that
``<|action_start|><|interpreter|>`` survive decoding and lagent's parser can see them.
"""

from __future__ import annotations

from collections.abc import Iterator

from lagent.llms.base_llm import BaseModel
from lagent.llms.meta_template import INTERNLM2_META
from lagent.schema import ModelStatusCode

from demo_core.engine.base import CancelToken, ChatEngine, EngineError, GenerationParams

# The original agent demo's sampling: near-greedy, code must be exact (its other settings,
# 1024 new tokens, top-p 0.8 and top-k 40, are the lesson defaults).
AGENT_PARAMS = GenerationParams(temperature=0.1, repetition_penalty=1.0, stop_words=("<|im_end|>",))


class EngineLLM(BaseModel):
    """A lagent ``BaseModel`` whose generation is ``engine.stream_text``.

    ``cancel`` is swapped per run by the agent runner; ``last_error`` holds the engine's
    message when a stream ends with a negative status (lagent only sees the code).
    """

    def __init__(
        self,
        engine: ChatEngine,
        params: GenerationParams | None = None,
        meta_template: list[dict] | None = None,
    ) -> None:
        self.engine = engine
        self.params = params or AGENT_PARAMS
        super().__init__(
            path=engine.info.key,
            meta_template=meta_template or INTERNLM2_META,
            max_new_tokens=self.params.max_new_tokens,
            top_p=self.params.top_p,
            top_k=self.params.top_k,
            temperature=self.params.temperature,
            repetition_penalty=self.params.repetition_penalty,
            stop_words=list(self.params.stop_words),
        )
        self.cancel = CancelToken()
        self.last_error: str = ""
        self.last_prompt: str = ""
        self.last_stats = None
        self.last_trace = None  # the last call's Trace when params.explain is on

    # -- prompt ---------------------------------------------------------------------
    @property
    def bos(self) -> str:
        tok = getattr(self.engine, "tokenizer", None)
        return getattr(tok, "bos_token", None) or "<s>"

    def render(self, messages: list[dict]) -> str:
        """The exact text the model continues: BOS, the turns, ``<|im_start|>assistant``."""
        return self.bos + self.template_parser(messages)

    def _params(self, prompt: str, **gen_params) -> GenerationParams:
        p = GenerationParams(**{**self.params.to_dict(), "keep_special_tokens": True})
        for key in ("max_new_tokens", "temperature", "top_p", "top_k", "repetition_penalty"):
            if gen_params.get(key) is not None:
                setattr(p, key, gen_params[key])
        if "do_sample" in gen_params:
            p.do_sample = bool(gen_params["do_sample"])
        window = self.engine.info.context_window
        used = self.engine.count_tokens(prompt)
        room = window - used
        if room < min(64, p.max_new_tokens):
            raise PromptTooLongForAgent(
                f"the conversation needs {used} tokens and the model's context window is "
                f"{window}: clear the conversation or lower the number of turns"
            )
        p.max_new_tokens = min(p.max_new_tokens, room)
        return p

    # -- lagent API -----------------------------------------------------------------
    def stream_generate(self, inputs: str, **gen_params) -> Iterator[tuple]:
        """Yield ``(ModelStatusCode, text so far, None)`` like lagent's own models."""
        self.last_error = ""
        self.last_prompt = inputs
        self.last_stats = self.last_trace = None
        try:
            params = self._params(inputs, **gen_params)
        except PromptTooLongForAgent as exc:
            self.last_error = str(exc)
            yield ModelStatusCode.SESSION_OUT_OF_LIMIT, "", None
            return
        gen = self.engine.stream_text(inputs, params, self.cancel)
        self.last_trace = gen.trace
        text = ""
        try:
            for delta in gen:
                text += delta
                yield ModelStatusCode.STREAM_ING, text, None
        finally:
            gen.close()  # consumer gone (Stop, rerun): stop the producer too
        self.last_stats = gen.stats
        if gen.error is not None:
            self.last_error = str(gen.error)
            yield ModelStatusCode.SERVER_ERR, text, None
        elif gen.cancelled:
            self.last_error = "stopped"
            yield ModelStatusCode.SESSION_CLOSED, text, None
        else:
            yield ModelStatusCode.END, text, None

    def stream_chat(self, inputs: list[dict], **gen_params) -> Iterator[tuple]:
        yield from self.stream_generate(self.render(inputs), **gen_params)

    def generate(self, inputs: str | list[str], **gen_params) -> str | list[str]:
        """Blocking generation (used by lagent's non-streaming ``Internlm2Agent.chat``)."""
        batch = [inputs] if isinstance(inputs, str) else list(inputs)
        out = []
        for prompt in batch:
            final = ""
            for state, text, _ in self.stream_generate(prompt, **gen_params):
                if state.value < 0:
                    raise EngineError(self.last_error or state.name)
                final = text
            out.append(final)
        return out[0] if isinstance(inputs, str) else out

    def chat(self, inputs: list[dict] | list[list[dict]], **gen_params):
        # lagent's BaseModel.chat renders without BOS; we need it (stream_text is raw)
        if inputs and isinstance(inputs[0], list):
            return self.generate([self.render(m) for m in inputs], **gen_params)
        return self.generate(self.render(inputs), **gen_params)


class PromptTooLongForAgent(EngineError):
    pass
