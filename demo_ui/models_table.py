"""The Models page's first section: every model the app knows and where it was found."""

from __future__ import annotations

from typing import Any

import streamlit as st

from demo_core import settings
from demo_core.i18n import _
from demo_core.model_table import model_rows


def phone_first_columns() -> dict[str, Any]:
    """What a phone shows first: the model (not its whole long label) and whether it is
    here (the column names are translated, so this is built per run)."""
    return {
        _("model"): st.column_config.TextColumn(width="medium", pinned=True),
        _("present"): st.column_config.TextColumn(width="small"),
    }


def models_table() -> None:
    """The table of models, and where the app looked for them (so a student whose copy is
    not found knows which folders count)."""
    st.subheader(_("Models the app knows"))
    st.dataframe(
        model_rows(), hide_index=True, width="stretch", column_config=phone_first_columns()
    )
    st.caption(
        _(
            "Searched: the models folder `{folder}`, paths set per model "
            "(environment `DEMO_STUDIO_MODEL_<KEY>` or settings.json), `model_dirs` in settings.json, "
            "`/root/share/new_models/<org>/<name>` and the other InternStudio share folders, "
            "the Hugging Face cache and the ModelScope cache."
        ).format(folder=settings.models_dir())
    )
