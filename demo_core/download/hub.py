"""Plan a download from a Hugging Face hub endpoint (official, a mirror, or any URL).

Uses ``huggingface_hub`` for everything that speaks the hub's protocol: ``HfApi.model_info``
(one call: the resolved commit plus every file with its size and LFS sha256),
``get_hf_file_metadata`` (the HEAD on ``/resolve/`` whose ``X-Linked-Etag`` / ``ETag`` /
``X-Linked-Size`` the files are verified against), ``hf_hub_url`` and its error classes.
The bytes themselves are fetched by :mod:`demo_core.download.fetch`, because
``hf_hub_download`` 2.x writes to a process-unique temporary file that it deletes on any
failure -- a cancelled or crashed 17 GB download would start again from zero.

``endpoint`` follows ``HF_ENDPOINT`` semantics: a base URL such as
``https://huggingface.co`` or ``https://hf-mirror.com``; ``/api/models/...`` and
``/{repo}/resolve/{rev}/{file}`` are appended to it.
"""

from __future__ import annotations

import json
from functools import cached_property
from urllib.parse import urlparse

from huggingface_hub import HfApi, get_hf_file_metadata, get_token, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import build_hf_headers

from demo_core.download._http import httpx as httpx2
from demo_core.download.errors import (
    AccessDenied,
    DownloadError,
    EndpointUnreachable,
    NotFound,
)
from demo_core.download.plan import RemoteFile
from demo_core.download.source import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT  # read here by the UI
from demo_core.download.source import Listing, Source
from demo_core.download.verify import Expected
from demo_core.i18n import _

OFFICIAL = "https://huggingface.co"
MIRROR = "https://hf-mirror.com"
ENDPOINTS = {"official": OFFICIAL, "hf-mirror": MIRROR}


def normalise_endpoint(endpoint: str | None) -> str:
    """A usable base URL, or a clear :class:`DownloadError` for a typo."""
    raw = (endpoint or "").strip() or OFFICIAL
    raw = ENDPOINTS.get(raw, raw).rstrip("/")
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise DownloadError(
            _(
                "{raw!r} is not an endpoint URL; use e.g. {official} or {mirror} (http:// or "
                "https://)."
            ).format(raw=raw, official=OFFICIAL, mirror=MIRROR)
        )
    return raw


def _token_for(endpoint: str, token: str | None) -> str | bool | None:
    """An explicit token always; the locally saved HF token only for the official hub --
    never leak it to a third-party mirror."""
    if token:
        return token.strip()
    return None if endpoint == OFFICIAL else False


def not_a_hub(endpoint: str, what: str, why: str | None = None) -> DownloadError:
    """The endpoint answers HTTP but is not a hub: a typo'd URL, this app's own address,
    a web server or a login page. Said plainly, instead of a JSON parser's complaint.
    ``why``: what was wrong with the answer, in the current language (default: no JSON)."""
    return DownloadError(
        _(
            "{endpoint} did not answer like a Hugging Face hub ({why}, while fetching {what}). "
            "Check the endpoint URL: it must be a hub's base URL such as {official} or {mirror}, "
            "not a web page or this app's own address; a proxy or login page may also be in the "
            "way."
        ).format(
            endpoint=endpoint,
            why=why or _("no JSON from its API"),
            what=what,
            official=OFFICIAL,
            mirror=MIRROR,
        )
    )


def _web_page(response) -> bool:
    """An HTML answer without the hub's ``X-Error-Code``: some other web server spoke."""
    if response is None or response.headers.get("X-Error-Code"):
        return False
    return response.headers.get("Content-Type", "").lower().startswith("text/html")


def access_denied(
    what: str, endpoint: str, status: int | None, *, token_sent: bool, gated: bool = False
) -> AccessDenied:
    """401/403 worded by whether a token went out: "enter a token" is no help to someone
    whose token was just refused, and "your token was rejected" is wrong without one."""
    code = f" (HTTP {status})" if status else ""
    if token_sent and gated:
        return AccessDenied(
            _(
                "{what}: {endpoint} rejected the access token{code}: it is wrong, expired, or "
                "has no access to this repository. The token's account must also have accepted "
                "the licence on the repository page. Check the token (Settings → Access Tokens "
                "on the hub website) and enter it again."
            ).format(what=what, endpoint=endpoint, code=code)
        )
    if token_sent:
        return AccessDenied(
            _(
                "{what}: {endpoint} rejected the access token{code}: it is wrong, expired, or "
                "has no access to this repository. Check the token (Settings → Access Tokens on "
                "the hub website) and enter it again."
            ).format(what=what, endpoint=endpoint, code=code)
        )
    if gated:
        return AccessDenied(
            _(
                "{what} is gated: accept its licence on the hub website and enter an access token."
            ).format(what=what)
        )
    return AccessDenied(
        _(
            "{what}: {endpoint} refused access without a token{code}. The repository is private "
            "or gated, or does not exist: check the repository id, and for a private or gated "
            "one enter an access token."
        ).format(what=what, endpoint=endpoint, code=code)
    )


