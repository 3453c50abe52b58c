"""The home page: the demos, which models are here, and the machine's memory."""

from __future__ import annotations

import streamlit as st
import torch

from demo_core.discovery import locate_any
from demo_core.engine.manager import GB
from demo_core.i18n import N_, _, format_number, ngettext
from demo_core.serving import served_label
from demo_core.specs import SPECS
from demo_ui.navigation import installed_pages
from demo_ui.resources import get_manager
from demo_ui.widgets import page_header, page_link

CARDS_PER_ROW = 3


def device_summary() -> str:
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        name = torch.cuda.get_device_name()
        return _("GPU: {name} — {free} GB free of {total} GB").format(
            name=name, free=format_number(free / GB, 1), total=format_number(total / GB, 1)
        )
    return _(
        "No CUDA GPU found: models run on the CPU (slow for the 7B models; fine for the tiny test model)."
    )


def render_home() -> None:
    page_header(
        N_("InternLM Demo Studio"),
        "🧪",
        N_("Every demo of the InternLM fun-demos lesson in one app, sharing one copy of each model."),
    )
    st.subheader(_("Demos"))
    # three cards a row: five in one row cut "Data-analysis agent" short at 1400 px
    demos = installed_pages()
    for start in range(0, len(demos), CARDS_PER_ROW):
        cols = st.columns(CARDS_PER_ROW)
        for col, entry in zip(cols, demos[start : start + CARDS_PER_ROW], strict=False):
            with col.container(border=True, height="stretch"):
                page_link(entry.file, _(entry.title), entry.icon)
                st.caption(_(entry.blurb))

    st.subheader(_("This machine"))
    manager = get_manager()
    st.write(device_summary())
    n = len(manager.loaded_keys())
    st.write(
        ngettext(
            "Memory budget for models: {budget} GB, {used} GB in use by {n} loaded model.",
            "Memory budget for models: {budget} GB, {used} GB in use by {n} loaded models.",
            n,
        ).format(
            budget=format_number(manager.budget_bytes / GB, 1),
            used=format_number(manager.resident_bytes() / GB, 2),
            n=n,
        )
    )

    st.subheader(_("Models"))
    rows = []
    for spec in SPECS.values():
        found = None if spec.is_random else locate_any(spec)
        served = served_label(spec.key)
        rows.append(
            {
                _("model"): _(spec.label),
                _("on this machine"): _("generated on demand")
                if spec.is_random
                else (served or ("✅ " + _("yes") if found else "❌ " + _("no"))),
                _("where"): found[1].as_posix() if found else "",
                _("loaded"): _("yes") if manager.is_loaded(spec.key) else "",
                _("used by"): ", ".join(_(p) for p in spec.pages),
            }
        )
    st.table(rows)
    st.caption(
        _(
            "Missing models can be downloaded on the Models page, or pointed to with an environment "
            "variable such as DEMO_STUDIO_MODEL_INTERNLM2_CHAT_1_8B=/path/to/internlm2-chat-1_8b."
        )
    )
