"""Persona picker, model choice for a persona, and the "add your own persona" form."""

from __future__ import annotations

import streamlit as st

from demo_core.engine.base import SAMPLING_LIMITS
from demo_core.personas import (
    AVATAR_RULE,
    Persona,
    PersonaError,
    PersonaSet,
    load_all,
    save_user_persona,
    slugify,
)
from demo_core.specs import CHAT_MODELS, SPECS, resolve_path
from demo_ui.chat import drawable_avatar
from demo_ui.resources import get_manager
from demo_ui.widgets import keep, page_link


def persona_picker(default_id: str = "bajie") -> tuple[Persona, PersonaSet]:
    pset = load_all()
    for problem in pset.problems:
        st.warning(f"A persona file could not be used: {problem}", icon="📄")
    ids = [p.id for p in pset.personas]
    selected = st.session_state.pop("roleplay_select_next", None)  # a persona just saved
    if selected in ids:
        st.session_state["roleplay_persona"] = st.session_state["_kept_roleplay_persona"] = selected
    keep("roleplay_persona", default_id if default_id in ids else ids[0])
    if st.session_state["roleplay_persona"] not in ids:
        st.session_state["roleplay_persona"] = ids[0]
    pid = st.selectbox(
        "Persona",
        ids,
        key="roleplay_persona",
        format_func=lambda i: f"{pset.get(i).avatar} {pset.get(i).name}",
        on_change=lambda: st.session_state.update(
            _kept_roleplay_persona=st.session_state["roleplay_persona"]
        ),
    )
    return pset.get(pid), pset


def persona_model(persona: Persona) -> str:
    """Which model plays the persona: its own fine-tune if present, else the base model
    with the persona prompt -- and the page says which one is running."""
    options = list(
        dict.fromkeys([persona.preferred_model, persona.fallback_model, "tiny-internlm2"])
    )
    present = {k: SPECS[k].is_random or resolve_path(k) is not None for k in options}
    preferred = SPECS[persona.preferred_model]
    if not present[persona.preferred_model]:
        st.warning(f"{preferred.label} is not downloaded.", icon="📦")
        page_link("5_Models.py", f"Download {preferred.label} on the Models page", "⬇️")
    wkey = f"roleplay_model_{persona.id}"
    keep(wkey, next((k for k in options if present[k]), options[-1]))
    key = st.radio(
        "Model playing this persona",
        options,
        key=wkey,
        format_func=lambda k: SPECS[k].label + ("" if present[k] else " — not downloaded"),
        on_change=lambda: st.session_state.update({f"_kept_{wkey}": st.session_state[wkey]}),
    )
    if key == persona.preferred_model:
        st.success(f"Running {SPECS[key].label}.", icon="✅")
    elif SPECS[key].is_random:
        st.warning("Running the tiny random test model: replies are noise.", icon="🎲")
    else:
        st.info(
            f"Running {SPECS[key].label} with the persona prompt (not the fine-tuned model).",
            icon="🎭",
        )
    manager = get_manager()
    others = [k for k in manager.loaded_keys() if k != key]
    if not manager.is_loaded(key) and others and not manager.would_fit(key):
        names = ", ".join(SPECS[k].label for k in others)
        st.info(
            f"Loading {SPECS[key].label} will unload {names} to stay within the memory budget.",
            icon="🔁",
        )
    return key


def add_persona_form() -> None:
    with st.expander("➕ Add your own persona"):
        with st.form("roleplay_new_persona", clear_on_submit=False):
            name = st.text_input("Name", placeholder="e.g. 唐僧")
            avatar = st.text_input("Avatar (an emoji)", value="🎭", max_chars=8)
            prompt = st.text_area("System prompt", height=140, placeholder="你是…")
            greeting = st.text_input("Greeting (optional)")
            model = st.selectbox(
                "Preferred model",
                [k for k in CHAT_MODELS if not SPECS[k].is_random],
                format_func=lambda k: SPECS[k].label,
            )
            t = SAMPLING_LIMITS["temperature"]
            temperature = st.slider(t.label, t.low, t.high, 0.8, t.step)
            if st.form_submit_button("Save persona"):
                data = {
                    "id": slugify(name) if name.isascii() else f"p-{abs(hash(name)) % 10**8}",
                    "name": name,
                    "avatar": avatar,
                    "system_prompt": prompt,
                    "greeting": greeting,
                    "preferred_model": model,
                    "fallback_model": "internlm2-chat-1_8b",
                    "sampling": {
                        "temperature": temperature,
                        "top_p": 0.8,
                        "repetition_penalty": 1.005,
                    },
                }
                try:
                    if drawable_avatar(avatar.strip()) != avatar.strip() and avatar.strip():
                        # an emoji Streamlit's own list lacks would be drawn as 🎭
                        raise PersonaError(f"{AVATAR_RULE} that Streamlit can show")
                    persona = save_user_persona(data)
                except PersonaError as exc:
                    st.error(f"Not saved: {exc}. Your text is still in the form.", icon="⚠️")
                else:
                    st.session_state["roleplay_select_next"] = persona.id
                    st.success(f"Saved {persona.name}.")
                    st.rerun()
