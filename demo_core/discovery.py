"""Find models that are already on disk, so nothing is downloaded twice.

Looks where lesson machines keep weights: the app's models folder, the InternStudio
share folders, the Hugging Face cache and the ModelScope cache. A folder counts only if
it is complete enough to load (config plus weights) -- a half-finished download is not
a model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from demo_core import settings
from demo_core.specs import ModelSpec

SHARE_ROOTS = [
    Path("/root/share/new_models"),
    Path("/root/share/model_repos"),
    Path("/share/new_models"),
    Path("/share/model_repos"),
    Path("/root/models"),
]


def is_complete(folder: Path) -> bool:
    from demo_core.internlm2.checkpoint import CheckpointError, weight_files

    if not (folder / "config.json").is_file():
        return False
    try:
        weight_files(folder)
    except CheckpointError:
        return False
    return not any(folder.glob("*.incomplete")) and not (folder / ".download-in-progress").exists()


def candidate_folders(spec: ModelSpec) -> Iterator[tuple[str, Path]]:
    """``(where, folder)`` pairs in the order they are tried."""
    name = spec.folder_name
    ids = [i for i in (spec.hf_id, spec.modelscope_id) if i]
    yield "models folder", settings.models_dir() / name
    for i in ids:
        yield "models folder", settings.models_dir() / i
    for root in SHARE_ROOTS:
        for i in ids:
            yield "InternStudio share", root / i
        yield "InternStudio share", root / name
    if spec.hf_id:
        hf = hf_cache_snapshot(spec.hf_id)
        if hf:
            yield "Hugging Face cache", hf
    for i in ids:
        ms_root = Path.home() / ".cache" / "modelscope" / "hub"
        yield "ModelScope cache", ms_root / i
        yield "ModelScope cache", ms_root / "models" / i


def hf_cache_snapshot(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    hit = try_to_load_from_cache(repo_id, "config.json")
    return Path(hit).parent if isinstance(hit, str) else None


def find_local_copy(spec: ModelSpec) -> Path | None:
    found = locate(spec)
    return found[1] if found else None


def locate(spec: ModelSpec) -> tuple[str, Path] | None:
    for where, folder in candidate_folders(spec):
        if folder.is_dir() and is_complete(folder):
            return where, folder
    return None
