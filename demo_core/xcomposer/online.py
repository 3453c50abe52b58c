"""An optional online image source for composition, off unless the user configures it.

The original demo called a hosted retrieval API for every caption. Here composition
works offline (uploads, then the local library); an online source only tops up the
candidates when ``settings.json`` names one::

    {"image_search": {"url": "http://127.0.0.1:8765/search", "timeout_s": 8}}

Contract: ``GET {url}?q=<caption>&k=<n>`` answers JSON ``{"images": [{"url": ...,
"caption": ...}, ...]}`` (a bare list of URLs is accepted too). Every image is downloaded
with a size cap and decoded like an upload; a failure of any kind becomes a message and
composition goes on with what it has.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from demo_core import settings
from demo_core.engine.base import EngineError
from demo_core.i18n import _
from demo_core.xcomposer.images import ImageError, ImageInput, load_image

MAX_IMAGE_BYTES = 10 * 1024 * 1024


class OnlineSearchError(EngineError):
    """The online image source failed; the message says how."""


@dataclass(frozen=True)
class OnlineImageSearch:
    url: str
    timeout_s: float = 8.0

    @classmethod
    def from_settings(cls) -> OnlineImageSearch | None:
        """The configured source, or None (the default: no network use)."""
        try:
            cfg = settings.load().get("image_search") or {}
        except settings.SettingsError:
            return None
        if not isinstance(cfg, dict) or not cfg.get("url"):
            return None
        return cls(str(cfg["url"]), float(cfg.get("timeout_s", 8.0)))

    def search(self, caption: str, k: int) -> tuple[list[ImageInput], list[str]]:
        """Up to ``k`` images for ``caption`` and the problems met on the way."""
        query = urllib.parse.urlencode({"q": caption, "k": k})
        sep = "&" if "?" in self.url else "?"
        try:
            listing = json.loads(self._get(f"{self.url}{sep}{query}", 1024 * 1024))
        except ValueError as exc:
            raise OnlineSearchError(
                _("the image search at {url} did not answer JSON ({error})").format(
                    url=self.url, error=exc
                )
            ) from None
        entries = listing.get("images", []) if isinstance(listing, dict) else listing
        if not isinstance(entries, list):
            raise OnlineSearchError(
                _("the image search at {url} answered an unexpected shape").format(url=self.url)
            )
        images: list[ImageInput] = []
        problems: list[str] = []
        for n, entry in enumerate(entries[:k], start=1):
            link = entry.get("url") if isinstance(entry, dict) else entry
            if not isinstance(link, str) or not link.startswith(("http://", "https://")):
                problems.append(_("result {n} has no http(s) image address").format(n=n))
                continue
            name = f"online-{n}-" + (urllib.parse.urlparse(link).path.rsplit("/", 1)[-1] or "image")
            try:
                images.append(load_image(self._get(link, MAX_IMAGE_BYTES), name))
            except (OnlineSearchError, ImageError) as exc:
                problems.append(str(exc))
        return images, problems

    def _get(self, url: str, limit: int) -> bytes:
        request = urllib.request.Request(url, headers={"User-Agent": "internlm-demo-studio"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                data = resp.read(limit + 1)
        except urllib.error.HTTPError as exc:
            raise OnlineSearchError(
                _("{url} answered HTTP {code}").format(url=url, code=exc.code)
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OnlineSearchError(
                _("cannot reach {url} ({reason}); working offline").format(url=url, reason=reason)
            ) from None
        if len(data) > limit:
            raise OnlineSearchError(
                _("{url} sent more than {mb} MB").format(url=url, mb=limit // 2**20)
            )
        return data
