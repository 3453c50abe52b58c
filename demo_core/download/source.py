"""What every download source (Hugging Face hub, ModelScope, OpenXLab) shares: an endpoint,
a token and a timeout, and the way a repository id becomes a :class:`RepoPlan`.

How a source lists a repository and describes one file of it is its own; which files of the
listing are fetched, and what the plan holds, is not.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from demo_core.download import rules
from demo_core.download._http import httpx as httpx2
from demo_core.download.errors import DownloadError, NotFound
from demo_core.download.plan import RemoteFile, RepoPlan

DEFAULT_TIMEOUT = 8.0
USER_AGENT = "internlm-demo-studio"


def choose_files(
    listed: Collection[str], only: str | None, *, missing: str | None, nothing: str
) -> tuple[list[str], list[str]]:
    """``(wanted, skipped)`` of a repository listing (see :func:`rules.select`), or the
    source's own :class:`NotFound`: ``missing`` when the one file asked for is not listed
    (None: the listing cannot tell), ``nothing`` when no file of the listing is fetched."""
    try:
        wanted, skipped = rules.select(listed, only)
    except ValueError as exc:
        raise DownloadError(str(exc)) from None
    if only is not None and missing is not None and only not in listed:
        raise NotFound(missing)
    if only is None and not wanted:
        raise NotFound(nothing)
    return wanted, skipped


@dataclass
class Listing:
    """A repository as a source lists it: each file's path and what the source says of it,
    at ``revision`` (as the source names it), resolved to ``commit`` where it says one."""

    repo_id: str
    revision: str
    files: Mapping[str, object]
    commit: str | None = None


class Source:
    """An endpoint (made usable by the source's own ``normalise_endpoint``), the token to send
    it (``own_token``: the one typed, None for none) and the seconds to wait for an answer.

    A source says how it lists a repository (``list_repo``), what it answers when the file
    asked for is not listed or nothing listed is fetched (``not_listed``, ``nothing_fetched``)
    and how one file is fetched and checked (``describe``); :meth:`plan` does the rest."""

    name = ""

    @staticmethod
    def normalise_endpoint(endpoint: str | None) -> str:
        raise NotImplementedError

    def own_token(self, typed: str | None):
        return typed.strip() if typed else None

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.endpoint = self.normalise_endpoint(endpoint)
        self.token = self.own_token(token)
        self.timeout = timeout

    def headers(self) -> dict[str, str]:
        """For the file GETs."""
        return {"User-Agent": USER_AGENT}

    def _timeout(self):
        """``timeout`` for an answer, at most 5 s of it to connect."""
        return httpx2.Timeout(self.timeout, connect=min(self.timeout, 5.0))

    def plan(
        self,
        repo_id: str,
        *,
        revision: str = "main",
        only: str | None = None,
        check: Callable[[], None] | None = None,
    ) -> RepoPlan:
        """List the repo at ``revision`` and describe every allowed file (or just ``only``);
        ``check`` runs before each file is described (it raises to stop)."""
        listing = self.list_repo(repo_id.strip(), revision, only)
        wanted, skipped = choose_files(
            listing.files,
            only,
            missing=self.not_listed(listing, only),
            nothing=self.nothing_fetched(listing),
        )
        files = []
        for path in wanted:
            if check is not None:
                check()
            files.append(self.describe(listing, path))
        return RepoPlan(
            source=self.name,
            repo_id=listing.repo_id,
            revision=listing.revision,
            commit=listing.commit,
            endpoint=self.endpoint,
            files=files,
            skipped=skipped,
        )

    def list_repo(self, repo_id: str, revision: str, only: str | None) -> Listing:
        raise NotImplementedError

    def not_listed(self, listing: Listing, only: str | None) -> str | None:
        """The :class:`NotFound` message for ``only`` missing from ``listing`` (None: the
        listing cannot tell, the file is asked for as is)."""
        raise NotImplementedError

    def nothing_fetched(self, listing: Listing) -> str:
        """The :class:`NotFound` message for a listing of nothing this app fetches."""
        raise NotImplementedError

    def describe(self, listing: Listing, path: str) -> RemoteFile:
        raise NotImplementedError
