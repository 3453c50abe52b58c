"""Wikimedia Commons through the MediaWiki Action API (no key; openly licensed media).

One request per slot: ``action=query`` with ``generator=search`` over the File namespace
(6) -- CirrusSearch full text over the file pages' titles, descriptions and categories --
and ``prop=imageinfo`` for each hit: a thumbnail rendered at ``iiurlwidth`` (a JPEG/PNG
even for TIFF or SVG originals, and far smaller than the originals) and ``extmetadata``
(Artist, LicenseShortName, LicenseUrl, ObjectName), which become the picture's credit.

The answer shapes handled (see the recorded fixtures in tests/xcomposer/standins.py):
``{"batchcomplete": true, "query": {"pages": [...]}}`` (formatversion 2; version 1's
``pages`` is an object keyed by page id, accepted too); no ``query`` key at all when
nothing matched; ``{"error": {"code", "info"}}`` for a refused request; HTTP 429 with
``Retry-After`` when throttled. Pages come in page-id order, so they are sorted by the
search rank each carries in ``index``.
"""

from __future__ import annotations

import re

from demo_core.i18n import _
from demo_core.xcomposer.credit import Credit, plain_text, web_link
from demo_core.xcomposer.sources.base import Hit, OnlineSource
from demo_core.xcomposer.sources.http import SourceError

DEFAULT_URL = "https://commons.wikimedia.org/w/api.php"
THUMB_WIDTH = 640
_HREF = re.compile(r'href="([^"]+)"')


class CommonsSource(OnlineSource):
    name = "commons"
    label = "Wikimedia Commons"

    def hits(self, query: str, k: int) -> list[Hit]:
        params = {
            "action": "query",
            "format": "json",
            "formatversion": 2,
            "generator": "search",
            "gsrsearch": f"{query} filetype:bitmap",
            "gsrnamespace": 6,
            "gsrlimit": min(50, 2 * k + 2),  # spares for pictures that fail to load
            "prop": "imageinfo",
            "iiprop": "url|mime|extmetadata",
            "iiurlwidth": THUMB_WIDTH,
            "iiextmetadatafilter": "Artist|LicenseShortName|LicenseUrl|ObjectName",
        }
        return parse(self.get_json(self.url(params)), self.label)


def parse(answer: object, label: str = "Wikimedia Commons") -> list[Hit]:
    if not isinstance(answer, dict):
        raise SourceError(_("{what}: unexpected answer").format(what=label))
    error = answer.get("error")
    if isinstance(error, dict):
        raise SourceError(
            _("{what} refused the search: {code}: {info}").format(
                what=label, code=error.get("code", "?"), info=plain_text(error.get("info", ""))
            )
        )
    query = answer.get("query")
    if query is None:
        return []  # nothing matched: the API leaves "query" out altogether
    pages = query.get("pages") if isinstance(query, dict) else None
    if isinstance(pages, dict):  # formatversion 1
        pages = list(pages.values())
    if not isinstance(pages, list):
        raise SourceError(_("{what}: unexpected answer").format(what=label))
    pages = [p for p in pages if isinstance(p, dict)]
    pages.sort(
        key=lambda p: p.get("index", 1 << 30) if isinstance(p.get("index"), int) else 1 << 30
    )
    hits = []
    for page in pages:
        infos = page.get("imageinfo")
        if not isinstance(infos, list) or not infos or not isinstance(infos[0], dict):
            continue
        info = infos[0]
        link = web_link(info.get("thumburl")) or web_link(info.get("url"))
        if not link or not str(info.get("mime", "image/")).startswith("image/"):
            continue
        meta = info.get("extmetadata") if isinstance(info.get("extmetadata"), dict) else {}

        def value(key: str, meta=meta) -> str:
            entry = meta.get(key)
            return entry.get("value", "") if isinstance(entry, dict) else ""

        artist = value("Artist")
        href = _HREF.search(artist) if isinstance(artist, str) else None
        title = plain_text(value("ObjectName")) or re.sub(
            r"^File:|\.[A-Za-z0-9]+$", "", str(page.get("title", ""))
        )
        hits.append(
            Hit(
                name=f"commons-{page.get('pageid', len(hits))}",
                image_url=link,
                credit=Credit(
                    source=label,
                    title=title,
                    page_url=web_link(info.get("descriptionurl")),
                    author=plain_text(artist),
                    author_url=web_link(href.group(1)) if href else "",
                    license=plain_text(value("LicenseShortName")),
                    license_url=web_link(value("LicenseUrl")),
                ),
            )
        )
    return hits
