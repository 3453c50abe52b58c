"""Models & downloads: what is on this machine, what is in memory, and fetching more.

Layout only: the sections live in demo_ui (models_table, loaded_models, download_form,
download_jobs, homework) over :mod:`demo_core.discovery` (local copies), the shared
``ModelManager`` (loaded models, memory budget) and :mod:`demo_core.download` (background
download jobs shared by every tab).
"""

from __future__ import annotations

import streamlit as st

from demo_core.i18n import N_
from demo_ui import how_it_works
from demo_ui.download_form import download_form
from demo_ui.download_jobs import jobs_section
from demo_ui.homework import homework_section
from demo_ui.loaded_models import memory_section
from demo_ui.models_table import models_table
from demo_ui.widgets import page_header

page_header(
    N_("Models & downloads"),
    "📦",
    N_(
        "Which models are on this machine, which are loaded, and downloads from Hugging Face, "
        "a mirror, ModelScope or OpenXLab."
    ),
)
with st.sidebar:
    how_it_works.toggle()

models_table()
memory_section()
download_form()
jobs_section()
homework_section()
