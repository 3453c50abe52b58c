"""What the Models page's download form holds, turned into a :class:`Request`.

The form's fields arrive as typed (blank, padded with spaces); this is the one place
that decides what a blank field means, both for the request that starts the job and for
the "How it works" panel that shows the same download as code, so the two never differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from demo_core import settings
from demo_core.download.api import Request
from demo_core.download.errors import DownloadError
from demo_core.i18n import _
from demo_core.specs import SPECS


class FormError(ValueError):
    """The form cannot start a download; the message says what to fill in."""


@dataclass(frozen=True)
class DownloadForm:
    model: str  # a model key or a repository id, as typed
    one_file: bool  # "One file" (else the whole model)
    file: str  # the file's name (one file only)
    source: str
    endpoint: str | None
    token: str = ""
    revision: str = ""
    dest: str = ""
    timeout: float = 0.0
    force: bool = False

    @property
    def repo(self) -> str:
        return (self.model or "").strip()

    @property
    def filename(self) -> str | None:
        """The one file asked for; None for the whole model, or when none is named."""
        return (self.file or "").strip() or None if self.one_file else None

    @property
    def endpoint_url(self) -> str | None:
        return (self.endpoint or "").strip() or None

    def hf_repo(self) -> str:
        """The id on the hub: a model key's own, else what was typed."""
        spec = SPECS.get(self.repo)
        return spec.hf_id if spec else self.repo

    def destination(self) -> str:
        """The folder typed, else where the download lands by default: the request's own
        :attr:`Request.destination` for what was typed (stripped as the request strips it),
        or a folder ``model`` while the repository id is not one yet."""
        if self.dest.strip():
            return self.dest.strip()
        try:
            return str(Request(model=self.repo, source=self.source).destination)
        except DownloadError:
            return str(settings.models_dir() / "model")

    def request(self) -> Request:
        """The request to start, or :class:`FormError` for a form that names no
        repository, or asks for one file without naming it."""
        if not self.repo:
            raise FormError(_("Enter a repository id such as internlm/internlm2-chat-1_8b."))
        req = Request(
            model=self.model.strip(),
            file=self.filename,
            source=self.source,
            endpoint=self.endpoint_url,
            token=self.token.strip() or None,
            revision=self.revision.strip() or None,
            dest=Path(self.dest.strip()).expanduser() if self.dest.strip() else None,
            timeout=float(self.timeout),
            force=self.force,
        )
        if self.one_file and req.file is None:
            raise FormError(_("Enter the name of the file to download, e.g. config.json."))
        return req
