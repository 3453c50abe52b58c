"""The chat UI shared by the story chat and the role-play pages.

The conversation lives in the workspace store (``demo_core.store``), not in the tab: every
message is written when it is sent, and a reply is a background job of the workspace
(``demo_core.chat_reply``) that saves its text while it streams. Each script run reads
the conversation back from the store, so a reload, a restart of the server or a second
tab shows the same thing; ``st.session_state[f"{prefix}_conversation"]`` holds the copy
drawn in this run.

Order of a script run: a sent message, a preset, Regenerate, an edit and New chat change
the conversation in their widget callbacks, which Streamlit runs *before* the page
script, so every widget drawn in the run agrees with the conversation. A reply that is
streaming is drawn from its job (20 times a second) with a Stop button; Stop's callback
stops the job and waits until its end is saved, so the run it starts draws the stopped
reply whole (caption, enabled controls). When the reply ends by itself the page reruns
for the same reason.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import streamlit as st
from streamlit.string_util import is_emoji

from demo_core.chat_reply import slot, start_reply
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
from demo_core.jobs import JOBS, Job
from demo_core.personas import DEFAULT_AVATAR
from demo_core.store import StoreError, get_store
from demo_ui import how_it_works
from demo_ui.chat_text import reply_markdown
from demo_ui.prefs import get_pref, set_pref, workspace_id
from demo_ui.widgets import beams_note, forget, keep, open_engine

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


def system_prompt_editor(cfg: ChatConfig, conv: Conversation) -> None:
    wkey = f"{cfg.prefix}_system_prompt"
    keep(wkey, conv.system_prompt)
    text = st.text_area(
        _("System prompt"),
        key=wkey,
        height=160,
        help=_("Sent before the conversation on every turn."),
    )
    set_system_prompt(cfg, conv, text)
    if text != cfg.default_system_prompt and st.button(
        _("Restore default prompt"), key=f"{cfg.prefix}_restore"
    ):
        forget(wkey)
        set_system_prompt(cfg, conv, cfg.default_system_prompt)
        st.rerun()


def _alternatives(cfg: ChatConfig, turn: Turn, busy: bool) -> None:
    """``◀ 2/3 ▶`` under a message that has alternatives (edits, regenerations)."""
    n = len(turn.alternatives)
    if n < 2:
        return

    def flip(label: str, name: str, hint: str, step: int) -> None:
        st.button(
            label,
            key=f"{cfg.prefix}_{name}_{turn.id}",
            help=hint,
            disabled=busy,
            on_click=_on_flip,
            args=(cfg, turn, step),
        )

    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        flip("◀", "prev", _("Previous version"), -1)
        st.caption(f"{turn.alt_index + 1}/{n}")
        flip("▶", "next", _("Next version"), 1)


def render_turn(cfg: ChatConfig, turn: Turn, *, last: bool = False, busy: bool = False) -> None:
    """One message with its controls: versions (◀ ▶), Edit for the user's, Continue for
    a last reply that stopped short."""
    avatar = cfg.user_avatar if turn.role == "user" else cfg.assistant_avatar
    with st.chat_message(turn.role, avatar=avatar):
        if turn.status == "error":
            st.error(turn.content, icon="⚠️")
            _alternatives(cfg, turn, busy)
            return
        if turn.role == "user":
            st.text(turn.content)  # what the user typed, exactly: "# 标题" is not a heading
            with st.container(horizontal=True, gap="small", vertical_alignment="center"):
                if turn.id:
                    with st.popover(_("Edit"), icon="✏️", disabled=busy):
                        st.text_area(
                            _("Edit and resend (the old version is kept)"),
                            value=turn.content,
                            key=f"{cfg.prefix}_edit_{turn.id}",
                        )
                        st.button(
                            _("Resend"),
                            key=f"{cfg.prefix}_resend_{turn.id}",
                            type="primary",
                            on_click=_on_edit,
                            args=(cfg, turn),
                        )
                _alternatives(cfg, turn, busy)
            return
        if turn.content:
            st.markdown(reply_markdown(turn.content))
        else:
            st.markdown(
                _("_Stopped before the first word._")
                if turn.status in ("stopped", "cutoff")
                else "…"
            )
        note = format_stats(turn.stats)
        if turn.status == "stopped":
            note = _("⏹ stopped") + (f" · {note}" if note else "")
        elif turn.status == "cutoff":
            note = _("✂️ cut off: the server stopped while this reply was written") + (
                f" · {note}" if note else ""
            )
        if note:
            st.caption(note)
        short = turn.stats.get("ended") == "length" or turn.status in ("stopped", "cutoff")
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            if last and short and turn.content and turn.id:
                st.button(
                    _("Continue"),
                    icon="⏩",
                    key=f"{cfg.prefix}_continue",
                    help=_("Let the model go on writing this reply."),
                    disabled=busy,
                    on_click=_on_continue,
                    args=(cfg, turn.id),
                )
            _alternatives(cfg, turn, busy)


# -- where the conversation is ----------------------------------------------------------


def _conv_key(cfg: ChatConfig) -> str:
    return f"{cfg.prefix}_conversation"


def _cid_key(cfg: ChatConfig) -> str:
    return f"{cfg.prefix}_cid"


def _pending_key(cfg: ChatConfig) -> str:
    return f"{cfg.prefix}_pending"


def _current_pref(cfg: ChatConfig) -> str:
    return f"chat_current:{cfg.prefix}"


def current_cid(cfg: ChatConfig) -> str | None:
    """The conversation shown (remembered by the workspace, so a reload reopens it)."""
    key = _cid_key(cfg)
    if key not in st.session_state:
        cid = get_pref(_current_pref(cfg))
        meta = get_store().conversation(cid) if cid else None
        st.session_state[key] = cid if meta and meta["deleted"] is None else None
    return st.session_state[key]


def open_conversation(cfg: ChatConfig, cid: str | None) -> None:
    """Show conversation ``cid`` (None: a new, empty one)."""
    st.session_state[_cid_key(cfg)] = cid
    set_pref(_current_pref(cfg), cid)
    st.session_state[_pending_key(cfg)] = None
    st.session_state[f"{cfg.prefix}_problem"] = None
    st.session_state[f"{cfg.prefix}_refused"] = None
    st.session_state.pop(f"{cfg.prefix}_draft_prompt", None)
    forget(f"{cfg.prefix}_system_prompt")  # the prompt box shows the opened conversation's
    reload(cfg)


def forget_chat(prefix: str) -> None:
    """Delete every conversation of chat ``prefix`` in this workspace (a deleted persona:
    a new one that gets the same id must not inherit them)."""
    try:
        get_store().drop_slot(workspace_id(), prefix)
    except StoreError:
        pass
    set_pref(f"chat_current:{prefix}", None)
    for key in (f"{prefix}_cid", f"{prefix}_conversation"):
        st.session_state.pop(key, None)


def reload(cfg: ChatConfig) -> Conversation:
    cid = current_cid(cfg)
    draft = st.session_state.get(f"{cfg.prefix}_draft_prompt", cfg.default_system_prompt)
    conv = Conversation.from_store(get_store(), cid, draft) if cid else Conversation(draft)
    if cid and not conv.id:  # deleted elsewhere (another tab, the teacher)
        st.session_state[_cid_key(cfg)] = None
    st.session_state[_conv_key(cfg)] = conv
    return conv


def conversation(cfg: ChatConfig) -> Conversation:
    if _conv_key(cfg) not in st.session_state:
        return reload(cfg)
    return st.session_state[_conv_key(cfg)]


def _ensure_stored(cfg: ChatConfig, conv: Conversation) -> str:
    """The conversation's id, creating its row on the first message."""
    if not conv.id:
        cid = get_store().create_conversation(workspace_id(), cfg.prefix, conv.system_prompt)
        st.session_state[_cid_key(cfg)] = cid
        set_pref(_current_pref(cfg), cid)
        conv.id = cid
    return conv.id


