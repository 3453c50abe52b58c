"""What the online sources share: settings, download of result images, error wording."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, replace

from demo_core.xcomposer.credit import Credit
from demo_core.xcomposer.images import ImageError, ImageInput, load_image
from demo_core.xcomposer.sources import Source, http
from demo_core.xcomposer.sources.http import SourceError


@dataclass(frozen=True)
class Hit:
    """One search result before its picture is downloaded."""

    name: str  # unique within the source, stable across searches
    image_url: str
    credit: Credit


@dataclass
class OnlineSource(Source):
    """A search API that answers a query with :class:`Hit` s (subclasses parse)."""

    base_url: str
    timeout_s: float = 8.0
    user_agent: str = ""
    name = "online"
    label = "online"
    online = True
    wants_query = True

    def url(self, params: dict[str, str | int]) -> str:
        sep = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{sep}{urllib.parse.urlencode(params)}"

    def get_json(self, url: str) -> object:
        return http.get_json(url, self.timeout_s, self.label, self.user_agent)

    def hits(self, query: str, k: int) -> list[Hit]:
        raise NotImplementedError

    def find(self, request) -> list[ImageInput]:
        query = request.query.strip() or request.caption.strip()
        if not query:
            return []
        hits = [h for h in self.hits(query, request.k) if h.name not in request.exclude]
        return self.download(hits, request.k, request.notes)

    def download(self, hits: Iterable[Hit], k: int, notes: list[str]) -> list[ImageInput]:
        """The first ``k`` hits whose picture downloads and decodes; when none does, the
        first problem is the source's error (a rate limit stops at once)."""
        images: list[ImageInput] = []
        first: SourceError | None = None
        for hit in hits:
            if len(images) >= k:
                break
            try:
                data = http.get(
                    hit.image_url, self.timeout_s, http.MAX_IMAGE_BYTES, self.label, self.user_agent
                )
                images.append(replace(load_image(data, hit.name), credit=hit.credit))
            except ImageError as exc:
                first = first or SourceError(str(exc))
                notes.append(str(exc))
            except SourceError as exc:
                if exc.retry_after is not None and not images:
                    raise
                first = first or exc
                notes.append(str(exc))
        if not images and first is not None:
            notes.clear()  # the error says it
            raise first
        return images
