"""Which repository files a download may fetch, and where they may land.

Model repositories carry remote Python code (``modeling_*.py``) that this app never runs
(no ``trust_remote_code``), so it is never fetched either: only weights, tokenizer and
JSON configuration. File names come from a server, so they are also checked to stay
inside the destination folder.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from demo_core.i18n import _

ALLOWED_PATTERNS = (
    "*.safetensors",
    "*.bin",
    "*.json",
    "*.model",
    "tokenizer*",
    "merges.txt",  # byte-level BPE tokenizers (CLIP's, in diffusers pipelines)
)
NEVER = ("*.py", "*.pyc", "*.pyo", "*.so", "*.sh", "*.ipynb", "training_args.bin")


def is_allowed(repo_path: str) -> bool:
    """True for weights / tokenizer / config files, False for code and everything else."""
    name = PurePosixPath(repo_path).name
    if any(fnmatch.fnmatch(name, p) for p in NEVER):
        return False
    return any(fnmatch.fnmatch(name, p) for p in ALLOWED_PATTERNS)


def safe_relative(repo_path: str) -> PurePosixPath:
    """The repo path as a relative path that cannot escape the destination folder."""
    p = PurePosixPath(repo_path)
    if not repo_path or p.is_absolute() or any(part in ("..", "") for part in p.parts):
        raise ValueError(
            _("refusing unsafe file name from server: {name!r}").format(name=repo_path)
        )
    if "\\" in repo_path or any(part.startswith(".") for part in p.parts):
        raise ValueError(
            _("refusing unsafe file name from server: {name!r}").format(name=repo_path)
        )
    return p


def target_path(dest: Path, repo_path: str) -> Path:
    return Path(dest).joinpath(*safe_relative(repo_path).parts)


def select(listed: Iterable[str], only: str | None) -> tuple[list[str], list[str]]:
    """``(wanted, skipped)`` among a repository's files, the same for every source.

    ``only`` asks for one file, refused (``ValueError``) when it is not a file this app
    fetches; otherwise every allowed, safely named file is wanted and the rest skipped.
    """
    if only is not None:
        if not is_allowed(only):
            raise ValueError(
                _(
                    "{name} is not fetched: only weights (*.safetensors, *.bin), tokenizer "
                    "and JSON config files are -- never remote *.py code."
                ).format(name=repr(only))
            )
        return [only], []
    wanted: list[str] = []
    skipped: list[str] = []
    for name in sorted(listed):
        try:
            safe_relative(name)
        except ValueError:
            skipped.append(name)
            continue
        (wanted if is_allowed(name) else skipped).append(name)
    return wanted, skipped


def spec_skips(repo_path: str, patterns: Iterable[str]) -> bool:
    """True when a model's spec asks not to fetch ``repo_path`` (``extra["skip_files"]``:
    e.g. SD-Turbo's single-file copy of the whole pipeline and its fp32 duplicates)."""
    return any(fnmatch.fnmatch(repo_path, p) for p in patterns)
