"""InternLM2's chat format and fitting a conversation into the context window.

The template is written out here rather than taken from ``tokenizer_config.json`` so
that the in-process engine, the OpenAI-compatible backend and the tests share one
definition; a test pins it token for token to the official template.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from demo_core.engine.base import Message, PromptTooLong

BOS = "<s>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"


def render_message(role: str, content: str) -> str:
    return f"{IM_START}{role}\n{content}{IM_END}\n"


def render_chat(
    messages: Sequence[Message], add_generation_prompt: bool = True, bos: str = BOS
) -> str:
    """``<s>`` + ``<|im_start|>{role}\\n{content}<|im_end|>\\n`` per message + assistant cue."""
    text = bos + "".join(render_message(m["role"], m["content"]) for m in messages)
    if add_generation_prompt:
        text += f"{IM_START}assistant\n"
    return text


@dataclass
class FittedPrompt:
    messages: list[Message]
    prompt: str
    prompt_tokens: int
    max_new_tokens: int
    dropped: int  # how many old messages were left out


def fit_to_context(
    messages: Sequence[Message],
    count_tokens: Callable[[str], int],
    context_window: int,
    max_new_tokens: int,
    render: Callable[[Sequence[Message]], str] = render_chat,
) -> FittedPrompt:
    """Drop the oldest turns (never the system prompt or the newest message) until the
    prompt leaves room to answer; shrink ``max_new_tokens`` to what is left.

    The reply keeps at least a quarter of the window (or ``max_new_tokens`` if smaller),
    so a long history costs memory of old turns, not an error.
    """
    msgs = list(messages)
    if not msgs:
        raise PromptTooLong("nothing to answer: the conversation is empty")
    system = [m for m in msgs[:1] if m["role"] == "system"]
    rest = msgs[len(system) :]
    reserve = max(1, min(max_new_tokens, context_window // 4))
    dropped = 0
    while True:
        kept = system + rest
        prompt = render(kept)
        n = count_tokens(prompt)
        if n + reserve <= context_window:
            break
        if len(rest) <= 1:
            raise PromptTooLong(
                f"the message is too long for this model: the prompt needs {n} tokens and the "
                f"context window is {context_window} (with {reserve} kept for the answer). "
                "Shorten the message or the system prompt."
            )
        # drop the oldest turn; keep user/assistant pairs together where possible
        drop = 2 if len(rest) > 2 and rest[0]["role"] == "user" and rest[1]["role"] != "user" else 1
        rest = rest[drop:]
        dropped += drop
    return FittedPrompt(kept, prompt, n, min(max_new_tokens, context_window - n), dropped)
