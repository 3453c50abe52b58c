"""A chat conversation as plain data: what the UI shows, what the model is sent, exports.

Replies keep their stats and how they ended (``done``, ``stopped``, ``error``) so a
stopped or failed reply stays visible instead of vanishing, yet only finished text is
sent back to the model as history.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from demo_core.i18n import N_, _, format_datetime, format_number, ngettext

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


# how a turn's status reads in an export
STATUS_LABELS = {"streaming": N_("streaming"), "stopped": N_("stopped"), "error": N_("error")}


def validate_prompt(text: str | None) -> tuple[str | None, str | None]:
    """``(prompt, problem)``: the cleaned prompt, or a message saying why it was refused."""
    if text is None:
        return None, None
    if not text.strip():
        return None, _("The message is empty. Type something to send.")
    if len(text) > MAX_PROMPT_CHARS:
        return None, _("The message is {n} characters; the limit is {limit}.").format(
            n=format_number(len(text)), limit=format_number(MAX_PROMPT_CHARS)
        )
    return text, None


def format_stats(stats: dict) -> str:
    parts = []
    if stats.get("new_tokens"):
        n = stats["new_tokens"]
        parts.append(ngettext("{n} token", "{n} tokens", n).format(n=format_number(n)))
    if stats.get("tokens_per_s"):
        parts.append(_("{speed} tok/s").format(speed=format_number(stats["tokens_per_s"], 1)))
    if stats.get("ttft_s") is not None:
        parts.append(_("first token {s} s").format(s=format_number(stats["ttft_s"], 2)))
    if stats.get("queued_s", 0) > 0.5:
        parts.append(_("queued {s} s").format(s=format_number(stats["queued_s"], 1)))
    if stats.get("dropped"):
        n = stats["dropped"]
        parts.append(
            ngettext(
                "{n} old message left out to fit the context",
                "{n} old messages left out to fit the context",
                n,
            ).format(n=n)
        )
    return " · ".join(parts)


def to_markdown(conv: Conversation, title: str) -> str:
    exported = _("Exported {when}").format(when=format_datetime(datetime.now(timezone.utc)) + " UTC")
    lines = [f"# {title}", "", f"_{exported}_", ""]
    if conv.system_prompt.strip():
        lines += ["**" + _("System prompt") + "**", "", "> " + conv.system_prompt.replace("\n", "\n> "), ""]
    for t in conv.turns:
        if t.role == "user":
            who = _("User")
        else:
            who = _("Assistant ({model})").format(model=t.model) if t.model else _("Assistant")
        note = "" if t.status == "done" else f" _[{_(STATUS_LABELS.get(t.status, t.status))}]_"
        lines += [f"**{who}**{note}", "", t.content, ""]
    return "\n".join(lines)


def to_json(conv: Conversation, title: str) -> str:
    return json.dumps({"title": title, **asdict(conv)}, ensure_ascii=False, indent=2)


def from_json(text: str) -> Conversation:
    data = json.loads(text)
    return Conversation(data.get("system_prompt", ""), [Turn(**t) for t in data.get("turns", [])])
