"""Find models that are already on disk, so nothing is downloaded twice.

Looks where lesson machines keep weights: a path the user set (environment variable or
settings), the app's models folder, extra folders listed in settings (``model_dirs``), the
InternStudio share folders (``/root/share/new_models/Shanghai_AI_Laboratory/...``), the
Hugging Face cache and the ModelScope cache. A folder counts only if it is complete enough
to load (config plus weights) -- a half-finished download (``.download-in-progress``
marker or ``*.incomplete`` files) is not a model, but it is reported so the Models page
can offer to resume it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from demo_core import settings
from demo_core.i18n import N_
from demo_core.specs import SPECS, ModelSpec, explicit_path, tiny_folder

SHARE_ROOTS = [
    Path("/root/share/new_models"),
    Path("/root/share/model_repos"),
    Path("/share/new_models"),
    Path("/share/model_repos"),
    Path("/root/models"),
]
MARKER = ".download-in-progress"


def is_complete(folder: Path) -> bool:
    from demo_core.internlm2.checkpoint import CheckpointError, weight_files

    if (folder / "model_index.json").is_file():  # a diffusers pipeline (text-to-image)
        from demo_core.xcomposer.t2i import is_diffusers_folder

        return is_diffusers_folder(folder) and not (folder / MARKER).exists()
    if not (folder / "config.json").is_file():
        return False
    try:
        weight_files(folder)
    except CheckpointError:
        return False
    return not any(folder.glob("*.incomplete")) and not (folder / MARKER).exists()


def is_partial_download(folder: Path) -> bool:
    """A folder a download started and did not finish (resumable)."""
    return folder.is_dir() and ((folder / MARKER).exists() or any(folder.glob("*.incomplete")))


def extra_roots() -> list[Path]:
    """Folders the user listed in settings.json under ``model_dirs``."""
    try:
        raw = settings.load().get("model_dirs", [])
    except settings.SettingsError:
        return []
    if isinstance(raw, str):
        raw = [raw]
    return [Path(str(p)).expanduser() for p in raw if str(p).strip()]


def modelscope_cache_root() -> Path:
    root = os.environ.get("MODELSCOPE_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "modelscope"


def candidate_folders(spec: ModelSpec) -> Iterator[tuple[str, Path]]:
    """``(where, folder)`` pairs in the order they are tried."""
    name = spec.folder_name
    ids = [i for i in (spec.hf_id, spec.modelscope_id) if i]
    yield N_("models folder"), settings.models_dir() / name
    for i in ids:
        yield N_("models folder"), settings.models_dir() / i
    for root in extra_roots():
        yield "settings model_dirs", root / name
        for i in ids:
            yield "settings model_dirs", root / i
    for root in SHARE_ROOTS:
        for i in ids:
            yield N_("InternStudio share"), root / i
        yield N_("InternStudio share"), root / name
    if spec.hf_id:
        for snap in hf_cache_snapshots(spec.hf_id):
            yield N_("Hugging Face cache"), snap
    ms = modelscope_cache_root()
    for i in ids:
        owner, _, repo = i.partition("/")
        for base in (ms / "hub", ms / "hub" / "models", ms / "models"):
            yield N_("ModelScope cache"), base / i
            # ModelScope stores dots in names as "___" (internlm2_5-7b → unchanged, x.y → x___y)
            if "." in repo:
                yield N_("ModelScope cache"), base / owner / repo.replace(".", "___")


def hf_cache_snapshots(repo_id: str) -> list[Path]:
    """Snapshot folders of ``repo_id`` in the HF cache: the ``main`` ref first, then others."""
    found: list[Path] = []
    try:
        from huggingface_hub import constants, try_to_load_from_cache
    except ImportError:
        return found
    hit = try_to_load_from_cache(repo_id, "config.json")
    if isinstance(hit, str):
        found.append(Path(hit).parent)
    snaps = Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--")) / "snapshots"
    if snaps.is_dir():
        for snap in sorted(snaps.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
            if snap not in found:
                found.append(snap)
    return found


def find_local_copy(spec: ModelSpec) -> Path | None:
    found = locate(spec)
    return found[1] if found else None


def locate(spec: ModelSpec) -> tuple[str, Path] | None:
    for where, folder in candidate_folders(spec):
        if folder.is_dir() and is_complete(folder):
            return where, folder
    return None


def locate_any(spec: ModelSpec) -> tuple[str, Path] | None:
    """Like :func:`locate`, but an explicit path (env var / settings) is tried first --
    the same order :func:`demo_core.specs.resolve_path` uses, with the reason attached."""
    explicit = explicit_path(spec)
    if explicit is not None:
        where = N_("environment variable") if os.environ.get(spec.env_var) else N_("settings path")
        return (where, explicit) if is_complete(explicit) else None
    return locate(spec)


def partial_download(spec: ModelSpec) -> Path | None:
    """An unfinished download of ``spec`` in the models folder, if one is waiting."""
    folder = settings.models_dir() / spec.folder_name
    return folder if is_partial_download(folder) else None


def folder_size(folder: Path) -> int:
    """Bytes on disk under ``folder`` (symlinks into the HF blob store followed)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            try:
                total += (Path(dirpath) / name).stat().st_size
            except OSError:
                pass
    return total


@dataclass(frozen=True)
class ModelStatus:
    spec: ModelSpec
    where: str | None  # None: not on this machine
    path: Path | None
    size_bytes: int
    partial: Path | None  # an unfinished download waiting to be resumed

    @property
    def present(self) -> bool:
        return self.path is not None


def status(spec: ModelSpec) -> ModelStatus:
    if spec.is_random:
        path = tiny_folder(spec)
        if is_complete(path):
            return ModelStatus(spec, N_("generated"), path, folder_size(path), None)
        return ModelStatus(spec, N_("generated on first use"), None, 0, None)
    found = locate_any(spec)
    if found is None:
        return ModelStatus(spec, None, None, 0, partial_download(spec))
    where, path = found
    return ModelStatus(spec, where, path, folder_size(path), None)


def all_status() -> list[ModelStatus]:
    return [status(spec) for spec in SPECS.values()]
