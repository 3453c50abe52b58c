"""Models & downloads: what is on this machine, what is in memory, and fetching more.

Thin UI over :mod:`demo_core.discovery` (local copies), the shared ``ModelManager``
(loaded models, memory budget) and :mod:`demo_core.download` (background download jobs
shared by every tab). The jobs section is a fragment that re-runs itself once a second
while something downloads, so the rest of the page never blocks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import streamlit as st

from demo_core import discovery, settings
from demo_core.download.api import ENDPOINT_ENV, SOURCE_NAMES, SOURCES, Request
from demo_core.download.errors import DownloadError
from demo_core.download.hub import DEFAULT_TIMEOUT, MIRROR, OFFICIAL
from demo_core.download.jobs import CANCELLED, DONE, FAILED, REGISTRY, JobView
from demo_core.download.modelscope_source import DEFAULT_ENDPOINT as MODELSCOPE
from demo_core.download.openxlab_source import DEFAULT_ENDPOINT as OPENXLAB
from demo_core.download.progress import fmt_bytes, fmt_duration
from demo_core.engine.describe import engine_note
from demo_core.i18n import N_, _
from demo_core.serving import served_label, served_url
from demo_core.specs import SPECS, fmt_memory
from demo_ui import how_it_works
from demo_ui.homework import homework_section
from demo_ui.language import fragment
from demo_ui.model_sources import source_columns
from demo_ui.resources import get_manager
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

OTHER = _("Other repository id…")
CUSTOM = _("Custom URL")
ENDPOINT_CHOICES = {
    "hf": {
        _("Official ({url})").format(url=OFFICIAL): OFFICIAL,
        _("Mirror ({url})").format(url=MIRROR): MIRROR,
        CUSTOM: None,
    },
    "modelscope": {_("Official ({url})").format(url=MODELSCOPE): MODELSCOPE, CUSTOM: None},
    "openxlab": {_("Official ({url})").format(url=OPENXLAB): OPENXLAB, CUSTOM: None},
}


def endpoint_picker(column, source: str, prefix: str = "models") -> str | None:
    """Endpoint for ``source``: a known one, or a typed URL; preselects what the
    environment (``HF_ENDPOINT`` / ``MODELSCOPE_DOMAIN``) already names."""
    choices = ENDPOINT_CHOICES[source]
    env_endpoint = os.environ.get(ENDPOINT_ENV[source], "").strip().rstrip("/")
    labels = list(choices)
    known = [label for label, url in choices.items() if url and url == env_endpoint]
    if known:
        default = labels.index(known[0])
    else:
        default = labels.index(CUSTOM) if env_endpoint else 0
    picked = column.selectbox(
        _("Endpoint"), labels, index=default, key=f"{prefix}_endpoint_choice_{source}"
    )
    endpoint = choices[picked]
    if endpoint is None:
        endpoint = column.text_input(
            _("Custom endpoint URL"),
            value=env_endpoint,
            placeholder="http://127.0.0.1:8080",
            help=_("Same meaning as {env}: the site's base URL.").format(env=ENDPOINT_ENV[source]),
            key=f"{prefix}_endpoint_url_{source}",
        )
    return endpoint


# -- on this machine ------------------------------------------------------------------
def phone_first_columns() -> dict:
    """What a phone shows first: the model (not its whole long label) and whether it is
    here (the column names are translated, so this is built per run)."""
    return {
        _("model"): st.column_config.TextColumn(width="medium", pinned=True),
        _("present"): st.column_config.TextColumn(width="small"),
    }


def models_table() -> None:
    st.subheader(_("Models the app knows"))
    rows = []
    for s in discovery.all_status():
        note = ""
        if s.partial is not None:
            note = _("unfinished download in {folder} (start it again to resume)").format(
                folder=s.partial
            )
        elif s.spec.is_random:
            note = _("random weights, for trying the UI")
        rows.append(
            {
                _("model"): _(s.spec.label),
                _("present"): served_label(s.spec.key) or ("✅" if s.present else "—"),
                _("size on disk"): fmt_bytes(s.size_bytes) if s.present else "",
                _("found in"): _(s.where)
                if s.where
                else ("" if served_url(s.spec.key) else _("not on this machine")),
                _("used by"): ", ".join(_(p) for p in s.spec.pages),
                **source_columns(s.spec),
                _("key"): s.spec.key,
                _("path"): str(s.path) if s.path else "",
                _("note"): note,
            }
        )
    # what a phone shows first: the model (not its whole long label) and whether it is here
    st.dataframe(rows, hide_index=True, width="stretch", column_config=phone_first_columns())
    st.caption(
        _(
            "Searched: the models folder `{folder}`, paths set per model "
            "(environment `DEMO_STUDIO_MODEL_<KEY>` or settings.json), `model_dirs` in settings.json, "
            "`/root/share/new_models/<org>/<name>` and the other InternStudio share folders, "
            "the Hugging Face cache and the ModelScope cache."
        ).format(folder=settings.models_dir())
    )


def memory_section() -> None:
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


# -- download form ----------------------------------------------------------------------
def download_form() -> None:
    st.subheader(_("Download"))
    keys = [k for k, s in SPECS.items() if not s.is_random]
    c1, c2 = st.columns(2)
    choice = c1.selectbox(
        _("Model"),
        keys + [OTHER],
        format_func=lambda k: SPECS[k].label if k in SPECS else k,
        key="models_choice",
    )
    model = choice
    if choice == OTHER:
        model = c1.text_input(
            _("Repository id"), placeholder="internlm/internlm2-chat-1_8b", key="models_repo"
        )
    what = c2.radio(
        _("What"),
        [N_("One file"), N_("Whole model")],
        format_func=_,
        horizontal=True,
        key="models_what",
    )
    file = None
    if what == "One file":
        file = c2.text_input(_("File in the repository"), value="config.json", key="models_file")
    else:
        c2.caption(_("Weights, tokenizer and JSON config only — never remote *.py code."))

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

    spec = SPECS.get(model)
    how_it_works.download_panel(
        (model or "").strip(),
        spec.hf_id if spec else (model or "").strip(),
        (file or "").strip() or None if what == "One file" else None,
        source,
        (endpoint or "").strip() or None,
        dest.strip() or str(settings.models_dir() / (spec.folder_name if spec else "model")),
    )
    if st.button(_("Start download"), type="primary", key="models_start"):
        if not (model or "").strip():
            st.error(_("Enter a repository id such as internlm/internlm2-chat-1_8b."))
            return
        req = Request(
            model=model.strip(),
            file=(file or "").strip() or None if what == "One file" else None,
            source=source,
            endpoint=(endpoint or "").strip() or None,
            token=token.strip() or None,
            revision=revision.strip() or None,
            dest=Path(dest.strip()).expanduser() if dest.strip() else None,
            timeout=float(timeout),
            force=force,
        )
        if what == "One file" and req.file is None:
            st.error(_("Enter the name of the file to download, e.g. config.json."))
            return
        try:
            job = REGISTRY.start(req)
        except DownloadError as exc:
            st.error(str(exc))
            return
        st.session_state["models_last_job"] = job.id
        st.rerun()


# -- jobs ---------------------------------------------------------------------------------
def show_json_file(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
        st.code(json.dumps(json.loads(text), indent=2, ensure_ascii=False), language="json")
    except (OSError, ValueError) as exc:
        st.warning(_("{name} is not readable JSON: {error}").format(name=path.name, error=exc))


def render_job(view: JobView) -> None:
    req = view.request
    what = req.file or _("whole model")
    source = {"hf": "Hugging Face", "modelscope": "ModelScope"}.get(req.source, req.source)
    title = f"#{view.id} · {req.repo_id} · {what} · {source}"
    with st.container(border=True):
        st.markdown(f"**{title}**")
        snap = view.progress
        if view.active:
            frac = snap.fraction
            eta = (
                " · " + _("ETA {time}").format(time=fmt_duration(snap.eta_s))
                if snap.eta_s is not None
                else ""
            )
            st.progress(
                frac if frac is not None else 0.0,
                text=f"{fmt_bytes(snap.done)} / {fmt_bytes(snap.total)} · "
                f"{fmt_bytes(snap.speed)}/s{eta} · {snap.current_file or view.message}",
            )
            if st.button(_("Cancel"), key=f"models_cancel_{view.id}"):
                REGISTRY.get(view.id).cancel()
            return
        if view.state == DONE:
            st.success(view.message)
            res = view.result
            if res is not None and req.file and res.files and res.files[0].suffix == ".json":
                show_json_file(res.files[0])
            if res is not None and res.skipped:
                st.caption(_("Not fetched (code and other files):") + " " + ", ".join(res.skipped))
        elif view.state == CANCELLED:
            st.warning(view.message)
        elif view.state == FAILED:
            st.error(view.message)


POLL_S = 1.0


def jobs_section() -> None:
    """The jobs area, as a fragment that reruns itself every ``POLL_S`` only while a job
    runs: an idle Models page left open in a tab must not rerun every second.

    ``run_every`` is fixed when the full page runs, so a fragment rerun cannot switch its
    own timer off. It does not need to: when a job it watched ends, :func:`jobs_area`
    reruns the whole page once, which shows the result, and a full run with nothing
    running sends no timer (the browser drops the old ones on every full run).
    """
    poll = POLL_S if REGISTRY.running() else None
    fragment(run_every=poll)(jobs_area)()


def jobs_area() -> None:
    jobs = REGISTRY.jobs()
    if not jobs:
        return
    st.subheader(_("Downloads"))
    st.caption(
        _("Shared by every browser tab of this app; a download keeps running when you leave.")
    )
    seen = st.session_state.setdefault("models_seen_finished", set())
    newly_finished = False
    for job in jobs:
        view = job.view()
        render_job(view)
        if view.state != "running" and view.id not in seen:
            seen.add(view.id)
            newly_finished = True
    if any(j.view().state != "running" for j in jobs) and st.button(
        _("Clear finished"), key="models_clear"
    ):
        REGISTRY.clear_finished()
        st.rerun()
    if newly_finished and st.session_state.get("models_rendered_once"):
        # Whole page: the model table may have a new model, and the poll timer stops.
        st.rerun()
    st.session_state["models_rendered_once"] = True


models_table()
memory_section()
download_form()
jobs_section()
homework_section(endpoint_picker)
