"""Persona picker (with Edit and Delete for the user's own), the model playing a persona,
and the form that adds or edits a persona.

Everything a session keeps about a persona -- its conversation, edited prompt, sampling,
model choice -- lives under keys made from its id (:func:`chat_prefix`). When a persona is
deleted or saved, those keys are dropped, so a new persona that happens to get the same
id never inherits another one's conversation or prompt.
"""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from demo_core.engine.base import SAMPLING_LIMITS
from demo_core.i18n import _, ngettext
from demo_core.personas import (
    AVATAR_RULE,
    DEFAULT_AVATAR,
    Persona,
    PersonaError,
    PersonaSet,
    check_avatar,
    delete_user_persona,
    load_all,
    persona_id,
    save_user_persona,
)
from demo_core.specs import CHAT_MODELS, SPECS, resolve_path
from demo_core.store import StoreError, get_store
from demo_ui.chat import drawable_avatar, forget_chat
from demo_ui.prefs import workspace_id
from demo_ui.resources import get_manager
from demo_ui.widgets import keep, missing_model_notice, sentence

PICKER = "roleplay_persona"
DEFAULT_PERSONA = "bajie"
FLASH = "roleplay_flash"  # a confirmation shown once, in the run after the action
EDITING = "roleplay_editing"  # id of the persona the form is editing; None = adding
FORM_ERROR = "roleplay_form_error"
FORM_DEFAULTS: dict[str, object] = {
    "name": "",
    "avatar": DEFAULT_AVATAR,
    "prompt": "",
    "greeting": "",
    "model": "internlm2-chat-1_8b",
    "temperature": 0.8,
}
FORM_MODELS = [k for k in CHAT_MODELS if not SPECS[k].is_random]
# besides a persona's own models: the first-generation chat model of the camp-1 lesson can
# play any persona too (base model + persona prompt), and so can its tiny stand-in
OTHER_PLAYERS = ("internlm-chat-7b",)


def chat_prefix(pid: str) -> str:
    """The session-state namespace of persona ``pid``'s chat."""
    return f"roleplay_{pid}"


def model_key(pid: str) -> str:
    return f"roleplay_model_{pid}"


def forget_persona_state(pid: str, all_ids: Iterable[str]) -> None:
    """Drop every session key of persona ``pid`` (and the copies :func:`keep` makes),
    but none of a persona whose id merely starts the same way ("bob" vs "bob_2")."""
    mine = chat_prefix(pid) + "_"
    theirs = [
        chat_prefix(q) + "_"
        for q in all_ids
        if q != pid and (chat_prefix(q) + "_").startswith(mine)
    ]
    for key in list(st.session_state):
        bare = key.removeprefix("_kept_")
        if bare == model_key(pid) or (
            bare.startswith(mine) and not any(bare.startswith(t) for t in theirs)
        ):
            del st.session_state[key]


def _select(pid: str) -> None:
    st.session_state[PICKER] = st.session_state[f"_kept_{PICKER}"] = pid


def persona_picker(default_id: str = DEFAULT_PERSONA) -> tuple[Persona, PersonaSet]:
    """The persona selectbox, what went wrong with persona files, and Edit / Delete for
    a persona of the user's own."""
    pset = load_all()
    ids = [p.id for p in pset.personas]
    keep(PICKER, default_id if default_id in ids else ids[0])
    if st.session_state[PICKER] not in ids:
        st.session_state[PICKER] = ids[0]
    pid = st.selectbox(
        _("Persona"),
        ids,
        key=PICKER,
        format_func=lambda i: f"{pset.get(i).avatar} {pset.get(i).name}",
        on_change=lambda: st.session_state.update({f"_kept_{PICKER}": st.session_state[PICKER]}),
    )
    persona = pset.get(pid)
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash, icon="✅")
    if persona.editable_by(workspace_id()):
        _own_persona_actions(persona, ids)
    elif not persona.builtin:
        st.caption(
            _(
                "Made in another browser: you can chat with it; only that browser can edit or delete it."
            )
        )
    file_problems(pset)
    return persona, pset