def translate_error(
    exc: BaseException, what: str, endpoint: str, *, token_sent: bool = False
) -> DownloadError:
    """Map huggingface_hub / httpx errors to our messages.

    ``token_sent``: whether the failed request carried an ``Authorization`` header.
    """
    if isinstance(exc, DownloadError):
        return exc
    if isinstance(exc, json.JSONDecodeError):  # before ValueError: it is one
        return not_a_hub(endpoint, what)
    if isinstance(exc, httpx2.TimeoutException):
        return EndpointUnreachable(
            _(
                "{endpoint} did not answer in time while fetching {what}. Check the network "
                "or pick another endpoint (e.g. the hf-mirror.com mirror, or ModelScope)."
            ).format(endpoint=endpoint, what=what)
        )
    if isinstance(exc, (httpx2.ConnectError, httpx2.NetworkError, httpx2.RemoteProtocolError)):
        return EndpointUnreachable(
            _(
                "Cannot reach {endpoint} ({kind}: {exc}). This machine may be offline; check "
                "the network or pick another endpoint."
            ).format(endpoint=endpoint, kind=type(exc).__name__, exc=exc)
        )
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, GatedRepoError):
        return access_denied(what, endpoint, status, token_sent=token_sent, gated=True)
    if isinstance(exc, RevisionNotFoundError):
        return NotFound(
            _("{what}: that revision does not exist on {endpoint}.").format(
                what=what, endpoint=endpoint
            )
        )
    if isinstance(exc, EntryNotFoundError):
        return NotFound(
            _("{what} does not exist on {endpoint}.").format(what=what, endpoint=endpoint)
        )
    if isinstance(exc, (RepositoryNotFoundError, HfHubHTTPError)) and _web_page(exc.response):
        return not_a_hub(endpoint, what, _("a web page with HTTP {status}").format(status=status))
    if isinstance(exc, (RepositoryNotFoundError, HfHubHTTPError)) and status in (401, 403):
        return access_denied(what, endpoint, status, token_sent=token_sent)
    if isinstance(exc, RepositoryNotFoundError):
        return NotFound(
            _("{what} was not found on {endpoint}. Check the repository id.").format(
                what=what, endpoint=endpoint
            )
        )
    if isinstance(exc, HfHubHTTPError):
        if status == 404:
            return NotFound(
                _("{what} was not found on {endpoint}.").format(what=what, endpoint=endpoint)
            )
        return DownloadError(
            _("{endpoint} answered HTTP {status} for {what}; try again later.").format(
                endpoint=endpoint, status=status, what=what
            )
        )
    if isinstance(exc, ValueError):  # huggingface_hub validates repo ids with ValueError
        return DownloadError(f"{what}: {exc}")
    return DownloadError(f"{what}: {type(exc).__name__}: {exc}")


class HubSource(Source):
    """One endpoint + token; turns repo ids into :class:`RepoPlan` objects."""

    name = "hf"
    normalise_endpoint = staticmethod(normalise_endpoint)

    def own_token(self, typed: str | None) -> str | bool | None:
        return _token_for(self.endpoint, typed)

    @cached_property
    def token_sent(self) -> bool:
        # None means "the locally saved token", which huggingface_hub then sends.
        return bool(self.token) or (self.token is None and get_token() is not None)

    @cached_property
    def api(self) -> HfApi:
        return HfApi(endpoint=self.endpoint, token=self.token)

    def headers(self) -> dict[str, str]:
        return build_hf_headers(token=self.token, library_name="internlm-demo-studio")

    def list_repo(self, repo_id: str, revision: str, only: str | None) -> Listing:
        """One ``model_info`` call: the resolved commit and every file (its siblings)."""
        try:
            info = self.api.model_info(
                repo_id, revision=revision, files_metadata=True, timeout=self.timeout
            )
        except (KeyError, TypeError):  # JSON, but not the hub's model fields
            raise not_a_hub(
                self.endpoint, repo_id, _("its API answer lacks the model fields")
            ) from None
        except Exception as exc:
            raise translate_error(exc, repo_id, self.endpoint, token_sent=self.token_sent) from None
        listed = {s.rfilename: s for s in info.siblings or []}
        return Listing(repo_id, revision, listed, commit=info.sha)

    def not_listed(self, listing: Listing, only: str | None) -> str | None:
        if not listing.files:  # a hub that lists no files at all cannot tell
            return None
        return _("{repo} has no file {file!r} at {revision}.").format(
            repo=listing.repo_id, file=only, revision=listing.revision
        )

    def nothing_fetched(self, listing: Listing) -> str:
        return _("{repo} lists no weight/tokenizer/config files at {revision}.").format(
            repo=listing.repo_id, revision=listing.revision
        )

    def describe(self, listing: Listing, path: str) -> RemoteFile:
        """HEAD the file: the hub's own ETag / X-Linked-Etag is what we verify against."""
        repo_id, sibling = listing.repo_id, listing.files.get(path)
        url = hf_hub_url(
            repo_id, path, revision=listing.commit or listing.revision, endpoint=self.endpoint
        )
        try:
            meta = get_hf_file_metadata(
                url, token=self.token, timeout=self.timeout, endpoint=self.endpoint
            )
        except Exception as exc:
            raise translate_error(
                exc, f"{repo_id}/{path}", self.endpoint, token_sent=self.token_sent
            ) from None
        size = meta.size
        if size is None and sibling is not None:
            size = sibling.lfs.size if sibling.lfs else sibling.size
        expected = Expected.from_etag(meta.etag, size)
        if expected.sha256 is None and sibling is not None and sibling.lfs is not None:
            expected = Expected(size=size, sha256=sibling.lfs.sha256)
        # GET the /resolve/ URL, not the CDN location the HEAD saw: signed CDN links expire
        # before a resumed download comes back, and httpx drops the token on the cross-host
        # redirect by itself.
        return RemoteFile(path=path, url=url, expected=expected)
