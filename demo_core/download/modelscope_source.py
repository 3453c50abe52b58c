"""Plan a download from ModelScope (魔搭), the source most lesson machines in China reach.

Needs the optional ``modelscope`` package (``pip install 'internlm-demo-studio[modelscope]'``)
for the repository listing; without it the user gets a message saying exactly that. The
bytes then go through the same resumable, verified fetcher as the Hugging Face path
(ModelScope's listing gives every file's sha256).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote_plus

from demo_core.download import rules
from demo_core.download.errors import (
    AccessDenied,
    DownloadError,
    EndpointUnreachable,
    NotFound,
    SourceUnavailable,
)
from demo_core.download.plan import RemoteFile, RepoPlan
from demo_core.download.verify import Expected

DEFAULT_ENDPOINT = "https://www.modelscope.cn"
INSTALL_HINT = (
    "ModelScope downloads need the optional package 'modelscope', which is not installed. "
    "Install it with: pip install 'internlm-demo-studio[modelscope]' (or pip install modelscope), "
    "then restart the app -- or download from Hugging Face / hf-mirror.com instead."
)


def available() -> bool:
    try:
        import modelscope  # noqa: F401
    except ImportError:
        return False
    return True


def _hub_api(endpoint: str, timeout: float):
    try:
        from modelscope.hub.api import HubApi
    except ImportError:
        raise SourceUnavailable(INSTALL_HINT) from None
    try:  # short timeout, one retry: an unreachable site must be reported within seconds
        return HubApi(endpoint=endpoint, timeout=timeout, max_retries=1)
    except TypeError:  # older modelscope releases take no timeout arguments
        return HubApi(endpoint=endpoint)


def file_url(endpoint: str, model_id: str, path: str, revision: str) -> str:
    return (
        f"{endpoint}/api/v1/models/{model_id}/repo?Revision={quote_plus(revision)}"
        f"&FilePath={quote_plus(path)}"
    )


class ModelScopeSource:
    name = "modelscope"

    def __init__(
        self, endpoint: str | None = None, token: str | None = None, timeout: float = 8.0
    ) -> None:
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self.token = token.strip() if token else None
        self.timeout = timeout
        self.api = _hub_api(self.endpoint, timeout)

    def headers(self) -> dict[str, str]:
        h = {"User-Agent": "internlm-demo-studio"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def plan(
        self,
        repo_id: str,
        *,
        revision: str = "master",
        only: str | None = None,
        check: Callable[[], None] | None = None,
    ) -> RepoPlan:
        revision = "master" if revision in ("", "main") else revision
        try:
            listing = self.api.get_model_files(repo_id, revision=revision, recursive=True)
        except Exception as exc:  # requests errors, or ModelScope's own HTTPError
            raise _translate(exc, repo_id, self.endpoint) from None
        blobs = {f["Path"]: f for f in listing if f.get("Type", "blob") != "tree"}
        try:
            wanted, skipped = rules.select(blobs, only)
        except ValueError as exc:
            raise DownloadError(str(exc)) from None
        if only is not None and only not in blobs:
            raise NotFound(f"{repo_id} has no file {only!r} on ModelScope.")
        files = [
            RemoteFile(
                path=name,
                url=file_url(self.endpoint, repo_id, name, revision),
                expected=Expected(size=blobs[name].get("Size"), sha256=blobs[name].get("Sha256")),
            )
            for name in wanted
        ]
        return RepoPlan(
            source=self.name,
            repo_id=repo_id,
            revision=revision,
            commit=None,
            endpoint=self.endpoint,
            files=files,
            skipped=skipped,
        )


def _translate(exc: BaseException, repo_id: str, endpoint: str) -> DownloadError:
    text = f"{type(exc).__name__}: {exc}"
    low = text.lower()
    if "timeout" in low or "connection" in low or "resolve" in low:
        return EndpointUnreachable(f"Cannot reach ModelScope at {endpoint} ({text}).")
    if "401" in low or "403" in low:
        return AccessDenied(f"{repo_id}: ModelScope denied access; log in or enter a token.")
    if "404" in low or "not exist" in low or "not found" in low:
        return NotFound(f"{repo_id} was not found on ModelScope.")
    return DownloadError(f"ModelScope listing of {repo_id} failed: {text}")
