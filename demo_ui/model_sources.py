"""Where each model is published: one column per download source in the Models table."""

from __future__ import annotations

from demo_core.download.api import SOURCE_NAMES, SOURCES, Request, is_git_route, repo_for
from demo_core.i18n import _
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
