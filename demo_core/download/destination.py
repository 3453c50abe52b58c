"""The destination folder of a download: made ready before any byte, and OS errors about it
put into words a student can act on.

Without this, three everyday mistakes surfaced badly: ``--dest`` naming an existing file
("Unexpected error: FileExistsError"), a folder that cannot be created, e.g. under
``/proc`` ("Not enough disk space … only 0 B are free", because ``disk_usage`` of a
pseudo file system says 0), and the disk filling up half-way ("Unexpected error:
OSError: [Errno 28]"). The folder is therefore created (and its writability probed)
*before* free space is measured, and any ``OSError`` while writing goes through
:func:`os_error`.
"""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

from demo_core.download.errors import BadDestination, DownloadError, NotEnoughDiskSpace
from demo_core.i18n import N_, _

FULL = {errno.ENOSPC, errno.EDQUOT}
CHOOSE = N_("Choose another destination folder (--dest, or 'Destination folder' on the page).")


def prepare(dest: Path) -> list[Path]:
    """Create ``dest`` and check it takes files; return the folders this call created,
    outermost first, so that a refusal right after (too little space) can remove them."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise BadDestination(
            _("{folder} is a file, not a folder. {choose}").format(folder=dest, choose=_(CHOOSE))
        )
    created: list[Path] = []
    probe = dest
    while not probe.exists() and probe != probe.parent:
        created.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        raise BadDestination(
            _("{folder} cannot be created: {file} is a file, not a folder. {choose}").format(
                folder=dest, file=probe, choose=_(CHOOSE)
            )
        )
    created.reverse()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        undo(created)
        raise os_error(exc, _("create the folder {folder}").format(folder=dest)) from None
    try:
        with tempfile.TemporaryFile(dir=dest):  # mode bits lie to root and on read-only mounts
            pass
    except OSError as exc:
        undo(created)
        raise os_error(exc, _("create files in {folder}").format(folder=dest)) from None
    return created


def undo(created: list[Path]) -> None:
    """Remove folders :func:`prepare` created, innermost first, if they are still empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            return


def os_error(exc: OSError, doing: str, *, partial_kept: bool = False) -> DownloadError:
    """Word an ``OSError`` raised while ``doing`` (a phrase naming the folder, e.g.
    "write config.json in /data/models/x", in the current language: it ends up in "Could
    not {doing}").

    ``partial_kept``: a ``.incomplete`` file holds what arrived, so starting again resumes.
    """
    reason = exc.strerror or str(exc)
    choose = _(CHOOSE)
    if exc.errno in FULL:
        what = (
            _("the disk quota is used up") if exc.errno == errno.EDQUOT else _("the disk is full")
        )
        if partial_kept:
            message = _(
                "Could not {doing}: {what} ({reason}). The partial file is kept; free space and "
                "start again to resume, or choose another destination folder."
            )
        else:
            message = _(
                "Could not {doing}: {what} ({reason}). Free some space and start again, or "
                "choose another destination folder."
            )
        return NotEnoughDiskSpace(message.format(doing=doing, what=what, reason=reason))
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        return BadDestination(
            _(
                "Could not {doing}: {reason} (no permission, or a read-only disk). {choose} "
                "A folder under your home directory works."
            ).format(doing=doing, reason=reason, choose=choose)
        )
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return BadDestination(
            _("Could not {doing}: a file is in the way ({reason}). {choose}").format(
                doing=doing, reason=reason, choose=choose
            )
        )
    return BadDestination(
        _("Could not {doing} ({reason}). {choose}").format(
            doing=doing, reason=reason, choose=choose
        )
    )
