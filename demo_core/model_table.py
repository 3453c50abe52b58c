"""The rows of the Models page's table: every model the app knows, whether and where it
is on this machine, and where each download source publishes it.

Plain data in the current language (the column names are translated per call), so the
page only draws it and tests can read it without Streamlit.
"""

from __future__ import annotations

from demo_core import discovery
from demo_core.download.api import SOURCE_NAMES, SOURCES, Request, is_git_route, repo_for
from demo_core.download.progress import fmt_bytes
from demo_core.i18n import _
from demo_core.serving import served_label, served_url
from demo_core.specs import ModelSpec


def source_columns(spec: ModelSpec) -> dict[str, str]:
    """``{"Hugging Face": id, "ModelScope": id, "OpenXLab": id}`` ("—" where not published;
    "generated here" for the tiny random models; OpenXLab's git route is marked)."""
    out: dict[str, str] = {}
    for source in SOURCES:
        name = SOURCE_NAMES[source]
        if spec.is_random:
            out[name] = _("generated here")
            continue
        repo = repo_for(spec, source)
        if repo and source == "openxlab" and is_git_route(Request(spec.key, source=source)):
            repo = _("git clone {repo}").format(repo=repo)
        out[name] = repo or "—"
    return out


def status_note(s: discovery.ModelStatus) -> str:
    """What the table says beside a model: an unfinished download to resume, or that its
    weights are random."""
    if s.partial is not None:
        return _("unfinished download in {folder} (start it again to resume)").format(
            folder=s.partial
        )
    if s.spec.is_random:
        return _("random weights, for trying the UI")
    return ""


def model_row(s: discovery.ModelStatus) -> dict[str, str]:
    """One model's row: name and presence first (what a phone shows), then size, where it
    was found, the pages that use it, its id per source, key, path and note."""
    return {
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
        _("note"): status_note(s),
    }


def model_rows() -> list[dict[str, str]]:
    """A row per model the app knows, found on disk afresh."""
    return [model_row(s) for s in discovery.all_status()]
