"""Plan a download from ModelScope (魔搭), the source most lesson machines in China reach.

BaJie-Chat-mini is published only there, so this path must work on a fresh install: it
speaks ModelScope's public HTTP API itself instead of needing the ``modelscope`` package
(hundreds of MB of dependencies for two GET requests):

* ``GET {endpoint}/api/v1/models/{id}/repo/files?Revision=R&Recursive=true`` lists every
  file with ``Path``, ``Type`` (``blob``/``tree``), ``Size`` and ``Sha256``, wrapped in
  ``{"Code": 200, "Data": {"Files": [...]}, "Success": true}``;
* ``GET {endpoint}/api/v1/models/{id}/repo?Revision=R&FilePath=P`` serves one file (it
  honours ``Range``, so the shared fetcher resumes), usually via a redirect to storage.

The bytes go through the same resumable, verified fetcher as the Hugging Face path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote, urlencode, urlparse

from huggingface_hub.utils import get_session

from demo_core.download._http import httpx as httpx2
from demo_core.download.errors import (
    AccessDenied,
    DownloadError,
    EndpointUnreachable,
    NotFound,
)
from demo_core.download.plan import RemoteFile
from demo_core.download.source import Listing, Source
from demo_core.download.verify import SHA256_RE, Expected
from demo_core.i18n import _

DEFAULT_ENDPOINT = "https://www.modelscope.cn"
DEFAULT_REVISION = "master"


def normalise_endpoint(endpoint: str | None) -> str:
    """A usable base URL (``modelscope.cn`` alone is accepted), or a clear error."""
    raw = (endpoint or "").strip().rstrip("/") or DEFAULT_ENDPOINT
    if "://" not in raw and "." in raw and " " not in raw:
        raw = f"https://{raw}"
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise DownloadError(
            _("{raw!r} is not an endpoint URL; use e.g. {default} (http:// or https://).").format(
                raw=raw, default=DEFAULT_ENDPOINT
            )
        )
    return raw


def file_url(endpoint: str, model_id: str, path: str, revision: str) -> str:
    query = urlencode({"Revision": revision, "FilePath": path})
    return f"{endpoint}/api/v1/models/{quote(model_id, safe='/')}/repo?{query}"


def files_url(endpoint: str, model_id: str, revision: str) -> str:
    query = urlencode({"Revision": revision, "Recursive": "true"})
    return f"{endpoint}/api/v1/models/{quote(model_id, safe='/')}/repo/files?{query}"


class ModelScopeSource(Source):
    name = "modelscope"
    normalise_endpoint = staticmethod(normalise_endpoint)

    def headers(self) -> dict[str, str]:
        h = super().headers()
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def list_files(self, repo_id: str, revision: str) -> list[dict]:
        """Every file of the repository at ``revision``, as ModelScope describes it."""
        url = files_url(self.endpoint, repo_id, revision)
        try:
            resp = get_session().get(url, headers=self.headers(), timeout=self._timeout())
        except httpx2.TimeoutException:
            raise EndpointUnreachable(
                _(
                    "{endpoint} did not answer in time while listing {repo}. Check the network, "
                    "or download from Hugging Face / hf-mirror.com instead."
                ).format(endpoint=self.endpoint, repo=repo_id)
            ) from None
        except httpx2.HTTPError as exc:
            raise EndpointUnreachable(
                _(
                    "Cannot reach ModelScope at {endpoint} ({kind}: {exc}). This machine may be "
                    "offline; check the network or pick another source."
                ).format(endpoint=self.endpoint, kind=type(exc).__name__, exc=exc)
            ) from None
        body = _json_or_none(resp)
        message = _server_message(body)
        status = resp.status_code
        if status in (401, 403):
            raise self.denied(repo_id, f"HTTP {status}")
        if status == 404:
            raise NotFound(
                _(
                    "{repo} (revision {revision!r}) was not found on ModelScope at {endpoint}. "
                    "Check the model id and revision."
                ).format(repo=repo_id, revision=revision, endpoint=self.endpoint)
            )
        if status >= 400:
            detail = f": {message}" if message else ""
            raise DownloadError(
                _(
                    "ModelScope answered HTTP {status} while listing {repo}{detail}; try again "
                    "later."
                ).format(status=status, repo=repo_id, detail=detail)
            )
        if not isinstance(body, dict):
            raise DownloadError(
                _(
                    "{endpoint} did not answer like the ModelScope API (no JSON file listing). "
                    "Check the endpoint URL; a proxy or login page may be in the way."
                ).format(endpoint=self.endpoint)
            )
        return _files_from(body, repo_id, revision, self.denied)

    def denied(self, repo_id: str, detail: str) -> AccessDenied:
        """401/403 (or a 'no permission' Code), worded by whether a token was sent."""
        if self.token:
            return AccessDenied(
                _(
                    "{repo}: ModelScope rejected the access token ({detail}): it is wrong, "
                    "expired, or has no access to this model. Check the token (Account settings "
                    "→ Access Token on modelscope.cn) and enter it again."
                ).format(repo=repo_id, detail=detail)
            )
        return AccessDenied(
            _(
                "{repo}: ModelScope denied access without a token ({detail}). The model is "
                "private or needs a licence accepted on modelscope.cn: accept it there and enter "
                "an access token."
            ).format(repo=repo_id, detail=detail)
        )

    def list_repo(self, repo_id: str, revision: str, only: str | None) -> Listing:
        """The files (not folders) at ``revision``; "main" is ModelScope's "master"."""
        revision = DEFAULT_REVISION if revision in ("", "main") else revision
        blobs = {
            f["Path"]: f
            for f in self.list_files(repo_id, revision)
            if isinstance(f, dict) and f.get("Path") and f.get("Type", "blob") != "tree"
        }
        return Listing(repo_id, revision, blobs)

    def not_listed(self, listing: Listing, only: str | None) -> str:
        return _("{repo} has no file {file!r} on ModelScope (revision {revision}).").format(
            repo=listing.repo_id, file=only, revision=listing.revision
        )

    def nothing_fetched(self, listing: Listing) -> str:
        return _(
            "{repo} lists no weight/tokenizer/config files on ModelScope at {revision}."
        ).format(repo=listing.repo_id, revision=listing.revision)

    def describe(self, listing: Listing, path: str) -> RemoteFile:
        """From the listing alone: its ``Size`` and ``Sha256`` are what the file must be."""
        return RemoteFile(
            path=path,
            url=file_url(self.endpoint, listing.repo_id, path, listing.revision),
            expected=_expected(listing.files[path]),
        )


