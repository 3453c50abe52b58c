"""The chat UI shared by the story chat and the role-play pages.

Order of a script run: a sent message, a preset, Regenerate and Clear change the
conversation in their widget callbacks, which Streamlit runs *before* the page script, so
every widget drawn in the run (controls, presets) already agrees with the conversation.

Streaming and Stop: the reply is appended to the conversation before the first token and
every delta is written into it, so whatever ends the script run -- the Stop button,
another click, closing the tab -- leaves the partial reply in the history. The
``finally`` cancels the generation so the model thread stops too (a Streamlit rerun alone
would let ``generate()`` run on to max tokens), waits for it, and records the final
stats. Stop is an ordinary button: its click makes Streamlit rerun the script, and that
run draws the page whole (the stopped reply with its caption, enabled controls). With
``runner.fastReruns`` (the default) that new run starts on a new thread while the old
one is still in its ``finally``, so the new run waits for the old reply to be settled
before it draws the conversation. The chat
input's own stop mode was not used because it only *stops* the script: nothing can be
drawn after it, which left the cursor "▌" and disabled controls on screen. A reply that
ends by itself is followed by ``st.rerun()`` for the same reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import streamlit as st
from streamlit.string_util import is_emoji

from demo_core.conversation import (
    Conversation,
    Turn,
    format_stats,
    to_json,
    to_markdown,
    validate_prompt,
)
from demo_core.engine.base import GenerationParams
from demo_core.i18n import _, ngettext
from demo_core.personas import DEFAULT_AVATAR
from demo_ui.chat_text import reply_markdown
from demo_ui.widgets import keep, open_engine, sentence

REFRESH_S = 0.05


def drawable_avatar(avatar: str) -> str:
    """``avatar`` if ``st.chat_message`` can draw it, else the default 🎭.

    Streamlit takes any other string for an image path and raises when it cannot load it,
    which ends the page. Persona files are checked when they are read; this is the last
    line of defence, so no avatar, however it got here, can crash a chat."""
    return avatar if isinstance(avatar, str) and is_emoji(avatar) else DEFAULT_AVATAR


@dataclass
class ChatConfig:
    prefix: str  # session-state namespace, one per conversation
    title: str
    default_system_prompt: str
    assistant_avatar: str = "🤖"
    user_avatar: str = "🧑"
    greeting: str = ""
    presets: Sequence[tuple[str, str]] = field(default_factory=list)  # (button label, prompt)
    input_placeholder: str = ""  # empty: "Type a message…" in the current language

    def __post_init__(self) -> None:
        self.assistant_avatar = drawable_avatar(self.assistant_avatar)
        self.user_avatar = drawable_avatar(self.user_avatar)


def conversation(cfg: ChatConfig) -> Conversation:
    key = f"{cfg.prefix}_conversation"
    if key not in st.session_state:
        st.session_state[key] = Conversation(cfg.default_system_prompt)
    return st.session_state[key]


def system_prompt_editor(cfg: ChatConfig, conv: Conversation) -> None:
    wkey = f"{cfg.prefix}_system_prompt"
    keep(wkey, conv.system_prompt)
    text = st.text_area(
        _("System prompt"),
        key=wkey,
        height=160,
        help=_("Sent before the conversation on every turn."),
    )
    conv.system_prompt = text
    if text != cfg.default_system_prompt and st.button(
        _("Restore default prompt"), key=f"{cfg.prefix}_restore"
    ):
        st.session_state.pop(wkey, None)
        st.session_state.pop(f"_kept_{wkey}", None)
        conv.system_prompt = cfg.default_system_prompt
        st.rerun()


def render_turn(cfg: ChatConfig, turn: Turn) -> None:
    avatar = cfg.user_avatar if turn.role == "user" else cfg.assistant_avatar
    with st.chat_message(turn.role, avatar=avatar):
        if turn.status == "error":
            st.error(turn.content, icon="⚠️")
            return
        if turn.role == "user":
            st.text(turn.content)  # what the user typed, exactly: "# 标题" is not a heading
            return
        if turn.content:
            st.markdown(reply_markdown(turn.content))
        else:
            st.markdown(
                "_" + _("Stopped before the first word.") + "_" if turn.status == "stopped" else "…"
            )
        note = format_stats(turn.stats)
        if turn.status == "stopped":
            note = "⏹ " + _("stopped") + (f" · {note}" if note else "")
        if note:
            st.caption(note)


# -- callbacks: they run before the page script ----------------------------------------


def _pending_key(cfg: ChatConfig) -> str:
    return f"{cfg.prefix}_pending"


def _send(cfg: ChatConfig, text: str | None) -> None:
    """Add a message to the conversation and ask for a reply in the coming run.

    A refused message is kept (``_refused``) and shown until the next one is sent: the
    chat input empties itself on submit, and nothing typed may be lost."""
    prompt, problem = validate_prompt(text)
    st.session_state[f"{cfg.prefix}_problem"] = problem
    st.session_state[f"{cfg.prefix}_refused"] = text if problem and text and text.strip() else None
    if prompt:
        conversation(cfg).add_user(prompt)
        st.session_state[_pending_key(cfg)] = True


def _on_chat_input(cfg: ChatConfig) -> None:
    _send(cfg, st.session_state.get(f"{cfg.prefix}_input"))


def _on_regenerate(cfg: ChatConfig) -> None:
    conv = conversation(cfg)
    conv.drop_last_reply()
    st.session_state[_pending_key(cfg)] = conv.needs_reply()


def _on_clear(cfg: ChatConfig) -> None:
    conversation(cfg).clear()
    st.session_state[_pending_key(cfg)] = False
    st.session_state[f"{cfg.prefix}_problem"] = None
    st.session_state[f"{cfg.prefix}_refused"] = None


# -- streaming ---------------------------------------------------------------------------

STOP_WAIT_S = 10.0  # how long a stopped reply waits for the model to notice (one token)
IDLE_S = 0.25  # while nothing arrives, redraw this often so a Stop click is noticed


def _pump(gen, turn: Turn, placeholder, status) -> None:
    """Copy the generation's text into ``turn`` and onto the page as it arrives."""
    shown = 0.0
    for kind, value in gen.events(idle_s=IDLE_S):
        if kind == "position":
            if value:
                status.info(
                    ngettext(
                        "Waiting for the model: {n} request ahead of you…",
                        "Waiting for the model: {n} requests ahead of you…",
                        int(value),
                    ).format(n=value),
                    icon="⏳",
                )
            else:
                status.empty()
            continue
        if kind == "idle":  # drawing is where Streamlit notices a Stop click
            placeholder.markdown(reply_markdown(turn.content) + " ▌" if turn.content else "…")
            continue
        turn.content += value
        now = time.monotonic()
        if now - shown >= REFRESH_S:  # redrawing per token would cost more than decoding
            placeholder.markdown(reply_markdown(turn.content) + " ▌")
            shown = now


