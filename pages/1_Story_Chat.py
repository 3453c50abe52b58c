"""Story chat: the lesson's InternLM2-Chat-1.8B demo ("write a 300-character story")."""

import streamlit as st

from demo_core.i18n import N_, _
from demo_core.prompts import INTERNLM_META, STORY_PRESETS
from demo_core.specs import CHAT_MODELS
from demo_ui import how_it_works
from demo_ui.chat import ChatConfig, chat_area, conversation, system_prompt_editor
from demo_ui.widgets import memory_line, model_picker, page_header, sampling_controls

page_header(
    N_("Story chat"),
    "📖",
    N_("InternLM2-Chat-1.8B writes stories and chats. Replies stream; Stop keeps what was written."),
)
cfg = ChatConfig(
    prefix="story",
    title=_("Story chat"),
    default_system_prompt=INTERNLM_META,
    assistant_avatar="🤖",
    presets=STORY_PRESETS,
    input_placeholder=_("Ask for a story…"),
)
with st.sidebar:
    model_key = model_picker("story", CHAT_MODELS, "internlm2-chat-1_8b")
    system_prompt_editor(cfg, conversation(cfg))
    params = sampling_controls("story")
    how_it_works.toggle()
    st.caption(memory_line())
chat_area(cfg, model_key, params)
