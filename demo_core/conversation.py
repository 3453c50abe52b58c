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

# why a reply ended (``stats["ended"]``) -> what its stats line says
ENDED = {
    "stop": N_("ended at the stop token"),
    "stop_word": N_("ended at a stop word"),
    "length": N_("hit the token limit"),
    "stopped": N_("Stop pressed"),
    "replaced": N_("interrupted by a new request"),
    "abandoned": N_("interrupted: the page was closed"),
    "error": N_("ended by an error"),
    "cutoff": N_("cut off: the server stopped"),
}


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    content: str
    status: str = "done"  # done | streaming | stopped | error | cutoff
    stats: dict = field(default_factory=dict)
    model: str = ""
    id: str = ""  # the message's id in the workspace store ("" = not stored)
    parent: str | None = None
    alternatives: list[str] = field(default_factory=list)  # sibling ids, oldest first

    @property
    def alt_index(self) -> int:
        return self.alternatives.index(self.id) if self.id in self.alternatives else 0


@dataclass
class Conversation:
    system_prompt: str
    turns: list[Turn] = field(default_factory=list)
    id: str = ""  # the conversation's id in the workspace store ("" = not started)
    title: str = ""

    @classmethod
    def from_store(cls, store, cid: str, default_prompt: str = "") -> Conversation:
        """The branch of stored conversation ``cid`` that is shown."""
        meta = store.conversation(cid)
        if meta is None:
            return cls(default_prompt)
        turns = [
            Turn(m.role, m.content, m.status, m.stats, m.model, m.id, m.parent, m.siblings)
            for m in store.branch(cid)
        ]
        return cls(meta["system_prompt"], turns, cid, meta["title"])

    @property
    def last_id(self) -> str | None:
        return self.turns[-1].id if self.turns else None

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
            if t.role == "assistant" and (t.status in ("error", "streaming") or not t.content):
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
    if stats.get("ended") in ENDED:
        parts.append(_(ENDED[stats["ended"]]))
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
    data = asdict(conv)
    data["turns"] = [{k: t[k] for k in TURN_FIELDS} for t in data["turns"]]
    data.pop("id", None)
    data["title"] = title
    return json.dumps(data, ensure_ascii=False, indent=2)


def store_conversation(store, ws: str, slot: str, conv: Conversation) -> str:
    """Write an imported conversation into the store as a new one; returns its id. A reply
    that was still streaming when exported comes in as stopped."""
    cid = store.create_conversation(ws, slot, conv.system_prompt)
    parent = None
    for t in conv.turns:
        status = "stopped" if t.status == "streaming" else t.status
        parent = store.add_message(
            cid, t.role, t.content, parent=parent, status=status, stats=t.stats, model=t.model
        )
    if conv.title:
        store.rename(cid, conv.title)
    return cid


class ConversationFileError(ValueError):
    """The file is not a conversation exported by this app."""


TURN_FIELDS = ("role", "content", "status", "stats", "model")


def from_json(text: str) -> Conversation:
    """A conversation from this app's JSON export (older exports too); raises
    :class:`ConversationFileError` saying what is wrong with the file."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConversationFileError(f"not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        raise ConversationFileError("no list of turns in it")
    turns = []
    for t in data["turns"]:
        if (
            not isinstance(t, dict)
            or t.get("role") not in ("user", "assistant")
            or not isinstance(t.get("content"), str)
        ):
            raise ConversationFileError("a turn without a role or text")
        kept = {k: t[k] for k in TURN_FIELDS if k in t}
        if not isinstance(kept.get("stats", {}), dict):
            kept["stats"] = {}
        turns.append(Turn(**kept))
    prompt = data.get("system_prompt", "")
    title = data.get("title", "")
    return Conversation(
        prompt if isinstance(prompt, str) else "",
        turns,
        title=title if isinstance(title, str) else "",
    )