def finish_turn(turn: Turn, gen) -> None:
    """Settle ``turn`` once its script run stops streaming, for whatever reason.

    Runs in a ``finally`` (no Streamlit calls here: after Stop they would raise again).
    A stopped generation is cancelled and waited for, so the turn gets the final stats
    -- finish reason, total time, speed -- and the text the model wrote before it
    noticed, instead of a copy taken while the worker was still running."""
    if not gen.done:
        gen.cancel()
    if gen.wait(STOP_WAIT_S):
        for kind, value in gen.events():  # deltas that arrived after the last drawing
            if kind == "text":
                turn.content += value
    turn.stats = {
        **vars(gen.stats),
        "tokens_per_s": gen.stats.tokens_per_s,
        "dropped": getattr(gen, "dropped_messages", 0),
    }
    if gen.error is not None:
        turn.status, turn.content = (
            "error",
            sentence(str(gen.error))
            + ("\n\n" + _("Partial reply: {text}").format(text=turn.content) if turn.content else ""),
        )
    elif gen.cancelled or not gen.done or gen.stats.finish_reason == "cancelled":
        turn.status = "stopped"
    else:
        turn.status = "done"


def _settled_key(cfg: ChatConfig) -> str:
    return f"{cfg.prefix}_settled"


def wait_for_settled_reply(cfg: ChatConfig) -> None:
    """Wait until a reply that an earlier script run was streaming has been settled.

    A click during streaming stops that run and starts this one at once, on another
    thread; drawing the conversation before the old run's ``finally`` is through would
    show a reply with no stats or caption, and nothing would redraw it."""
    event = st.session_state.get(_settled_key(cfg))
    if event is not None:
        event.wait(STOP_WAIT_S + 5)


