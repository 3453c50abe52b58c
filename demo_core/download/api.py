"""What the Models page and the CLI call: one request in, one verified folder out.

``model`` is either a key of :data:`demo_core.specs.SPECS` (the app picks the right id for
the chosen source and the folder ``specs.resolve_path`` will find) or a raw repository id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from demo_core import settings
from demo_core.download.errors import DownloadError
from demo_core.download.hub import DEFAULT_TIMEOUT, HubSource
from demo_core.download.plan import RepoPlan
from demo_core.download.progress import Meter
from demo_core.download.transfer import Result, run_plan
from demo_core.i18n import _
from demo_core.specs import SPECS, ModelSpec

SOURCES = ("hf", "modelscope", "openxlab")
SOURCE_NAMES = {"hf": "Hugging Face", "modelscope": "ModelScope", "openxlab": "OpenXLab"}
# where each source's endpoint is read from the environment (OpenXLab's package has none:
# OPENXLAB_ENDPOINT is this app's own)
ENDPOINT_ENV = {
    "hf": "HF_ENDPOINT",
    "modelscope": "MODELSCOPE_DOMAIN",
    "openxlab": "OPENXLAB_ENDPOINT",
}


@dataclass(frozen=True)
class Request:
    model: str  # spec key or repo id
    file: str | None = None  # one file, or None for the whole model
    source: str = "hf"
    endpoint: str | None = None  # HF: official / hf-mirror / URL; ModelScope: URL
    token: str | None = None
    revision: str | None = None
    dest: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    force: bool = False  # download even when a complete copy exists elsewhere
    retries: int = 3  # reconnects per file while no byte arrives

    def __post_init__(self) -> None:
        """Strip typed text once, here, so the CLI, the page and the job key agree.

        A pasted ``" config.json"`` used to pass validation (which stripped a copy) and
        then be looked up verbatim on the server: "has no file ' config.json'". An empty
        ``file`` stays ``""`` so :meth:`validate` can refuse it instead of silently
        downloading the whole model.
        """
        for name in ("model", "file", "endpoint", "token", "revision"):
            value = getattr(self, name)
            if isinstance(value, str):
                stripped = value.strip()
                if name not in ("file", "model"):  # optional fields: blank means unset
                    stripped = stripped or None
                object.__setattr__(self, name, stripped)

    def validate(self) -> None:
        """Raise :class:`DownloadError` for input that cannot work, before any thread starts."""
        if self.source not in SOURCES:
            raise DownloadError(
                _("unknown source {source}; choose one of {names}").format(
                    source=repr(self.source), names=", ".join(SOURCES)
                )
            )
        _checked = self.repo_id, self.destination
        if self.source == "hf":
            from demo_core.download.hub import normalise_endpoint

            normalise_endpoint(self.endpoint)
        if self.file is not None:
            from demo_core.download import rules

            if not self.file:
                raise DownloadError(
                    _(
                        "The file name is empty: give one such as config.json, or ask for the "
                        "whole model."
                    )
                )
            try:
                rules.safe_relative(self.file)
            except ValueError:
                raise DownloadError(
                    _("{name} is not a file name inside a repository.").format(name=repr(self.file))
                ) from None
            if not rules.is_allowed(self.file):
                raise DownloadError(
                    _(
                        "{name} is not fetched: only weights (*.safetensors, *.bin), tokenizer "
                        "and JSON config files are -- never remote *.py code."
                    ).format(name=repr(self.file))
                )
        if self.timeout <= 0:
            raise DownloadError(_("the timeout must be a positive number of seconds"))

    @property
    def key(self) -> tuple:
        """Identity of a job: a second click or tab with the same request joins it."""
        return (self.source, self.repo_id, self.file or "*", str(self.destination))

    @property
    def spec(self) -> ModelSpec | None:
        return SPECS.get(self.model.strip())

    @property
    def repo_id(self) -> str:
        spec = self.spec
        if spec is None:
            repo = self.model.strip().strip("/")
            if repo.count("/") != 1 or not all(repo.split("/")):
                raise DownloadError(
                    _(
                        "{name} is neither a known model ({known}) nor a "
                        "repository id like 'internlm/internlm2-chat-1_8b'."
                    ).format(name=repr(self.model), known=", ".join(SPECS))
                )
            return repo
        if spec.is_random:
            raise DownloadError(
                _("{model} is generated on this machine; there is nothing to download.").format(
                    model=_(spec.label)
                )
            )
        repo = repo_for(spec, self.source)
        if not repo:
            others = [SOURCE_NAMES[s] for s in SOURCES if s != self.source and repo_for(spec, s)]
            raise DownloadError(
                _("{model} is not published on {source}; choose {other} as the source.").format(
                    model=spec.label,
                    source=_source_name(self.source),
                    other=_(" or ").join(others),
                )
            )
        return repo

    @property
    def destination(self) -> Path:
        if self.dest is not None:
            return Path(self.dest).expanduser()
        spec = self.spec
        name = spec.folder_name if spec is not None else self.repo_id.split("/")[-1]
        return settings.models_dir() / name


def _source_name(source: str) -> str:
    return SOURCE_NAMES.get(source, source)


def repo_for(spec: ModelSpec, source: str) -> str | None:
    """The spec's repository id on ``source`` (for OpenXLab: the model API's id, or the
    code host's git repository where that is how the model is published)."""
    if source == "hf":
        return spec.hf_id
    if source == "modelscope":
        return spec.modelscope_id
    if source == "openxlab":
        return spec.openxlab_id or spec.extra.get("openxlab_git")
    return None