def set_system_prompt(cfg: ChatConfig, conv: Conversation, text: str) -> None:
    if text == conv.system_prompt:
        return
    conv.system_prompt = text
    if conv.id:
        try:
            get_store().set_system_prompt(conv.id, text)
        except StoreError:
            pass  # the store's notice says so; this session keeps the text
    else:
        st.session_state[f"{cfg.prefix}_draft_prompt"] = text


def _running_job(cfg: ChatConfig, conv: Conversation) -> Job | None:
    if not conv.id:
        return None
    ws = workspace_id()
    job = JOBS.get(ws, slot(conv.id))
    if job is None:
        return None
    if job.done:
        JOBS.pop(ws, slot(conv.id), job)
        return None
    job.beat()
    return job


# -- callbacks: they run before the page script ----------------------------------------


def _refuse(cfg: ChatConfig, problem: str | None, text: str | None) -> None:
    st.session_state[f"{cfg.prefix}_problem"] = problem
    st.session_state[f"{cfg.prefix}_refused"] = text if problem and text and text.strip() else None


def _add_user(cfg: ChatConfig, text: str, parent: str | None) -> bool:
    conv = conversation(cfg)
    try:
        cid = _ensure_stored(cfg, conv)
        mid = get_store().add_message(cid, "user", text, parent=parent)
    except StoreError as exc:
        _refuse(cfg, str(exc), text)
        return False
    st.session_state[_pending_key(cfg)] = ("reply", mid)
    reload(cfg)
    return True


