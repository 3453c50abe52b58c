"""The chat UI shared by the story chat and the role-play pages.

Streaming and Stop work like this: the reply is appended to the conversation before the
first token, and every delta is written into it, so whatever ends the script run --
the chat input's stop button, another click, closing the tab -- leaves the partial
reply in the history. The ``finally`` cancels the generation so the model thread stops
too (a Streamlit rerun alone would let ``generate()`` run on to max tokens).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import streamlit as st
from streamlit.string_util import is_emoji

from demo_core.conversation import (
    MAX_PROMPT_CHARS,
    Conversation,
    Turn,
    format_stats,
    to_json,
    to_markdown,
    validate_prompt,
)
from demo_core.engine.base import GenerationParams
from demo_core.personas import DEFAULT_AVATAR
from demo_ui.widgets import keep, load_engine

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
    input_placeholder: str = "Type a message…"

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
        "System prompt", key=wkey, height=160, help="Sent before the conversation on every turn."
    )
    conv.system_prompt = text
    if text != cfg.default_system_prompt and st.button(
        "Restore default prompt", key=f"{cfg.prefix}_restore"
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
        if turn.content:
            st.markdown(turn.content)
        else:
            st.markdown("_Stopped before the first word._" if turn.status == "stopped" else "…")
        note = format_stats(turn.stats)
        if turn.status == "stopped":
            note = "⏹ stopped" + (f" · {note}" if note else "")
        if note:
            st.caption(note)


def stream_reply(
    cfg: ChatConfig, conv: Conversation, model_key: str, params: GenerationParams
) -> None:
    """Ask the model for the next reply and show it as it streams."""
    with st.chat_message("assistant", avatar=cfg.assistant_avatar):
        engine = load_engine(model_key)
        if engine is None:
            conv.turns.append(
                Turn(
                    "assistant",
                    "The model could not be loaded (see above). Your message is kept: "
                    "pick another model or fix the problem, then press Regenerate.",
                    status="error",
                )
            )
            return
        messages = conv.model_messages()
        turn = conv.start_reply(engine.info.label)
        placeholder = st.empty()
        status = st.empty()
        gen = engine.stream_chat(messages, params)
        shown = 0.0
        try:
            for kind, value in gen.events():
                if kind == "position":
                    if value:
                        status.info(
                            f"Waiting for the model: {value} request(s) ahead of you…", icon="⏳"
                        )
                    else:
                        status.empty()
                    continue
                turn.content += value
                now = time.monotonic()
                if now - shown >= REFRESH_S:  # redrawing per token would cost more than decoding
                    placeholder.markdown(turn.content + " ▌")
                    shown = now
        finally:
            if not gen.done:
                gen.cancel()
                turn.status = "stopped"
            turn.stats = {
                **vars(gen.stats),
                "tokens_per_s": gen.stats.tokens_per_s,
                "dropped": getattr(gen, "dropped_messages", 0),
            }
        if gen.error is not None:
            turn.status, turn.content = (
                "error",
                f"{gen.error}" + (f"\n\nPartial reply: {turn.content}" if turn.content else ""),
            )
        elif gen.stats.finish_reason == "cancelled":
            turn.status = "stopped"
        else:
            turn.status = "done"
        status.empty()
        placeholder.markdown(turn.content or "…")
    st.rerun()  # redraw the history with stats and enable the controls


def controls(cfg: ChatConfig, conv: Conversation) -> None:
    c1, c2, c3, c4 = st.columns(4)
    if c1.button(
        "🔄 Regenerate",
        key=f"{cfg.prefix}_regen",
        disabled=not conv.turns,
        width="stretch",
    ):
        conv.drop_last_reply()
        st.session_state[f"{cfg.prefix}_pending"] = conv.needs_reply()
        st.rerun()
    if c2.button("🧹 Clear", key=f"{cfg.prefix}_clear", disabled=not conv.turns, width="stretch"):
        conv.clear()
        st.session_state[f"{cfg.prefix}_pending"] = False
        st.rerun()
    exports = [
        (c3, "⬇ Markdown", to_markdown, "md", "text/markdown"),
        (c4, "⬇ JSON", to_json, "json", "application/json"),
    ]
    for col, label, render, ext, mime in exports:
        col.download_button(
            label,
            render(conv, cfg.title),
            file_name=f"{cfg.prefix}-chat.{ext}",
            mime=mime,
            key=f"{cfg.prefix}_{ext}",
            disabled=not conv.turns,
            width="stretch",
            on_click="ignore",
        )


def chat_area(cfg: ChatConfig, model_key: str, params: GenerationParams) -> None:
    """History, preset prompts, the input box, and streaming of the pending reply."""
    conv = conversation(cfg)
    pending_key = f"{cfg.prefix}_pending"
    if cfg.greeting and not conv.turns:
        with st.chat_message("assistant", avatar=cfg.assistant_avatar):
            st.markdown(cfg.greeting)
    for turn in conv.turns:
        render_turn(cfg, turn)

    chosen = None
    if cfg.presets and not conv.turns:
        cols = st.columns(len(cfg.presets))
        for col, (label, prompt) in zip(cols, cfg.presets, strict=True):
            if col.button(label, key=f"{cfg.prefix}_preset_{label}", width="stretch"):
                chosen = prompt
    typed = st.chat_input(
        cfg.input_placeholder,
        key=f"{cfg.prefix}_input",
        max_chars=MAX_PROMPT_CHARS,
        submit_mode="stop",
    )
    prompt, problem = validate_prompt(typed or chosen)
    if problem:
        st.warning(problem, icon="✋")
    if prompt:
        conv.add_user(prompt)
        render_turn(cfg, conv.turns[-1])
        st.session_state[pending_key] = True
    if st.session_state.get(pending_key) and conv.needs_reply():
        st.session_state[pending_key] = False
        stream_reply(cfg, conv, model_key, params)
    elif conv.needs_reply():
        st.info("Your last message has no reply yet. Press **Regenerate** to answer it.", icon="💬")
