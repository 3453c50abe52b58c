"""Keep an agent session's files in step with what the browser's uploader holds.

Streamlit's uploader hands over every file it holds on every run; the session must
take each new file once, drop a file the user removed before the model saw it, and keep
saying why a file was refused for as long as it sits in the uploader. That bookkeeping
needs no Streamlit, so it lives here, on two plain dicts the page keeps per browser
session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from demo_core.agent.session import AgentSession
from demo_core.agent.uploads import UploadError
from demo_core.i18n import _


class Upload(Protocol):
    """What is read of an uploaded file (Streamlit's ``UploadedFile`` has it)."""

    file_id: str
    name: str

    def getvalue(self) -> bytes: ...


@dataclass
class Mirrored:
    """What one sync has to say: ``notes`` once, as ``(level, text)`` with level an
    ``st`` notice name ("info", "success"); ``errors`` on every run, one per refused
    file still in the uploader."""

    notes: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def mirror_uploads(
    session: AgentSession,
    uploads: Sequence[Upload],
    seen: dict[str, str | None],
    errors: dict[str, str],
) -> Mirrored:
    """Bring ``session`` in step with ``uploads``: new files are checked and stored once;
    a file removed from the uploader before the model saw it is removed from the session
    too; a refused file keeps its reason while it stays in the uploader.

    ``seen`` (file id -> saved name, None when refused) and ``errors`` (file id -> why)
    are the caller's, kept between runs and updated here."""
    out = Mirrored()
    current = {up.file_id for up in uploads}
    for file_id in [f for f in seen if f not in current]:
        name = seen.pop(file_id)
        errors.pop(file_id, None)
        if name and session.withdraw_pending(name):
            out.notes.append(("info", _("{name} was removed.").format(name=name)))
    for up in uploads:
        if up.file_id in seen:
            continue
        try:
            info = session.add_upload(up.name, up.getvalue())
        except UploadError as exc:
            seen[up.file_id] = None
            errors[up.file_id] = str(exc)
            continue
        seen[up.file_id] = info.name
        out.notes.append(
            (
                "success",
                _("{name} is ready ({note}). Ask a question about it.").format(
                    name=info.name, note=info.note
                ),
            )
        )
    out.errors = [errors[file_id] for file_id in current if file_id in errors]
    return out
