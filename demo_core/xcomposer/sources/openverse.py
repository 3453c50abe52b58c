"""Openverse (openly licensed images from Flickr, Wikimedia, museums, ...) -- no key.

``GET /v1/images/?q=...&page_size=N``: anonymous clients may ask for up to 20 results a
page and are throttled (Django REST Framework: HTTP 429, ``Retry-After``, ``{"detail":
"Request was throttled. Expected available in N seconds."}``); a bad parameter is a 400
with ``{"detail": ...}``. Each result carries ``url`` (the file at the provider),
``thumbnail`` (Openverse's own resized copy), ``foreign_landing_url`` (the picture's page),
``creator``/``creator_url``, ``license``/``license_version``/``license_url`` and a
ready-made ``attribution`` sentence. The thumbnail is fetched first (small, one host),
the original only when there is no thumbnail. Search runs over titles, descriptions and
tags, which are overwhelmingly English.
"""

from __future__ import annotations

from demo_core.i18n import _
from demo_core.xcomposer.credit import Credit, plain_text, web_link
from demo_core.xcomposer.sources.base import Hit, OnlineSource
from demo_core.xcomposer.sources.http import SourceError

DEFAULT_URL = "https://api.openverse.org/v1/images/"
MAX_PAGE_SIZE = 20  # anonymous limit


def license_name(code: str, version: str) -> str:
    """``by-sa`` + ``2.0`` -> ``CC BY-SA 2.0``; ``cc0`` -> ``CC0 1.0``; ``pdm`` -> Public Domain Mark."""
    code = (code or "").strip().lower()
    if not code:
        return ""
    if code == "pdm":
        return "Public Domain Mark " + version if version else "Public Domain Mark"
    if code == "cc0":
        return "CC0 " + (version or "1.0")
    return f"CC {code.upper()}" + (f" {version}" if version else "")


class OpenverseSource(OnlineSource):
    name = "openverse"
    label = "Openverse"

    def hits(self, query: str, k: int) -> list[Hit]:
        params = {"q": query, "page_size": min(MAX_PAGE_SIZE, 2 * k + 2), "mature": "false"}
        return parse(self.get_json(self.url(params)), self.label)


def parse(answer: object, label: str = "Openverse") -> list[Hit]:
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        detail = answer.get("detail") if isinstance(answer, dict) else None
        if detail:
            raise SourceError(
                _("{what} refused the search: {why}").format(
                    what=label, why=plain_text(str(detail))
                )
            )
        raise SourceError(_("{what}: unexpected answer").format(what=label))
    hits = []
    for r in answer["results"]:
        if not isinstance(r, dict) or r.get("mature") is True:
            continue
        link = web_link(r.get("thumbnail")) or web_link(r.get("url"))
        if not link or not r.get("id"):
            continue
        hits.append(
            Hit(
                name=f"openverse-{plain_text(str(r['id']), 40)}",
                image_url=link,
                credit=Credit(
                    source=label,
                    title=plain_text(r.get("title")),
                    page_url=web_link(r.get("foreign_landing_url")),
                    author=plain_text(r.get("creator")),
                    author_url=web_link(r.get("creator_url")),
                    license=license_name(
                        str(r.get("license") or ""), str(r.get("license_version") or "")
                    ),
                    license_url=web_link(r.get("license_url")),
                ),
            )
        )
    return hits
