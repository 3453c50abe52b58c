"""The prompt as the model sees it: the engine's real input ids, split into coloured runs.

The runs are found from the tokens themselves, not from the messages the page meant to
send, so what is shown is exactly what ``generate()`` got: ``<s>``, each
``<|im_start|>{role}\\n ... <|im_end|>\\n`` block under its role, the agent's tool calls
(``<|action_start|><|interpreter|> ... <|action_end|>``) and tool results (the
``environment`` role), XComposer2's image spans. Joined back together the runs give the
ids again, token for token (tests check this with the real tokenizer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from demo_core.engine.trace import Trace

IM_STARTS = ("<|im_start|>", "[UNUSED_TOKEN_146]")  # InternLM2-chat, XComposer2 release
IM_ENDS = ("<|im_end|>", "[UNUSED_TOKEN_145]")
ACTION_START, ACTION_END = "<|action_start|>", "<|action_end|>"
SPECIAL_PIECES = {
    "<s>",
    "</s>",
    *IM_STARTS,
    *IM_ENDS,
    ACTION_START,
    ACTION_END,
    "<|interpreter|>",
    "<|plugin|>",
}

# role -> background colour (light enough for dark text in both themes)
ROLE_COLOURS = {
    "system": "#e8e0ff",
    "user": "#dbeafe",
    "assistant": "#dcfce7",
    "tool_call": "#fde68a",
    "environment": "#fed7aa",
    "image": "#f5d0fe",
    "special": "#e5e7eb",
}


@dataclass
class Token:
    id: int
    text: str

    @property
    def special(self) -> bool:
        return self.text in SPECIAL_PIECES


@dataclass
class Segment:
    """A run of prompt tokens under one role, or an image's span (``image`` set)."""

    role: str
    tokens: list[Token] = field(default_factory=list)
    image: int | None = None
    image_tokens: int = 0

    @property
    def ids(self) -> list[int]:
        return [t.id for t in self.tokens]

    @property
    def size(self) -> int:
        return len(self.tokens) + self.image_tokens


def _role_of(header: str) -> str:
    name = header.strip().split(" ", 1)[0]
    return {"environment": "environment", "function": "environment"}.get(name, name or "user")


def token_roles(pieces: Sequence[str]) -> list[str]:
    """The role each token belongs to, read off the chat markers in ``pieces``."""
    roles: list[str] = []
    role, header, in_header, in_action, after_end = "special", "", False, False, False
    for i, piece in enumerate(pieces):
        if piece in IM_STARTS:
            # the header "role\n" (tokens up to the newline) names the block
            header, in_header, after_end = "", True, False
            j = i + 1
            while j < len(pieces) and "\n" not in pieces[j]:
                header += pieces[j]
                j += 1
            if j < len(pieces):
                header += pieces[j].split("\n", 1)[0]
            role = _role_of(header)
            roles.append(role)
            continue
        if in_header:
            roles.append(role)
            if "\n" in piece:
                in_header = False
            continue
        if after_end:  # the newline after <|im_end|> still closes that block
            after_end = False
            if piece == "\n":
                roles.append(role)
                continue
            role = "special"
        if piece == ACTION_START:
            in_action = True
        roles.append("tool_call" if in_action else role)
        if piece == ACTION_END:
            in_action = False
        if piece in IM_ENDS:
            after_end = True
        if piece in ("<s>", "</s>") and not in_action:
            roles[-1] = "special"
    return roles


def segments(trace: Trace, piece: Callable[[int], str]) -> list[Segment]:
    """``trace``'s prompt as runs of one role each (image spans as their own runs)."""
    out: list[Segment] = []
    for part in trace.parts:
        if part.image is not None:
            out.append(Segment("image", image=part.image, image_tokens=part.image_tokens))
            continue
        pieces = [piece(i) for i in part.ids]
        for tid, text, role in zip(part.ids, pieces, token_roles(pieces), strict=True):
            if out and out[-1].role == role and out[-1].image is None:
                out[-1].tokens.append(Token(tid, text))
            else:
                out.append(Segment(role, [Token(tid, text)]))
    return out


def left_out(trace: Trace) -> list[dict]:
    """The messages :func:`~demo_core.internlm2.template.fit_to_context` dropped: the
    oldest ones after the system prompt."""
    if not trace.dropped:
        return []
    msgs = list(trace.messages)
    start = 1 if msgs and msgs[0].get("role") == "system" else 0
    return msgs[start : start + trace.dropped]
