"""Plan a download from OpenXLab (浦源), the lesson's third model site.

What the official ``openxlab`` package (0.1.3, read from its wheel; not a dependency: it
pins ``requests~=2.28.2``, ``setuptools~=60.2.0``, ``rich~=13.4.2``, ``tqdm~=4.65.0``,
``filelock~=3.14.0``, ``packaging~=24.0``, ``pytz~=2023.3`` and ``oss2`` -- installing it
downgrades libraries the app uses) does for ``openxlab.model.download(model_repo, model_name,
output)``:

* ``POST {endpoint}/model-center/api/v1/cli/repository/getFileDownloadUrl`` (endpoint
  ``https://openapi.openxlab.org.cn/api/v1``) with JSON ``{"userName", "repositoryName",
  "modelNames": [names] | null, "filePaths": [paths] | null, "clientFrom", "ignore"}``;
* the answer is wrapped twice: ``{"msgCode": "10000", "msg", "traceId", "data": {"msgCode":
  "10000", "msg", "traceId", "data": {"modelNames": {name: {url, fileName, hash}},
  "filePaths": {path: {url, fileName, hash}}}}}`` -- any other ``msgCode`` is an error whose
  ``msg`` says why, on an HTTP 200;
* each ``url`` is a signed object-storage link, fetched with a plain GET (no resume, no
  check: the package reads ``hash`` and discards it);
* auth: ``Authorization: <jwt>`` (no "Bearer"), the JWT that ``openxlab login`` obtains from
  an access key / secret key pair and keeps in ``~/.openxlab``; public models need none.
  Repository metadata: ``queryModelRepoInfo`` / ``getRepositoryModelList`` (POST
  ``{"userName", "repoName"}``).

Here the same request lists the files (``filePaths: null`` asks for all of them); every
file then goes through the shared resumable, verified fetcher. Sizes come from a one-byte
ranged GET (``Content-Range: bytes 0-0/<size>``: a signed GET link refuses HEAD); ``hash``
is checked when it is a sha256. Links expire, so a resumed download plans again and gets
fresh ones.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

from huggingface_hub.utils import get_session

from demo_core.download._http import httpx as httpx2
from demo_core.download.errors import AccessDenied, DownloadError, EndpointUnreachable, NotFound
from demo_core.download.plan import RemoteFile
from demo_core.download.source import Listing, Source
from demo_core.download.verify import SHA256_RE, Expected
from demo_core.i18n import _

DEFAULT_ENDPOINT = "https://openapi.openxlab.org.cn/api/v1"
SITE = "https://openxlab.org.cn"
DOWNLOAD_PATH = "/model-center/api/v1/cli/repository/getFileDownloadUrl"
OK = "10000"
GIT_HOST = "https://code.openxlab.org.cn"


def normalise_endpoint(endpoint: str | None) -> str:
    raw = (endpoint or "").strip().rstrip("/") or DEFAULT_ENDPOINT
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise DownloadError(
            _("{raw!r} is not an endpoint URL; use e.g. {default} (http:// or https://).").format(
                raw=raw, default=DEFAULT_ENDPOINT
            )
        )
    return raw


def split_repo(repo_id: str) -> tuple[str, str]:
    owner, _sep, name = repo_id.strip().strip("/").partition("/")
    if not owner or not name or "/" in name:
        raise DownloadError(
            _("{repo!r} is not an OpenXLab repository id like 'OpenLMLab/InternLM-7b'.").format(
                repo=repo_id
            )
        )
    return owner, name


class OpenXLabSource(Source):
    """The token goes to the API only: the file GETs (the inherited ``headers()``) are to
    signed links, which carry their own authorisation."""

    name = "openxlab"
    normalise_endpoint = staticmethod(normalise_endpoint)

    def _api_headers(self) -> dict[str, str]:
        h = {**self.headers(), "accept": "application/json"}
        if self.token:
            h["Authorization"] = self.token  # the package sends the bare JWT
        return h

    def download_urls(self, repo_id: str, paths: list[str] | None = None) -> dict[str, dict]:
        """``{path: {url, fileName, hash}}`` for ``paths`` (every file when None)."""
        owner, name = split_repo(repo_id)
        payload = {
            "userName": owner,
            "repositoryName": name,
            "modelNames": None,
            "filePaths": paths,
            "clientFrom": "0",
            "ignore": None,
        }
        url = self.endpoint + DOWNLOAD_PATH
        try:
            resp = get_session().post(
                url, json=payload, headers=self._api_headers(), timeout=self._timeout()
            )
        except httpx2.TimeoutException:
            raise EndpointUnreachable(
                _(
                    "OpenXLab at {endpoint} did not answer in time while listing {repo}. Check "
                    "the network, or download from ModelScope / Hugging Face instead."
                ).format(endpoint=self.endpoint, repo=repo_id)
            ) from None
        except httpx2.HTTPError as exc:
            raise EndpointUnreachable(
                _(
                    "Cannot reach OpenXLab at {endpoint} ({kind}: {exc}). This machine may be "
                    "offline; check the network or pick another source."
                ).format(endpoint=self.endpoint, kind=type(exc).__name__, exc=exc)
            ) from None
        if resp.status_code in (401, 403):
            raise self.denied(repo_id, f"HTTP {resp.status_code}")
        if resp.status_code == 404:
            raise NotFound(
                _(
                    "{endpoint} has no OpenXLab model API (HTTP 404). Check the endpoint URL."
                ).format(endpoint=self.endpoint)
            )
        if resp.status_code >= 400:
            raise DownloadError(
                _("OpenXLab answered HTTP {status} while listing {repo}; try again later.").format(
                    status=resp.status_code, repo=repo_id
                )
            )
        try:
            body = json.loads(resp.content)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise DownloadError(
                _(
                    "{endpoint} did not answer like OpenXLab's API (no JSON). Check the endpoint "
                    "URL; a proxy or login page may be in the way."
                ).format(endpoint=self.endpoint)
            )
        inner = self._unwrap(body, repo_id)
        files = inner.get("filePaths") if isinstance(inner, dict) else None
        models = inner.get("modelNames") if isinstance(inner, dict) else None
        out: dict[str, dict] = {}
        for table in (files, models):
            if isinstance(table, dict):
                for key, entry in table.items():
                    if isinstance(entry, dict) and entry.get("url"):
                        out[str(entry.get("fileName") or key)] = entry
        if not out and not isinstance(files, dict):
            raise DownloadError(
                _(
                    "OpenXLab's answer for {repo} has no file list; the API may have changed."
                ).format(repo=repo_id)
            )
        return out

    def _unwrap(self, body: dict, repo_id: str) -> dict:
        """The payload inside both ``msgCode`` envelopes, or the error they carry."""
        layer: object = body
        for _depth in range(2):
            if not isinstance(layer, dict):
                break
            code = str(layer.get("msgCode", OK))
            if code != OK:
                raise self._error(repo_id, code, str(layer.get("msg") or ""), layer.get("traceId"))
            layer = layer.get("data")
        return layer if isinstance(layer, dict) else {}

    def _error(self, repo_id: str, code: str, msg: str, trace: object) -> DownloadError:
        low = msg.lower()
        detail = f"{msg} (msgCode {code}" + (f", traceId {trace})" if trace else ")")
        if "not exist" in low or "not found" in low or "不存在" in msg:
            return NotFound(
                _(
                    "{repo} was not found on OpenXLab: {detail}. Check the repository id (it is "
                    "case sensitive, e.g. OpenLMLab/InternLM-chat-7b)."
                ).format(repo=repo_id, detail=detail)
            )
        if any(w in low for w in ("auth", "permission", "login", "token", "forbidden")) or (
            "权限" in msg or "登录" in msg
        ):
            return self.denied(repo_id, detail)
        return DownloadError(
            _("OpenXLab could not list {repo}: {detail}").format(repo=repo_id, detail=detail)
        )

    def denied(self, repo_id: str, detail: str) -> AccessDenied:
        if self.token:
            return AccessDenied(
                _(
                    "{repo}: OpenXLab rejected the access token ({detail}): it is wrong or "
                    "expired. Log in again (openxlab login) and paste the new token."
                ).format(repo=repo_id, detail=detail)
            )
        return AccessDenied(
            _(
                "{repo}: OpenXLab denied access without a token ({detail}). The model is private "
                "or needs you logged in: enter your OpenXLab token."
            ).format(repo=repo_id, detail=detail)
        )

    def size_of(self, url: str) -> int | None:
        """The file's size from a one-byte ranged GET (signed GET links refuse HEAD)."""
        try:
            with get_session().stream(
                "GET",
                url,
                headers={**self.headers(), "Range": "bytes=0-0", "Accept-Encoding": "identity"},
                timeout=self._timeout(),
            ) as resp:
                rng = resp.headers.get("Content-Range", "")
                m = re.fullmatch(r"bytes \d+-\d+/(\d+)", rng.strip())
                if resp.status_code == 206 and m:
                    return int(m.group(1))
                if resp.status_code == 200 and resp.headers.get("Content-Length"):
                    return int(resp.headers["Content-Length"])
        except (httpx2.HTTPError, ValueError):
            return None
        return None

    def list_repo(self, repo_id: str, revision: str, only: str | None) -> Listing:
        """The signed links of every file, or of ``only`` alone."""
        return Listing(repo_id, revision, self.download_urls(repo_id, [only] if only else None))

    def not_listed(self, listing: Listing, only: str | None) -> str:
        return _("{repo} has no file {file!r} on OpenXLab.").format(repo=listing.repo_id, file=only)

    def nothing_fetched(self, listing: Listing) -> str:
        return _("{repo} lists no weight/tokenizer/config files on OpenXLab.").format(
            repo=listing.repo_id
        )

    def describe(self, listing: Listing, path: str) -> RemoteFile:
        """The signed link; its size from a one-byte GET, the ``hash`` when it is a sha256."""
        entry = listing.files[path]
        sha = str(entry.get("hash") or "").lower()
        expected = Expected(
            size=self.size_of(entry["url"]), sha256=sha if SHA256_RE.match(sha) else None
        )
        return RemoteFile(path=path, url=entry["url"], expected=expected)