def _send(cfg: ChatConfig, text: str | None) -> None:
    """Add a message to the conversation and ask for a reply in the coming run.

    A refused message (too long, or the store could not save it) is kept (``_refused``)
    and shown until the next one is sent: the chat input empties itself on submit, and
    nothing typed may be lost."""
    prompt, problem = validate_prompt(text)
    _refuse(cfg, problem, text)
    if prompt:
        _add_user(cfg, prompt, conversation(cfg).last_id)


def _on_chat_input(cfg: ChatConfig) -> None:
    _send(cfg, st.session_state.get(f"{cfg.prefix}_input"))


def _on_regenerate(cfg: ChatConfig) -> None:
    """A new reply to the last user message, kept next to the earlier ones (◀ ▶)."""
    conv = conversation(cfg)
    users = [t for t in conv.turns if t.role == "user"]
    st.session_state[_pending_key(cfg)] = ("reply", users[-1].id) if users else None


def _on_continue(cfg: ChatConfig, mid: str) -> None:
    st.session_state[_pending_key(cfg)] = ("continue", mid)


def _on_new_chat(cfg: ChatConfig) -> None:
    open_conversation(cfg, None)


def _on_edit(cfg: ChatConfig, turn: Turn) -> None:
    """Resend an edited user message: a new branch next to the old one (kept)."""
    text = st.session_state.get(f"{cfg.prefix}_edit_{turn.id}", "")
    prompt, problem = validate_prompt(text)
    _refuse(cfg, problem, text)
    if prompt and prompt != turn.content:
        _add_user(cfg, prompt, turn.parent)


def _on_flip(cfg: ChatConfig, turn: Turn, step: int) -> None:
    """Show another alternative of ``turn`` (and the newest branch below it)."""
    conv = conversation(cfg)
    alts = turn.alternatives
    target = alts[(turn.alt_index + step) % len(alts)]
    store = get_store()
    try:
        store.set_leaf(conv.id, store.leaf_under(conv.id, target))
    except StoreError:
        pass
    reload(cfg)


def _on_stop(job: Job) -> None:
    """Stop the reply running where ``job`` ran when the click arrives (a newer one in the
    same conversation, if the page moved on since the button was drawn)."""
    if job.workspace and job.slot:
        job = JOBS.get(job.workspace, job.slot) or job
    job.stop()
    job.wait(STOP_WAIT_S)  # its end is saved before this run draws the conversation


# -- streaming ---------------------------------------------------------------------------

STOP_WAIT_S = 10.0  # how long a stopped reply waits for the model to notice (one token)
IDLE_S = 0.25  # while nothing arrives, redraw this often so a Stop click is noticed


def _start_reply(
    cfg: ChatConfig, conv: Conversation, pending: tuple[str, str], model_key: str, params
) -> Job | None:
    """Start the job the callbacks asked for; None (and a note in the history) if the
    model cannot be had."""
    what, mid = pending
    ids = [t.id for t in conv.turns]
    if mid not in ids:
        return None
    i = ids.index(mid)
    store = get_store()
    engine, problem = open_engine(model_key)
    if engine is None:
        parent = mid if what == "reply" else conv.turns[i].parent
        try:  # the reason goes into the history, so it is still there after any rerun
            store.add_message(
                conv.id,
                "assistant",
                _(
                    "{problem}\n\nYour message is kept: pick another model or fix the "
                    "problem, then press **Regenerate**."
                ).format(problem=problem),
                parent=parent,
                status="error",
            )
        except StoreError as exc:
            st.error(str(exc))
        return None
    if what == "reply":
        messages = Conversation(conv.system_prompt, conv.turns[: i + 1]).model_messages()
        return start_reply(store, workspace_id(), conv.id, engine, messages, params, parent=mid)
    turn = conv.turns[i]
    messages = Conversation(conv.system_prompt, conv.turns[:i]).model_messages()
    return start_reply(
        store,
        workspace_id(),
        conv.id,
        engine,
        messages,
        params,
        parent=turn.parent,
        continue_mid=mid,
        continue_text=turn.content,
    )