def _json_or_none(resp) -> object:
    try:
        return json.loads(resp.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _server_message(body: object) -> str:
    if isinstance(body, dict):
        return str(body.get("Message") or body.get("message") or "").strip()
    return ""


def _files_from(
    body: dict, repo_id: str, revision: str, denied: Callable[[str, str], AccessDenied]
) -> list[dict]:
    """The ``Files`` list, or the error ModelScope put in a 200 answer's ``Code``."""
    code = body.get("Code")
    if code not in (None, 200) or body.get("Success") is False:
        message = _server_message(body) or _("code {code}").format(code=code)
        low = message.lower()
        if "not exist" in low or "not found" in low or "不存在" in message:
            raise NotFound(
                _("{repo} (revision {revision!r}) was not found on ModelScope.").format(
                    repo=repo_id, revision=revision
                )
            )
        if "permission" in low or "auth" in low or "权限" in message:
            raise denied(repo_id, message)
        raise DownloadError(
            _("ModelScope could not list {repo}: {message}").format(repo=repo_id, message=message)
        )
    data = body.get("Data")
    files = data.get("Files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise DownloadError(
            _("ModelScope's answer for {repo} has no file list; the API may have changed.").format(
                repo=repo_id
            )
        )
    return files


def _expected(entry: dict) -> Expected:
    size = entry.get("Size")
    sha = str(entry.get("Sha256") or "").lower()
    return Expected(
        size=int(size) if isinstance(size, int) and size >= 0 else None,
        sha256=sha if SHA256_RE.match(sha) else None,
    )
