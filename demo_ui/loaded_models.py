"""The Models page's "Loaded in memory" section: what the shared model manager holds
against its memory budget, with a button to unload each model (one copy serves every
tab, so this is where memory is given back)."""

from __future__ import annotations

import streamlit as st

from demo_core.engine.describe import engine_note
from demo_core.i18n import _
from demo_core.specs import SPECS, fmt_memory
from demo_ui.resources import get_manager


def memory_section() -> None:
    """Budget bar, one line per loaded model (with its engine's note) and the last lines
    of the load / unload log."""
    st.subheader(_("Loaded in memory"))
    manager = get_manager()
    used, budget = manager.resident_bytes(), manager.budget_bytes
    st.progress(
        min(1.0, used / budget) if budget else 0.0,
        text=_(
            "{used} of the {budget} memory budget on {device} "
            "(set `memory_budget_gb` in settings.json or DEMO_STUDIO_MEMORY_BUDGET_GB to change it)"
        ).format(used=fmt_memory(used), budget=fmt_memory(budget), device=manager.device),
    )
    keys = manager.loaded_keys()
    if not keys:
        st.caption(_("No model is loaded. Pages load their model on first use."))
    for key in keys:
        spec = SPECS[key]
        left, right = st.columns([5, 1])
        left.markdown(
            f"**{_(spec.label)}** · "
            + _("about {size}").format(size=fmt_memory(manager.estimate_bytes(key)))
        )
        if note := engine_note(manager.resident_engine(key)):
            left.caption(note)
        if right.button(_("Unload"), key=f"models_unload_{key}"):
            manager.unload(key)
            st.rerun()
    if manager.notices:
        with st.expander(_("Load / unload log")):
            for line in manager.notices[-10:]:
                st.text(line)
