"""Fetch one file over HTTP into ``<name>.incomplete``, resumable, cancellable, verified.

The partial file survives a cut connection, a Cancel and a crash: the next attempt sends
``Range: bytes=<have>-`` and appends, provided the server still announces the same file
(:mod:`demo_core.download.partial`; a changed file starts from zero). A server that
ignores Range and answers 200 gets the file rewritten from the start. Bytes are hashed
while they stream, and the finished file is renamed into place only after its size and
checksum match -- so a folder never holds a half-written weight file under its real name.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from huggingface_hub.utils import get_session

from demo_core.download import partial
from demo_core.download._http import httpx as httpx2
from demo_core.download.destination import os_error
from demo_core.download.errors import Cancelled, CorruptFile, DownloadError, EndpointUnreachable
from demo_core.download.plan import RemoteFile
from demo_core.download.progress import fmt_bytes
from demo_core.download.verify import Hasher
from demo_core.i18n import _

INCOMPLETE = ".incomplete"

Progress = Callable[[int], None]  # called with the number of new bytes on disk
Check = Callable[[], None]  # raises Cancelled when the user asked to stop
T = TypeVar("T")


def incomplete_path(target: Path) -> Path:
    return target.with_name(target.name + INCOMPLETE)


def fetch_file(
    remote: RemoteFile,
    target: Path,
    *,
    headers: dict[str, str],
    timeout: float,
    on_bytes: Progress = lambda n: None,
    check: Check = lambda: None,
    retries: int = 3,
    backoff: float = 0.3,
) -> Path:
    """Download ``remote`` to ``target`` (resuming ``target.incomplete``), verify, rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = incomplete_path(target)
    hasher = Hasher(remote.expected)
    have = partial.claim(part, remote.expected)  # 0 for a partial of another version
    size = remote.expected.size
    if have:
        hasher.feed_file(part)
    attempt = 0
    while size is None or hasher.nbytes < size:
        check()
        before = hasher.nbytes
        try:
            if _stream_into(remote, part, hasher, headers, timeout, on_bytes, check):
                break  # 416: the partial file already holds every byte
            if size is None or hasher.nbytes >= size:
                break
            failure = _("the server closed the body early")
        except (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError) as exc:
            failure = type(exc).__name__
        attempt = 1 if hasher.nbytes > before else attempt + 1  # keep going while bytes flow
        if attempt > retries:
            raise EndpointUnreachable(
                _(
                    "{file}: the download keeps failing ({failure}). {size} are kept; start it "
                    "again to resume where it stopped."
                ).format(file=remote.path, failure=failure, size=fmt_bytes(hasher.nbytes))
            )
        time.sleep(backoff * max(attempt, 1))
    try:
        hasher.check(remote.path)
    except CorruptFile:
        part.unlink(missing_ok=True)
        partial.release(part)
        raise
    part.touch()  # an empty file has no body to write
    os.replace(part, target)
    partial.release(part)
    return target


def _stream_into(
    remote: RemoteFile,
    part: Path,
    hasher: Hasher,
    headers: dict[str, str],
    timeout: float,
    on_bytes: Progress,
    check: Check,
) -> bool:
    """One GET, appending to ``part``; True only when a 416 says nothing is missing."""
    have = hasher.nbytes
    req_headers = {**headers, "Accept-Encoding": "identity"}
    if have:
        req_headers["Range"] = f"bytes={have}-"
    tmo = httpx2.Timeout(timeout, connect=min(timeout, 5.0))
    with get_session().stream("GET", remote.url, headers=req_headers, timeout=tmo) as resp:
        if resp.status_code == 416 and have and have == remote.expected.size:
            return True
        if resp.status_code >= 400:
            from huggingface_hub.utils import hf_raise_for_status

            from demo_core.download.hub import translate_error

            try:
                hf_raise_for_status(resp)
            except Exception as exc:
                sent = "authorization" in resp.request.headers  # dropped on a CDN redirect
                raise translate_error(exc, remote.path, str(resp.url), token_sent=sent) from None
            raise DownloadError(f"{remote.path}: HTTP {resp.status_code}")
        append = True
        if have and resp.status_code != 206:  # Range ignored: start over
            hasher.__init__(hasher.expected)
            on_bytes(-have)
            append = False
        fd = _disk(remote, part, lambda: _open_part(part, append))
        try:
            # No chunk_size: a re-chunking buffer would lose its bytes when the link is cut.
            for chunk in resp.iter_bytes():
                check()
                if not chunk:
                    continue
                _disk(remote, part, lambda c=chunk: _write_all(fd, c))
                hasher.update(chunk)
                on_bytes(len(chunk))
                size = hasher.expected.size
                if size is not None and hasher.nbytes > size:
                    break  # more than announced: verification will reject it
        finally:
            os.close(fd)
    return False


def _open_part(part: Path, append: bool) -> int:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    return os.open(part, flags, 0o644)


def _write_all(fd: int, data: bytes) -> None:
    """Unbuffered on purpose: a chunk hashed and counted is already with the kernel, and a
    full disk fails on that chunk's write instead of at some later flush or close."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _disk(remote: RemoteFile, part: Path, op: Callable[[], T]) -> T:
    """Run a write to ``part``; a full disk or a permission problem becomes a clear
    :class:`DownloadError` that says the partial file is kept, not 'Unexpected OSError'."""
    try:
        return op()
    except OSError as exc:
        doing = _("write {file} in {folder}").format(file=remote.path, folder=part.parent)
        raise os_error(exc, doing, partial_kept=True) from None


__all__ = ["Cancelled", "fetch_file", "incomplete_path"]
