"""The Models page's Downloads section: every background download job of the process
(shared by all tabs), with progress, Cancel, and the result once it ends.

The section is a fragment that reruns itself once a second only while something
downloads, so the rest of the page never blocks and an idle page does not poll.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from demo_core.download.api import SOURCE_NAMES
from demo_core.download.jobs import CANCELLED, DONE, FAILED, REGISTRY, JobView
from demo_core.download.progress import fmt_bytes, fmt_duration
from demo_core.i18n import _
from demo_ui.language import fragment

POLL_S = 1.0


def show_json_file(path: Path) -> None:
    """A downloaded JSON file (the lesson's config.json), pretty-printed; a warning when it
    cannot be read or is not JSON. The Downloads list and the homework show it so."""
    try:
        text = path.read_text(encoding="utf-8")
        st.code(json.dumps(json.loads(text), indent=2, ensure_ascii=False), language="json")
    except (OSError, ValueError) as exc:
        st.warning(_("{name} is not readable JSON: {error}").format(name=path.name, error=exc))


def _progress_text(view: JobView) -> str:
    """Bytes done of total, speed, time left and the file being fetched."""
    snap = view.progress
    eta = (
        " · " + _("ETA {time}").format(time=fmt_duration(snap.eta_s))
        if snap.eta_s is not None
        else ""
    )
    return (
        f"{fmt_bytes(snap.done)} / {fmt_bytes(snap.total)} · "
        f"{fmt_bytes(snap.speed)}/s{eta} · {snap.current_file or view.message}"
    )


def render_job(view: JobView) -> None:
    """One job in a box: progress and Cancel while it runs, else how it ended (a JSON
    file it fetched is shown, and what it did not fetch is listed)."""
    req = view.request
    what = req.file or _("whole model")
    source = SOURCE_NAMES.get(req.source, req.source)
    title = f"#{view.id} · {req.repo_id} · {what} · {source}"
    with st.container(border=True):
        st.markdown(f"**{title}**")
        if view.active:
            frac = view.progress.fraction
            st.progress(frac if frac is not None else 0.0, text=_progress_text(view))
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
    """Every job, "Clear finished", and one full rerun when a job has just ended."""
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
