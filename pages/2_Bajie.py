"""Bajie role-play: chat with 八戒-Chat-1.8B, or any persona, in its own voice."""

import streamlit as st

from demo_core.i18n import N_, _
from demo_ui import how_it_works
from demo_ui.chat import ChatConfig, chat_area, conversation, system_prompt_editor
from demo_ui.personas import chat_prefix, persona_form, persona_model, persona_picker
from demo_ui.widgets import memory_line, page_header, sampling_controls

page_header(N_("Bajie role-play"), "🐷", N_("猪八戒 and friends. Each persona keeps its own conversation."))
with st.sidebar:
    persona, _picked = persona_picker("bajie")
    cfg = ChatConfig(
        prefix=chat_prefix(persona.id),
        title=persona.name,
        default_system_prompt=persona.system_prompt,
        assistant_avatar=persona.avatar,
        greeting=persona.greeting,
        input_placeholder=_("Say something to {name}…").format(name=persona.name),
    )
    model_key = persona_model(persona)
    system_prompt_editor(cfg, conversation(cfg))
    params = sampling_controls(cfg.prefix, persona.params())
    persona_form()
    how_it_works.toggle()
    st.caption(memory_line())
st.subheader(f"{persona.avatar} {persona.name}")
chat_area(cfg, model_key, params)
