"""The home page: the demos, which models are here, and the machine's memory."""

from __future__ import annotations

import streamlit as st
import torch

from demo_core.discovery import locate_any
from demo_core.engine.manager import GB
from demo_core.i18n import N_
from demo_core.serving import served_label
from demo_core.specs import SPECS
from demo_ui.resources import get_manager
from demo_ui.widgets import page_header, page_link

DEMOS = [
    (
        "1_Story_Chat.py",
        "📖",
        "Story chat",
        "InternLM2-Chat-1.8B writes a 300-character story and chats.",
    ),
    (
        "2_Bajie.py",
        "🐷",
        "Bajie role-play",
        "Chat with 猪八戒 (BaJie-Chat-mini) or other personas.",
    ),
    (
        "3_Data_Agent.py",
        "📊",
        "Data-analysis agent",
        "Lagent + InternLM2-Chat-7B write and run Python on your data.",
    ),
    (
        "4_XComposer2.py",
        "🖼️",
        "XComposer2",
        "Illustrated articles and image Q&A with InternLM-XComposer2.",
    ),
    (
        "5_Models.py",
        "📦",
        "Models & downloads",
        "Download models with huggingface_hub or ModelScope.",
    ),
    (
        "6_Class.py",
        "🧑‍🏫",
        N_("Class"),
        N_("For the teacher: who is connected, what each model is doing, resets."),
    ),
]


CARDS_PER_ROW = 3


def device_summary() -> str:
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        name = torch.cuda.get_device_name()
        return f"GPU: {name} — {free / GB:.1f} GB free of {total / GB:.1f} GB"
    return "No CUDA GPU found: models run on the CPU (slow for the 7B models; fine for the tiny test model)."


def render_home() -> None:
    page_header(
        "InternLM Demo Studio",
        "🧪",
        "Every demo of the InternLM fun-demos lesson in one app, sharing one copy of each model.",
    )
    st.subheader("Demos")
    # three cards a row: five in one row cut "Data-analysis agent" short at 1400 px
    for start in range(0, len(DEMOS), CARDS_PER_ROW):
        cols = st.columns(CARDS_PER_ROW)
        for col, (file, icon, title, blurb) in zip(
            cols, DEMOS[start : start + CARDS_PER_ROW], strict=False
        ):
            with col.container(border=True, height="stretch"):
                page_link(file, title, icon)
                st.caption(blurb)

    st.subheader("This machine")
    manager = get_manager()
    st.write(device_summary())
    st.write(
        f"Memory budget for models: {manager.budget_bytes / GB:.1f} GB, "
        f"{manager.resident_bytes() / GB:.2f} GB in use by {len(manager.loaded_keys())} loaded model(s)."
    )

    st.subheader("Models")
    rows = []
    for spec in SPECS.values():
        found = None if spec.is_random else locate_any(spec)
        served = served_label(spec.key)
        rows.append(
            {
                "model": spec.label,
                "on this machine": "generated on demand"
                if spec.is_random
                else (served or ("✅ yes" if found else "❌ no")),
                "where": found[1].as_posix() if found else "",
                "loaded": "yes" if manager.is_loaded(spec.key) else "",
                "used by": ", ".join(spec.pages),
            }
        )
    st.table(rows)
    st.caption(
        "Missing models can be downloaded on the Models page, or pointed to with an environment "
        "variable such as DEMO_STUDIO_MODEL_INTERNLM2_CHAT_1_8B=/path/to/internlm2-chat-1_8b."
    )
