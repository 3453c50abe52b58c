"""Tie a ``<name>.incomplete`` file to the version of the file it is the beginning of.

Resuming appends to whatever bytes are on disk. If the file changed on the server
since (same name, new content), those bytes belong to the old version: appending the
new version's tail makes a file that fails the sha256 check -- but only after the whole
rest was downloaded, possibly gigabytes. So before the first byte is written, what the
server announced (size, sha256, git sha1) is stored next to the partial in
``<name>.incomplete.meta``; a later run resumes only when the announcement is the same,
and otherwise starts that file from zero.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from demo_core.download.verify import Expected

SUFFIX = ".meta"


def sidecar_path(part: Path) -> Path:
    return part.with_name(part.name + SUFFIX)


def announced(expected: Expected) -> dict | None:
    """What identifies the file's version; ``None`` when the server told nothing."""
    rec = {"size": expected.size, "sha256": expected.sha256, "git_sha1": expected.git_sha1}
    return rec if any(v is not None for v in rec.values()) else None


def _saved(part: Path) -> dict | None:
    try:
        data = json.loads(sidecar_path(part).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def resumable(part: Path, expected: Expected) -> int:
    """How many bytes of ``part`` a resume may keep: 0 when they belong to another
    version of the file. Reads only; :func:`claim` acts on the answer."""
    if not part.is_file():
        return 0
    have = part.stat().st_size
    if expected.size is not None and have > expected.size:
        return 0
    saved, now = _saved(part), announced(expected)
    if saved is None or now is None:
        # A partial from before sidecars existed, or a server that announces nothing:
        # nothing to compare, and the final check still rejects a wrong file.
        return have
    return have if saved == now else 0


def claim(part: Path, expected: Expected) -> int:
    """Before writing: drop a partial of another version, record this version next to
    the partial, and return the number of bytes to resume from."""
    have = resumable(part, expected)
    if not have:
        part.unlink(missing_ok=True)
    now = announced(expected)
    if now is None:
        release(part)
        return have
    meta = sidecar_path(part)
    tmp = meta.with_name(meta.name + ".tmp")
    tmp.write_text(json.dumps(now))
    os.replace(tmp, meta)
    return have


def release(part: Path) -> None:
    """The partial is gone (renamed into place, or rejected): its record goes too."""
    sidecar_path(part).unlink(missing_ok=True)
