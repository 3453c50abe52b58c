"""A chat conversation as plain data: what the UI shows, what the model is sent, exports.

Replies keep their stats and how they ended (``done``, ``stopped``, ``error``) so a
stopped or failed reply stays visible instead of vanishing, yet only finished text is
sent back to the model as history.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from demo_core.i18n import ngettext

MAX_PROMPT_CHARS = 8000


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    content: str
    status: str = "done"  # done | streaming | stopped | error
    stats: dict = field(default_factory=dict)
    model: str = ""


@dataclass
class Conversation:
    system_prompt: str
    turns: list[Turn] = field(default_factory=list)

    def add_user(self, text: str) -> Turn:
        turn = Turn("user", text)
        self.turns.append(turn)
        return turn

    def start_reply(self, model: str) -> Turn:
        turn = Turn("assistant", "", status="streaming", model=model)
        self.turns.append(turn)
        return turn

    def drop_last_reply(self) -> bool:
        """Remove the newest assistant turn (for regenerate); False if there is none."""
        if self.turns and self.turns[-1].role == "assistant":
            self.turns.pop()
            return True
        return False

    def needs_reply(self) -> bool:
        return bool(self.turns) and self.turns[-1].role == "user"

    def model_messages(self) -> list[dict]:
        """Messages for the model: system prompt, then user turns and the assistant
        replies that produced text (an error note is not something the model said)."""
        msgs = (
            [{"role": "system", "content": self.system_prompt}]
            if self.system_prompt.strip()
            else []
        )
        for t in self.turns:
            if t.role == "assistant" and (t.status == "error" or not t.content):
                continue
            msgs.append({"role": t.role, "content": t.content})
        return msgs

    def clear(self) -> None:
        self.turns.clear()


def validate_prompt(text: str | None) -> tuple[str | None, str | None]:
    """``(prompt, problem)``: the cleaned prompt, or a message saying why it was refused."""
    if text is None:
        return None, None
    if not text.strip():
        return None, "The message is empty. Type something to send."
    if len(text) > MAX_PROMPT_CHARS:
        return None, f"The message is {len(text):,} characters; the limit is {MAX_PROMPT_CHARS:,}."
    return text, None


def format_stats(stats: dict) -> str:
    parts = []
    if stats.get("new_tokens"):
        n = stats["new_tokens"]
        parts.append(ngettext("{n} token", "{n} tokens", n).format(n=n))
    if stats.get("tokens_per_s"):
        parts.append(f"{stats['tokens_per_s']:.1f} tok/s")
    if stats.get("ttft_s") is not None:
        parts.append(f"first token {stats['ttft_s']:.2f} s")
    if stats.get("queued_s", 0) > 0.5:
        parts.append(f"queued {stats['queued_s']:.1f} s")
    if stats.get("dropped"):
        n = stats["dropped"]
        parts.append(f"{n} old message{'s' if n != 1 else ''} left out to fit the context")
    return " · ".join(parts)


def to_markdown(conv: Conversation, title: str) -> str:
    lines = [f"# {title}", "", f"_Exported {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}_", ""]
    if conv.system_prompt.strip():
        lines += ["**System prompt**", "", "> " + conv.system_prompt.replace("\n", "\n> "), ""]
    for t in conv.turns:
        who = "User" if t.role == "user" else f"Assistant ({t.model})" if t.model else "Assistant"
        note = "" if t.status == "done" else f" _[{t.status}]_"
        lines += [f"**{who}**{note}", "", t.content, ""]
    return "\n".join(lines)


def to_json(conv: Conversation, title: str) -> str:
    return json.dumps({"title": title, **asdict(conv)}, ensure_ascii=False, indent=2)


def from_json(text: str) -> Conversation:
    data = json.loads(text)
    return Conversation(data.get("system_prompt", ""), [Turn(**t) for t in data.get("turns", [])])
