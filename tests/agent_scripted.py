"""A scripted model behind the real ChatEngine interface, for testing the agent loop.

The tiny random model cannot write code, so these tests replay what InternLM2-chat
emits -- real protocol text with ``<|action_start|><|interpreter|>`` blocks -- through
the same ``stream_text`` -> ``Generation`` path a real engine uses, in small chunks from
a worker thread, honouring the cancel token and stop words.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from demo_core.agent.kernel import KernelLimits
from demo_core.agent.registry import KernelRegistry
from demo_core.engine.base import (
    CancelToken,
    EngineError,
    EngineInfo,
    Generation,
    GenerationParams,
)
from demo_core.engine.streaming import find_stop_word
from demo_core.internlm2.template import render_chat

SPECIALS = ("<|action_start|>", "<|action_end|>", "<|interpreter|>", "<|plugin|>")

Reply = str | Callable[[str], str] | Exception


@contextmanager
def kernel_registry(folder: Path, limits: KernelLimits | None = None) -> Iterator[KernelRegistry]:
    """Kernels for a test module's sessions in ``folder`` (which their user may enter); all
    shut down at the end. ``limits``: 5 s a cell, 2 s to react to an interrupt."""
    os.chmod(folder, 0o711)
    reg = KernelRegistry(folder, limits or KernelLimits(timeout_s=5, interrupt_grace_s=2))
    try:
        yield reg
    finally:
        reg.shutdown_all()


def code_call(code: str, thought: str = "Let me run some code.") -> str:
    """A reply in InternLM2-chat's interpreter format."""
    return f"{thought}<|action_start|><|interpreter|>\n```python\n{code}\n```<|action_end|>\n"


def plugin_call(json_text: str, thought: str = "I will use a tool.") -> str:
    return f"{thought}<|action_start|><|plugin|>\n{json_text}<|action_end|>\n"


class ScriptedEngine:
    def __init__(
        self,
        replies: Sequence[Reply] = (),
        *,
        key: str = "internlm2-chat-7b",
        context_window: int = 32768,
        chunk: int = 5,
        delay_s: float = 0.0,
    ) -> None:
        self.replies = list(replies)
        self.info = EngineInfo(
            key=key, label="Scripted InternLM2", backend="scripted", context_window=context_window
        )
        self.prompts: list[str] = []
        self.params: list[GenerationParams] = []
        self.chunk = chunk
        self.delay_s = delay_s
        self.cancelled_runs = 0
        self.busy = False

    def render_chat(self, messages) -> str:
        return render_chat(messages)

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def stream_chat(self, messages, params, cancel=None) -> Generation:
        return self.stream_text(self.render_chat(messages), params, cancel)

    def stream_text(
        self, prompt: str, params: GenerationParams, cancel: CancelToken | None = None
    ) -> Generation:
        self.prompts.append(prompt)
        self.params.append(params)
        reply = self.replies.pop(0) if self.replies else "(the script has no more replies)"
        gen = Generation(cancel)

        def produce() -> None:
            gen.started()
            try:
                text = reply(prompt) if callable(reply) else reply
                if isinstance(text, Exception):
                    raise text
            except EngineError as exc:
                gen.finish("error", exc)
                return
            except AssertionError as exc:  # a check inside a reply: surface it
                gen.finish("error", EngineError(f"script assertion failed: {exc}"))
                return
            if isinstance(reply, Exception):
                gen.finish("error", EngineError(str(reply)))
                return
            if not params.keep_special_tokens:
                for s in SPECIALS:
                    text = text.replace(s, "")
            cut = find_stop_word(text, params.stop_words)
            if cut >= 0:
                text = text[:cut]
            for i in range(0, len(text), self.chunk):
                if gen.cancelled:
                    self.cancelled_runs += 1
                    gen.finish("cancelled")
                    return
                gen.count_token()
                gen.emit(text[i : i + self.chunk])
                if self.delay_s:
                    time.sleep(self.delay_s)
            gen.finish("stop")

        threading.Thread(target=produce, daemon=True).start()
        return gen