def file_problems(pset: PersonaSet) -> None:
    """One closed expander for all persona files that could not be used (a full-width
    warning each, with its absolute path, pushed the picker off the screen)."""
    if not pset.problems:
        return
    n = len(pset.problems)
    label = ngettext(
        "{n} persona file could not be used", "{n} persona files could not be used", n
    ).format(n=n)
    with st.expander(label, icon="⚠️"):
        st.caption(
            _("In {folder}. They are left as they are: fix or remove them.").format(
                folder=pset.folder
            )
        )
        for problem in pset.problems:
            st.text(f"• {problem}")


def _own_persona_actions(persona: Persona, ids: list[str]) -> None:
    with st.container(horizontal=True, gap="small"):
        st.button(
            "✏️ " + _("Edit"),
            key="roleplay_edit",
            help=_("Change {name} in the form below.").format(name=persona.name),
            on_click=_start_edit,
            args=(persona,),
        )
        with st.popover(
            "🗑️ " + _("Delete"), help=_("Delete {name} for good.").format(name=persona.name)
        ):
            st.markdown(
                _("Delete **{name}** and this session's conversation with it?").format(
                    name=persona.name
                )
            )
            st.button(
                _("Delete for good"),
                key="roleplay_delete",
                type="primary",
                on_click=_delete,
                args=(persona, ids),
            )


def persona_model(persona: Persona) -> str:
    """Which model plays the persona: its own fine-tune if present, else the base model
    with the persona prompt -- and the page says which one is running."""
    options = list(
        dict.fromkeys(
            [persona.preferred_model, persona.fallback_model, *OTHER_PLAYERS, "tiny-internlm2"]
            + ["tiny-internlm"]
        )
    )
    present = {k: SPECS[k].is_random or resolve_path(k) is not None for k in options}
    if not present[persona.preferred_model]:
        missing_model_notice(persona.preferred_model)
    wkey = model_key(persona.id)
    keep(wkey, next((k for k in options if present[k]), options[-1]))
    key = st.radio(
        _("Model playing this persona"),
        options,
        key=wkey,
        format_func=lambda k: _(SPECS[k].label) + ("" if present[k] else " — " + _("not downloaded")),
        on_change=lambda: st.session_state.update({f"_kept_{wkey}": st.session_state[wkey]}),
    )
    if key == persona.preferred_model:
        st.success(_("Running {model}.").format(model=SPECS[key].label), icon="✅")
    elif SPECS[key].is_random:
        st.warning(_("Running the tiny random test model: replies are noise."), icon="🎲")
    else:
        st.info(
            _("Running {model} with the persona prompt (not the fine-tuned model).").format(
                model=SPECS[key].label
            ),
            icon="🎭",
        )
    manager = get_manager()
    others = [k for k in manager.loaded_keys() if k != key]
    if not manager.is_loaded(key) and others and not manager.would_fit(key):
        names = ", ".join(SPECS[k].label for k in others)
        st.info(
            _("Loading {model} will unload {names} to stay within the memory budget.").format(
                model=_(SPECS[key].label), names=names
            ),
            icon="🔁",
        )
    return key


def _form_key(field: str) -> str:
    return f"roleplay_form_{field}"


def _fill_form(values: dict[str, object]) -> None:
    for field, value in values.items():
        st.session_state[_form_key(field)] = value


def _start_edit(persona: Persona) -> None:
    """Callback: load ``persona`` into the form (before the form is drawn)."""
    _fill_form(
        {
            "name": persona.name,
            "avatar": persona.avatar,
            "prompt": persona.system_prompt,
            "greeting": persona.greeting,
            "model": persona.preferred_model
            if persona.preferred_model in FORM_MODELS
            else FORM_DEFAULTS["model"],
            "temperature": SAMPLING_LIMITS["temperature"].clamp(
                persona.sampling.get("temperature", FORM_DEFAULTS["temperature"])
            ),
        }
    )
    st.session_state[EDITING] = persona.id
    st.session_state[FORM_ERROR] = None


def _reset_form() -> None:
    _fill_form(FORM_DEFAULTS)
    st.session_state[EDITING] = None
    st.session_state[FORM_ERROR] = None


def _delete(persona: Persona, ids: list[str]) -> None:
    """Callback: remove the file and everything this session kept about the persona."""
    try:
        delete_user_persona(persona.id, workspace=workspace_id())
    except PersonaError as exc:
        st.session_state[FLASH] = sentence(str(exc))
        return
    forget_persona_state(persona.id, ids)
    forget_chat(chat_prefix(persona.id))
    if st.session_state.get(EDITING) == persona.id:
        _reset_form()
    _select(DEFAULT_PERSONA)
    st.session_state[FLASH] = _("Deleted {name}.").format(name=persona.name)


