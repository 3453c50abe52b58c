"""The homework in one click: "download config.json of <repo>" from any of the three sources.

The download is an ordinary background job (it shows in the Downloads list too); this
section keeps the id of the last homework job per browser session and, once it is done,
shows the file as pretty JSON, where it was saved and the equivalent Python to copy.
"""

from __future__ import annotations

import streamlit as st

from demo_core.download.api import SOURCE_NAMES, SOURCES
from demo_core.download.errors import DownloadError
from demo_core.download.homework import (
    EXAMPLES,
    FILE,
    equivalent_python,
    homework_request,
    resolve_repo,
)
from demo_core.download.jobs import CANCELLED, DONE, FAILED, REGISTRY
from demo_core.i18n import _
from demo_ui.download_jobs import show_json_file
from demo_ui.endpoint_picker import endpoint_picker

K = "homework_"


def homework_section() -> None:
    """The form and the last homework job's result; its endpoint chooser is the download
    form's own (:func:`~demo_ui.endpoint_picker.endpoint_picker`, one mechanism for both
    forms)."""
    st.subheader(_("Homework: download config.json"))
    st.caption(
        _(
            "The lesson's homework: fetch one repository's config.json with the library of "
            "each site. Any repository id works; the file lands in the homework folder and the "
            "equivalent Python is shown below it."
        )
    )
    c1, c2 = st.columns(2)
    source = c1.radio(
        _("Source"),
        SOURCES,
        format_func=lambda s: SOURCE_NAMES[s],
        horizontal=True,
        key=K + "source",
    )
    repo = c1.text_input(
        _("Repository id"),
        value=EXAMPLES[source],
        key=K + f"repo_{source}",
        help=_("A model key of this app also works, e.g. internlm-20b."),
    )
    endpoint = endpoint_picker(c2, source, "homework")
    repo_id = resolve_repo(repo or "", source)
    label = _("Download config.json of {repo}").format(repo=repo_id or "…")
    if st.button(label, key=K + "start", type="primary", disabled=not repo_id):
        req = homework_request(repo_id, source, endpoint=(endpoint or "").strip() or None)
        try:
            job = REGISTRY.start(req)
        except DownloadError as exc:
            st.error(str(exc))
        else:
            st.session_state[K + "job"] = job.id
            st.rerun()
    show_result()


def show_result() -> None:
    job_id = st.session_state.get(K + "job")
    job = REGISTRY.get(job_id) if job_id is not None else None
    if job is None:
        return
    view = job.view()
    req = view.request
    with st.container(border=True, key=K + "result"):
        st.markdown(
            _("**{file}** of `{repo}` from {source}").format(
                file=FILE, repo=req.repo_id, source=SOURCE_NAMES[req.source]
            )
        )
        if view.active:
            st.info(_("Downloading…"))
        elif view.state == DONE and view.result is not None and view.result.files:
            path = view.result.files[0]
            st.success(_("Saved to {path}").format(path=path))
            show_json_file(path)
        elif view.state in (FAILED, CANCELLED):
            st.error(view.message)
        st.markdown(_("The same download in Python:"))
        st.code(
            equivalent_python(req.repo_id, req.source, req.destination, req.endpoint),
            language="python",
        )
