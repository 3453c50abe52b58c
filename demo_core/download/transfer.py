"""Carry out a :class:`RepoPlan` into a destination folder, safely.

Order matters: reuse what is already there and verified, check free disk space for the
rest *before* writing a byte, mark the folder ``.download-in-progress`` (discovery never
offers a marked folder as a model), fetch file by file, and only then remove the marker.
A manifest of verified files lets a resumed or repeated download skip re-hashing
gigabytes that were already proven intact.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from demo_core.download import destination, partial, rules
from demo_core.download.errors import CorruptFile, DownloadError, NotEnoughDiskSpace
from demo_core.download.fetch import fetch_file, incomplete_path
from demo_core.download.plan import RemoteFile, RepoPlan
from demo_core.download.progress import Meter, fmt_bytes
from demo_core.download.verify import Expected, verify_file
from demo_core.i18n import _

MARKER = ".download-in-progress"
MANIFEST = ".studio-download.json"
DISK_MARGIN = 64 * 1024 * 1024  # keep a little room so the machine does not fill up to 0


@dataclass
class Result:
    dest: Path
    files: list[Path] = field(default_factory=list)
    downloaded_bytes: int = 0
    reused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    commit: str | None = None
    existing: tuple[str, Path] | None = None  # a complete copy found elsewhere; nothing fetched


def free_bytes(folder: Path) -> int:
    """Free space where ``folder`` will live (its nearest existing ancestor)."""
    probe = Path(folder).resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _manifest(dest: Path) -> dict[str, dict]:
    try:
        data = json.loads((dest / MANIFEST).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_manifest(dest: Path, data: dict[str, dict]) -> None:
    tmp = dest / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, dest / MANIFEST)


def _record(exp: Expected) -> dict:
    return {"size": exp.size, "sha256": exp.sha256, "git_sha1": exp.git_sha1}


def _already_there(target: Path, remote: RemoteFile, manifest: dict[str, dict]) -> bool:
    """Is ``target`` the announced file? Trust the manifest, else hash it once."""
    if not target.is_file():
        return False
    exp = remote.expected
    if exp.size is not None and target.stat().st_size != exp.size:
        return False
    if manifest.get(remote.path) == _record(exp) and exp.size is not None:
        return True
    try:
        verify_file(target, exp)
    except CorruptFile:
        return False
    return True


def run_plan(
    plan: RepoPlan,
    dest: Path,
    *,
    headers: dict[str, str],
    timeout: float,
    meter: Meter | None = None,
    check: Callable[[], None] = lambda: None,
    mark_folder: bool = True,
    retries: int = 3,
) -> Result:
    dest = Path(dest)
    meter = meter or Meter()
    result = Result(dest=dest, skipped=list(plan.skipped), commit=plan.commit)
    manifest = _manifest(dest) if dest.is_dir() else {}
    pending: list[tuple[RemoteFile, Path]] = []
    already = 0
    for remote in plan.files:
        target = rules.target_path(dest, remote.path)
        if _already_there(target, remote, manifest):
            result.reused.append(remote.path)
            result.files.append(target)
            already += target.stat().st_size
            manifest[remote.path] = _record(remote.expected)
            continue
        already += partial.resumable(incomplete_path(target), remote.expected)
        pending.append((remote, target))

    need = sum(
        max(0, (r.size or 0) - partial.resumable(incomplete_path(t), r.expected))
        for r, t in pending
    )
    if pending:
        # Create first: free space of a folder that cannot exist is meaningless (/proc: 0 B).
        created = destination.prepare(dest)
        free = free_bytes(dest)
        if need + DISK_MARGIN > free:
            destination.undo(created)
            raise NotEnoughDiskSpace(
                _(
                    "Not enough disk space in {folder}: the download needs {need} more "
                    "(plus {margin} headroom) but only {free} are free. "
                    "Free some space or choose another destination folder."
                ).format(
                    folder=dest,
                    need=fmt_bytes(need),
                    margin=fmt_bytes(DISK_MARGIN),
                    free=fmt_bytes(free),
                )
            )
    meter.start(plan.total_bytes or None, len(plan.files), already)

    def fetch(remote: RemoteFile, target: Path) -> Path:
        check()
        return fetch_file(
            remote,
            target,
            headers=headers,
            timeout=timeout,
            on_bytes=meter.add,
            check=check,
            retries=retries,
        )

    try:
        _fetch_pending(plan, dest, pending, result, manifest, meter, mark_folder, fetch)
    except OSError as exc:  # the marker or manifest; the fetcher words its own writes
        raise destination.os_error(
            exc, _("write the download in {folder}").format(folder=dest), partial_kept=True
        ) from None
    if not result.files:
        raise DownloadError(_("nothing was downloaded"))
    return result


def _fetch_pending(
    plan: RepoPlan,
    dest: Path,
    pending: list[tuple[RemoteFile, Path]],
    result: Result,
    manifest: dict[str, dict],
    meter: Meter,
    mark_folder: bool,
    fetch: Callable[[RemoteFile, Path], Path],
) -> None:
    """Mark the folder, fetch each pending file, record it verified, unmark."""
    if pending and mark_folder:
        (dest / MARKER).write_text(
            json.dumps(
                {
                    "repo_id": plan.repo_id,
                    "source": plan.source,
                    "endpoint": plan.endpoint,
                    "commit": plan.commit,
                    "started": time.time(),
                }
            )
        )
    for i, (remote, target) in enumerate(pending):
        meter.file(remote.path, len(result.reused) + i)
        before = meter.snapshot().done
        fetch(remote, target)
        result.downloaded_bytes += meter.snapshot().done - before
        result.files.append(target)
        manifest[remote.path] = _record(remote.expected)
        _save_manifest(dest, manifest)
    if result.reused and not pending:
        _save_manifest(dest, manifest)
    meter.file("", len(plan.files))
    if mark_folder:
        (dest / MARKER).unlink(missing_ok=True)
