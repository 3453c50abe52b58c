"""Where a picture came from, kept with it from the search result to the export.

Openly licensed pictures may be reused only with attribution (title, author, source page,
licence -- the "TASL" the Creative Commons licences ask for), and a generated picture must
not pass for a photograph. So every image an online source or the generator produces
carries a :class:`Credit`, and the article page, the Markdown, the HTML and the zip export
all print it from here, the same way.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from demo_core.i18n import _

_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain_text(value: object, limit: int = 200) -> str:
    """Metadata that may hold HTML (Commons' ``Artist`` often is a link) as one line of
    plain text, entities decoded, cut to ``limit`` characters."""
    if not isinstance(value, str):
        return ""
    text = html.unescape(_TAGS.sub(" ", value))
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def one_line(text: str) -> str:
    """``text`` without line breaks or control characters (a generated picture's prompt is
    model text: it may hold a vertical tab, which ``str.splitlines`` counts as a break)."""
    return _CONTROL.sub(" ", " ".join(text.splitlines())).strip()


def web_link(value: object) -> str:
    """``value`` if it is an http(s) address ("//host/..." made https), else ""."""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if value.startswith("//"):
        value = "https:" + value
    return value if re.match(r"^https?://[^\s<>\"']+$", value) else ""


@dataclass(frozen=True)
class Credit:
    """The attribution of one picture. ``source`` is the source's display name
    ("Wikimedia Commons", "Openverse", "Image library", a model's label for a generated
    picture); ``generated`` marks pictures no camera took."""

    source: str
    title: str = ""
    page_url: str = ""  # the picture's page at its source
    author: str = ""
    author_url: str = ""
    license: str = ""  # e.g. "CC BY-SA 4.0"
    license_url: str = ""
    generated: bool = False
    prompt: str = ""  # what a generated picture was made from

    def parts(self) -> list[tuple[str, str]]:
        """``(text, link)`` pieces of the attribution line, in reading order; a link that
        is not plain http(s) (``javascript:``...) is dropped, whoever built the credit."""
        return [(text, web_link(link)) for text, link in self._parts()]

    def _parts(self) -> list[tuple[str, str]]:
        if self.generated:
            what = _("Generated image") + f" ({self.source})"
            return [(what, "")] + ([(f"“{self.prompt}”", "")] if self.prompt else [])
        out: list[tuple[str, str]] = []
        if self.title:
            out.append((f"“{self.title}”", self.page_url))
        if self.author:
            out.append((_("by {author}").format(author=self.author), self.author_url))
        if self.license:
            out.append((self.license, self.license_url))
        src = self.source
        out.append((_("via {source}").format(source=src), "" if self.title else self.page_url))
        return out

    def text(self) -> str:
        """One plain line, links in parentheses (for alt text and plain-text export)."""
        return one_line(", ".join(t + (f" ({link})" if link else "") for t, link in self.parts()))

    def markdown(self, escape) -> str:
        """One Markdown line; ``escape`` makes model or metadata text literal."""
        pieces = []
        for text, link in self.parts():
            shown = escape(text)
            pieces.append(f"[{shown}](<{link}>)" if link else shown)
        return ", ".join(pieces)

    def html(self) -> str:
        pieces = []
        for text, link in self.parts():
            shown = html.escape(text)
            if link:
                pieces.append(f'<a href="{html.escape(link, quote=True)}">{shown}</a>')
            else:
                pieces.append(shown)
        return ", ".join(pieces)