def _save_form() -> None:
    """Callback of the form's Save button: runs before the page is drawn, so on success
    the form can be emptied and the new persona selected in the same run, and the
    confirmation is shown by that run (an ``st.rerun()`` after ``st.success`` hid it)."""
    v = {f: st.session_state.get(_form_key(f), d) for f, d in FORM_DEFAULTS.items()}
    name, prompt = str(v["name"]).strip(), str(v["prompt"])
    editing = st.session_state.get(EDITING)
    old = load_all().get(editing) if editing else None
    try:
        if not name:
            raise PersonaError(_("give the persona a name"))
        if not prompt.strip():
            raise PersonaError(_("write its system prompt: it tells the model who to be"))
        avatar = check_avatar(v["avatar"])
        if drawable_avatar(avatar) != avatar:  # an emoji missing from Streamlit's list
            raise PersonaError(
                _("{rule} that Streamlit can show ({avatar} is not)").format(
                    rule=_(AVATAR_RULE), avatar=repr(avatar)
                )
            )
        sampling = dict(old.sampling) if old else {"top_p": 0.8, "repetition_penalty": 1.005}
        persona = save_user_persona(
            {
                "id": editing or persona_id(name),
                "name": name,
                "avatar": avatar,
                "system_prompt": prompt,
                "greeting": str(v["greeting"]),
                "preferred_model": v["model"],
                "fallback_model": old.fallback_model if old else "internlm2-chat-1_8b",
                "sampling": {**sampling, "temperature": v["temperature"]},
            },
            overwrite=bool(editing),
            workspace=workspace_id(),
        )
    except PersonaError as exc:
        st.session_state[FORM_ERROR] = _("Not saved: {error}. Your text is still in the form.").format(
            error=exc
        )
        return
    conv_key = f"{chat_prefix(persona.id)}_conversation"
    kept_conversation = st.session_state.get(conv_key) if editing else None
    forget_persona_state(persona.id, [p.id for p in load_all().personas])
    if kept_conversation is not None and kept_conversation.id:
        # an edit keeps the conversation, with the new prompt
        try:
            get_store().set_system_prompt(kept_conversation.id, persona.system_prompt)
        except StoreError:
            pass  # the store's notice says so
    elif not editing:
        forget_chat(chat_prefix(persona.id))  # a new persona starts with no history
    _reset_form()
    _select(persona.id)
    st.session_state[FLASH] = _("Saved {name}.").format(name=persona.name)


def persona_form() -> None:
    """Add a persona, or edit the one whose Edit button was pressed."""
    for field, default in FORM_DEFAULTS.items():
        st.session_state.setdefault(_form_key(field), default)
    editing = st.session_state.get(EDITING)
    error = st.session_state.get(FORM_ERROR)
    title = (
        "✏️ " + _("Edit {name}").format(name=st.session_state[_form_key("name")])
        if editing
        else "➕ " + _("Add your own persona")
    )
    with st.expander(title, expanded=bool(editing or error)):
        with st.form("roleplay_persona_form", clear_on_submit=False, border=False):
            st.text_input(_("Name"), key=_form_key("name"), placeholder=_("e.g. 唐僧"))
            st.text_input(
                _("Avatar (one emoji)"),
                key=_form_key("avatar"),
                help=_("One emoji, such as 🐷 or 🙏."),
            )
            st.text_area(
                _("Persona's system prompt"),
                key=_form_key("prompt"),
                height=140,
                placeholder="你是…",
                help=_("Who the model should be; sent before every conversation with this persona."),
            )
            st.text_input(_("Greeting (optional)"), key=_form_key("greeting"))
            st.selectbox(
                _("Preferred model"),
                FORM_MODELS,
                key=_form_key("model"),
                format_func=lambda k: SPECS[k].label,
            )
            t = SAMPLING_LIMITS["temperature"]
            st.slider(_(t.label), t.low, t.high, step=t.step, key=_form_key("temperature"))
            if error:
                st.error(error, icon="⚠️")
            with st.container(horizontal=True, gap="small"):
                st.form_submit_button(
                    _("Save changes") if editing else _("Save persona"), on_click=_save_form
                )
                if editing:
                    st.form_submit_button(_("Cancel"), on_click=_reset_form)
