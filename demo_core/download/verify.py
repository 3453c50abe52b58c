"""Check a downloaded file against what the hub says it is.

For LFS files (weights, ``tokenizer.model``) the hub's ``X-Linked-Etag`` *is* the file's
sha256; for small files kept in git the ``ETag`` is the git blob sha1
(``sha1("blob <size>\\0" + content)``). Either way a finished file can be proven intact,
which ``hf_hub_download`` itself does not do (it checks the size only).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from demo_core.download.errors import CorruptFile
from demo_core.i18n import _

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
GIT_SHA1_RE = re.compile(r"^[0-9a-f]{40}$")
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Expected:
    """What the server announced for one file; any field may be unknown."""

    size: int | None = None
    sha256: str | None = None
    git_sha1: str | None = None

    @classmethod
    def from_etag(cls, etag: str | None, size: int | None) -> Expected:
        etag = (etag or "").removeprefix("W/").strip('"').lower()
        if SHA256_RE.match(etag):
            return cls(size=size, sha256=etag)
        if GIT_SHA1_RE.match(etag):
            return cls(size=size, git_sha1=etag)
        return cls(size=size)

    @property
    def checkable(self) -> str:
        """Human words for what will be checked (shown in the UI's file table)."""
        if self.sha256:
            return "size + sha256"
        if self.git_sha1:
            return "size + git sha1"
        return "size" if self.size is not None else "nothing announced"


def git_blob_sha1_prefix(size: int) -> bytes:
    return f"blob {size}\0".encode()


class Hasher:
    """Hashes bytes as they stream in, so a 17 GB file is not read twice."""

    def __init__(self, expected: Expected) -> None:
        self.expected = expected
        self.sha256 = hashlib.sha256() if expected.sha256 else None
        self.sha1 = None
        if expected.git_sha1 and expected.size is not None:
            self.sha1 = hashlib.sha1(git_blob_sha1_prefix(expected.size))
        self.nbytes = 0

    def update(self, chunk: bytes) -> None:
        self.nbytes += len(chunk)
        if self.sha256 is not None:
            self.sha256.update(chunk)
        if self.sha1 is not None:
            self.sha1.update(chunk)

    def feed_file(self, path: Path, limit: int | None = None) -> None:
        """Hash an existing prefix (a resumed ``.incomplete`` file)."""
        with open(path, "rb") as f:
            left = limit
            while left is None or left > 0:
                chunk = f.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    break
                self.update(chunk)
                if left is not None:
                    left -= len(chunk)

    def check(self, name: str) -> None:
        exp = self.expected
        if exp.size is not None and self.nbytes != exp.size:
            raise CorruptFile(
                _(
                    "{name}: got {got} bytes but the hub announced {size}. The partial file was "
                    "removed; start the download again."
                ).format(name=name, got=self.nbytes, size=exp.size)
            )
        if self.sha256 is not None and self.sha256.hexdigest() != exp.sha256:
            raise CorruptFile(
                _(
                    "{name}: sha256 {got}… does not match the hub's {want}… (corrupted in transit "
                    "or a bad mirror). The file was removed; try again or use another endpoint."
                ).format(name=name, got=self.sha256.hexdigest()[:12], want=exp.sha256[:12])
            )
        if self.sha1 is not None and self.sha1.hexdigest() != exp.git_sha1:
            raise CorruptFile(
                _(
                    "{name}: git sha1 does not match the hub's ETag {want}…. The file was "
                    "removed; try again or use another endpoint."
                ).format(name=name, want=exp.git_sha1[:12])
            )


def verify_file(path: Path, expected: Expected) -> None:
    """Raise :class:`CorruptFile` unless ``path`` matches ``expected``."""
    path = Path(path)
    if expected.size is not None and path.stat().st_size != expected.size:
        raise CorruptFile(
            _("{name}: {got} bytes on disk, the hub announced {size}").format(
                name=path.name, got=path.stat().st_size, size=expected.size
            )
        )
    h = Hasher(expected)
    if h.sha256 is not None or h.sha1 is not None:
        h.feed_file(path)
    else:
        h.nbytes = path.stat().st_size
    h.check(path.name)