def stream_reply(
    cfg: ChatConfig, conv: Conversation, model_key: str, params: GenerationParams
) -> None:
    """Ask the model for the next reply and show it as it streams; then rerun, so the
    page is drawn again from the stored conversation (stats, controls, sidebar)."""
    with st.chat_message("assistant", avatar=cfg.assistant_avatar):
        engine, problem = open_engine(model_key)
        if engine is None:
            # the reason goes into the history, so it is still there after any rerun
            conv.turns.append(
                Turn(
                    "assistant",
                    f"{problem}\n\n"
                    + _(
                        "Your message is kept: pick another model or fix the problem, then "
                        "press **Regenerate**."
                    ),
                    status="error",
                )
            )
            st.rerun()
        messages = conv.model_messages()
        turn = conv.start_reply(engine.info.label)
        placeholder = st.empty()
        status = st.empty()
        st.button(
            "⏹ " + _("Stop"),
            key=f"{cfg.prefix}_stop",
            help=_("Stop the reply here; what it wrote so far is kept."),
        )
        settled = threading.Event()
        st.session_state[_settled_key(cfg)] = settled
        try:
            gen = engine.stream_chat(messages, params)
            try:
                _pump(gen, turn, placeholder, status)
            finally:
                finish_turn(turn, gen)
        finally:
            settled.set()
    st.rerun()


# -- the page parts ----------------------------------------------------------------------


def controls(cfg: ChatConfig, conv: Conversation, replying: bool = False) -> None:
    """Regenerate, Clear and Export, in one row of small buttons (four full-width
    columns stacked into a screenful on a phone). While a reply streams the exports are
    off (they would miss it); Regenerate and Clear stop it and then do their job."""
    with st.container(horizontal=True, gap="small"):
        st.button(
            _("Regenerate"),
            icon="🔄",
            key=f"{cfg.prefix}_regen",
            help=_("Answer the last message again."),
            disabled=not conv.turns,
            on_click=_on_regenerate,
            args=(cfg,),
        )
        st.button(
            _("Clear"),
            icon="🧹",
            key=f"{cfg.prefix}_clear",
            help=_("Start a new conversation."),
            disabled=not conv.turns,
            on_click=_on_clear,
            args=(cfg,),
        )
        with st.popover(
            _("Export"),
            icon="⬇️",
            help=_("Download the conversation."),
            disabled=not conv.turns or replying,
        ):
            for label, render, ext, mime in [
                ("Markdown", to_markdown, "md", "text/markdown"),
                ("JSON", to_json, "json", "application/json"),
            ]:
                st.download_button(
                    label,
                    render(conv, cfg.title),
                    file_name=f"{cfg.prefix}-chat.{ext}",
                    mime=mime,
                    key=f"{cfg.prefix}_{ext}",
                    width="stretch",
                    on_click="ignore",
                )


def refused_notice(cfg: ChatConfig) -> None:
    """Why the last message was not sent, and the message itself, ready to copy."""
    problem = st.session_state.get(f"{cfg.prefix}_problem")
    if not problem:
        return
    refused = st.session_state.get(f"{cfg.prefix}_refused")
    if not refused:
        st.warning(problem, icon="✋")
        return
    st.warning(
        f"{problem} "
        + _(
            "It was not sent. Here it is: copy it with the button at the top right of the box, "
            "shorten it (or send it in parts), and send it again."
        ),
        icon="✋",
    )
    st.code(refused, language=None, wrap_lines=True, height=200)


def chat_area(cfg: ChatConfig, model_key: str, params: GenerationParams) -> None:
    """Controls, history, preset prompts, the input box, and the pending reply."""
    wait_for_settled_reply(cfg)
    conv = conversation(cfg)
    pending_key = _pending_key(cfg)
    replying = bool(st.session_state.get(pending_key)) and conv.needs_reply()
    controls(cfg, conv, replying)
    if cfg.greeting and not conv.turns:
        with st.chat_message("assistant", avatar=cfg.assistant_avatar):
            st.markdown(reply_markdown(cfg.greeting))
    for turn in conv.turns:
        render_turn(cfg, turn)

    if cfg.presets and not conv.turns:  # a sent message (or a reply on its way) hides them
        with st.container(horizontal=True, gap="small"):
            for label, prompt in cfg.presets:
                st.button(
                    _(label),
                    key=f"{cfg.prefix}_preset_{label}",
                    on_click=_send,
                    args=(cfg, prompt),
                )
    refused_notice(cfg)
    st.chat_input(  # no max_chars: the browser would drop a longer paste without a word
        cfg.input_placeholder or _("Type a message…"),
        key=f"{cfg.prefix}_input",
        submit_mode="disable",
        on_submit=_on_chat_input,
        args=(cfg,),
    )
    if replying:
        st.session_state[pending_key] = False
        stream_reply(cfg, conv, model_key, params)
    elif conv.needs_reply():
        st.info(
            _("Your last message has no reply yet. Press **Regenerate** to answer it."), icon="💬"
        )