def live_reply(cfg: ChatConfig, job: Job) -> None:
    """Draw a reply while its job streams; rerun when it is over."""
    with st.chat_message("assistant", avatar=cfg.assistant_avatar):
        placeholder = st.empty()
        status = st.empty()
        st.button(
            _("⏹ Stop"),
            key=f"{cfg.prefix}_stop",
            help=_("Stop the reply here; what it wrote so far is kept."),
            on_click=_on_stop,
            args=(job,),
        )
        shown, drawn_at, position = None, 0.0, None
        while not job.done:
            job.beat()
            step = job.current
            text = step.text if step is not None else ""
            if job.position != position:
                position = job.position
                if position:
                    status.info(
                        ngettext(
                            "Waiting for the model: {n} request ahead of you…",
                            "Waiting for the model: {n} requests ahead of you…",
                            int(position),
                        ).format(n=position),
                        icon="⏳",
                    )
                else:
                    status.empty()
            now = time.monotonic()
            if text != shown or now - drawn_at >= IDLE_S:  # drawing notices a Stop click
                beams = step.steps if step is not None and not text else 0
                placeholder.markdown(
                    reply_markdown(text) + " ▌" if text else beams_note(beams) if beams else "…"
                )
                shown, drawn_at = text, now
            time.sleep(REFRESH_S)
    how_it_works.remember(cfg.prefix, job.data.get("mid"), trace=job.data.get("trace"))
    st.rerun()


# -- the page parts ----------------------------------------------------------------------


def controls(cfg: ChatConfig, conv: Conversation, replying: bool = False) -> None:
    """Regenerate, New chat and Export, in one row of small buttons (four full-width
    columns stacked into a screenful on a phone). While a reply streams the exports are
    off (they would miss it); Regenerate stops it and keeps it as an alternative; New
    chat leaves it running in its own conversation (in the history)."""

    def button(label: str, icon: str, name: str, hint: str, on_click) -> None:
        st.button(
            label,
            icon=icon,
            key=f"{cfg.prefix}_{name}",
            help=hint,
            disabled=not conv.turns,
            on_click=on_click,
            args=(cfg,),
        )

    with st.container(horizontal=True, gap="small"):
        button(
            _("Regenerate"),
            "🔄",
            "regen",
            _("Answer the last message again (the earlier answers are kept: ◀ ▶)."),
            _on_regenerate,
        )
        button(
            _("New chat"),
            "➕",
            "clear",
            _("Start a new conversation; this one stays in the history."),
            _on_new_chat,
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
    """History (sidebar), controls, the conversation, preset prompts, the input box, and
    the reply being written."""
    from demo_ui.history import history_panel

    params = how_it_works.flag(params)
    conv = reload(cfg)
    job = _running_job(cfg, conv)
    if job is not None:
        how_it_works.remember(cfg.prefix, job.data.get("mid"), trace=job.data.get("trace"))
    pending = st.session_state.get(_pending_key(cfg))
    with st.sidebar:
        history_panel(cfg)
    controls(cfg, conv, replying=job is not None or bool(pending))
    if cfg.greeting and not conv.turns:
        with st.chat_message("assistant", avatar=cfg.assistant_avatar):
            st.markdown(reply_markdown(cfg.greeting))
    live_id = job.data.get("mid") if job is not None else None
    shown = [t for t in conv.turns if t.id != live_id]
    for n, turn in enumerate(shown):
        render_turn(cfg, turn, last=n == len(shown) - 1 and live_id is None, busy=job is not None)
    how_it_works.chat_panel(cfg.prefix, [t.id for t in conv.turns], model_key, params)

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
    if pending:
        st.session_state[_pending_key(cfg)] = None
        try:
            job = _start_reply(cfg, conv, pending, model_key, params) or job
        except StoreError as exc:
            st.error(str(exc), icon="💾")
        if job is None:
            st.rerun()  # draw the reason stored in the history
    if job is not None:
        live_reply(cfg, job)
    elif conv.needs_reply():
        st.info(
            _("Your last message has no reply yet. Press **Regenerate** to answer it."), icon="💬"
        )