def is_git_route(req: Request) -> bool:
    """OpenXLab publishes some models (Bajie) only as a git repository on its code host."""
    spec = req.spec
    return (
        req.source == "openxlab"
        and spec is not None
        and not spec.openxlab_id
        and bool(spec.extra.get("openxlab_git"))
    )


def make_source(req: Request):
    if req.source == "hf":
        return HubSource(req.endpoint, req.token, req.timeout)
    if req.source == "modelscope":
        from demo_core.download.modelscope_source import ModelScopeSource

        return ModelScopeSource(req.endpoint, req.token, req.timeout)
    if req.source == "openxlab":
        from demo_core.download.openxlab_source import OpenXLabSource

        return OpenXLabSource(req.endpoint, req.token, req.timeout)
    raise DownloadError(
        _("unknown source {source}; choose one of {names}").format(
            source=repr(req.source), names=", ".join(SOURCES)
        )
    )


def existing_copy(req: Request) -> tuple[str, Path] | None:
    """A complete local copy of the requested model, if any (whole-model requests only)."""
    spec = req.spec
    if req.file is not None or spec is None or spec.is_random or req.force:
        return None
    from demo_core.discovery import locate_any

    return locate_any(spec)


def download(
    req: Request,
    *,
    meter: Meter | None = None,
    check: Callable[[], None] = lambda: None,
    on_plan: Callable[[RepoPlan], None] = lambda plan: None,
) -> Result:
    """Plan and run ``req``; raises :class:`DownloadError` subclasses with clear messages."""
    dest = req.destination
    found = existing_copy(req)
    if found is not None:
        return Result(dest=found[1], existing=found)
    if is_git_route(req):
        from demo_core.download.git_route import clone

        return clone(req.repo_id, dest, revision=req.revision, meter=meter, check=check)
    source = make_source(req)
    revision = req.revision or ("master" if req.source == "modelscope" else "main")
    plan = source.plan(req.repo_id, revision=revision, only=req.file, check=check)
    skips = req.spec.extra.get("skip_files", ()) if req.spec is not None and not req.file else ()
    if skips:
        from demo_core.download import rules

        plan.skipped += [f.path for f in plan.files if rules.spec_skips(f.path, skips)]
        plan.files = [f for f in plan.files if not rules.spec_skips(f.path, skips)]
    on_plan(plan)
    check()
    return run_plan(
        plan,
        dest,
        headers=source.headers(),
        timeout=req.timeout,
        meter=meter,
        check=check,
        mark_folder=req.file is None,
        retries=req.retries,
    )
