"""The Models page's download form: which model (or any repository id), one file or the
whole model, from which source and endpoint; it starts a background job (the Downloads
section below shows it) and, with "How it works" open, shows the same download as code."""

from __future__ import annotations

from typing import Any

import streamlit as st

from demo_core import settings
from demo_core.download.api import SOURCE_NAMES, SOURCES
from demo_core.download.errors import DownloadError
from demo_core.download.form import DownloadForm, FormError
from demo_core.download.hub import DEFAULT_TIMEOUT
from demo_core.download.jobs import REGISTRY
from demo_core.i18n import N_, _
from demo_core.specs import SPECS
from demo_ui import how_it_works
from demo_ui.endpoint_picker import endpoint_picker

ONE_FILE, WHOLE_MODEL = N_("One file"), N_("Whole model")


def _model_fields(column) -> str:
    """A model of the app, or (last choice) any repository id typed in."""
    other = _("Other repository id…")
    keys = [k for k, s in SPECS.items() if not s.is_random]
    choice = column.selectbox(
        _("Model"),
        keys + [other],
        format_func=lambda k: SPECS[k].label if k in SPECS else k,
        key="models_choice",
    )
    if choice != other:
        return choice
    return column.text_input(
        _("Repository id"), placeholder="internlm/internlm2-chat-1_8b", key="models_repo"
    )


def _what_fields(column) -> tuple[bool, str]:
    """``(one file?, its name)``; the whole model says what it leaves out."""
    what = column.radio(
        _("What"), [ONE_FILE, WHOLE_MODEL], format_func=_, horizontal=True, key="models_what"
    )
    if what == ONE_FILE:
        return True, column.text_input(
            _("File in the repository"), value="config.json", key="models_file"
        )
    column.caption(_("Weights, tokenizer and JSON config only — never remote *.py code."))
    return False, ""


def read_form() -> DownloadForm:
    """Draw the form's fields and return what they hold."""
    c1, c2 = st.columns(2)
    model = _model_fields(c1)
    one_file, file = _what_fields(c2)

    s1, s2 = st.columns(2)
    labels = {SOURCE_NAMES[k]: k for k in SOURCES}
    source = labels[s1.radio(_("Source"), list(labels), horizontal=True, key="models_source")]
    endpoint = endpoint_picker(s1, source)
    token = s2.text_input(
        _("Access token (only for gated or private repositories)"),
        type="password",
        key="models_token",
        help=_("Sent to the endpoint you chose, never stored on disk."),
    )
    return DownloadForm(model, one_file, file, source, endpoint, token=token, **_more_options())


def _more_options() -> dict[str, Any]:
    """The folded fields: destination, revision, timeout, and downloading again."""
    with st.expander(_("More options")):
        o1, o2, o3 = st.columns(3)
        dest = o1.text_input(
            _("Destination folder"),
            placeholder=str(settings.models_dir() / _("<model folder>")),
            key="models_dest",
        )
        revision = o2.text_input(_("Revision"), placeholder="main / master", key="models_revision")
        timeout = o3.number_input(
            _("Timeout (s)"), 1.0, 120.0, DEFAULT_TIMEOUT, step=1.0, key="models_timeout"
        )
        force = st.checkbox(
            _("Download even if a complete copy is already on this machine"), key="models_force"
        )
    return {"dest": dest, "revision": revision, "timeout": timeout, "force": force}


def download_form() -> None:
    """The form, its "How it works" code, and the button that starts the job."""
    st.subheader(_("Download"))
    form = read_form()
    how_it_works.download_panel(
        form.repo,
        form.hf_repo(),
        form.filename,
        form.source,
        form.endpoint_url,
        form.destination(),
    )
    if not st.button(_("Start download"), type="primary", key="models_start"):
        return
    try:
        job = REGISTRY.start(form.request())
    except (FormError, DownloadError) as exc:
        st.error(str(exc))
        return
    st.session_state["models_last_job"] = job.id
    st.rerun()
