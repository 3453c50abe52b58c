"""Where candidate pictures for an article's image slots come from.

The original demo sent each caption to a retrieval service of its own that is not
public. Here a slot's candidates come from every *enabled* source -- the local image
library, Wikimedia Commons and Openverse (openly licensed pictures, no key needed), a
retrieval service of your own, and a text-to-image model that draws one -- and all of
them go to the model's own A/B/C/D pick, as in the original.

A source is anything with ``name``/``label``/``online`` and ``find(request)`` that
returns checked :class:`~demo_core.xcomposer.images.ImageInput` s (with a
:class:`~demo_core.xcomposer.credit.Credit` where there is one to give) or raises
:class:`SourceError`. :func:`gather` asks the finding sources side by side, then the
generator for what is still missing, and interleaves the answers so each enabled source
is represented; a source that fails is reported and left out, and the others fill in.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from demo_core.xcomposer.images import ImageInput
from demo_core.xcomposer.sources.http import COOLDOWNS, SourceError

__all__ = ["ImageSource", "SearchRequest", "Source", "SourceError", "gather"]

CANDIDATES = 4  # A/B/C/D, as in the original


@dataclass(frozen=True)
class SearchRequest:
    caption: str  # the slot's caption, as the model wrote it
    query: str  # the search phrase for sources that want one (see compose.query_prompt)
    context: str = ""  # the paragraph the picture goes after
    k: int = CANDIDATES
    exclude: frozenset[str] = field(default_factory=frozenset)  # names already used
    # problems that did not stop a source (one broken result among good ones), for the page
    notes: list[str] = field(default_factory=list, compare=False)

    def for_k(self, k: int) -> SearchRequest:
        return SearchRequest(self.caption, self.query, self.context, k, self.exclude, self.notes)


class ImageSource(Protocol):
    name: str  # stable id: library | commons | openverse | custom | generate
    label: str  # shown to the user
    online: bool  # sends the query to another machine
    generates: bool  # makes pictures (asked last, for what is missing)
    wants_query: bool  # searched with the short (English) phrase rather than the caption

    def find(self, request: SearchRequest) -> list[ImageInput]: ...


def _labelled(label: str, text: str) -> str:
    """``text`` said as coming from ``label``; a source's own errors already name it
    ("Wikimedia Commons: cannot connect …"), and saying it twice reads as a stutter."""
    return text if text.startswith(f"{label}:") else f"{label}: {text}"


class Source:
    """What an :class:`ImageSource` is unless it says otherwise: it finds pictures (it does
    not draw them) without sending anything to another machine, searched with the caption."""

    online = False
    generates = False
    wants_query = False


def _ask(source: ImageSource, request: SearchRequest) -> tuple[list[ImageInput], str | None]:
    resting = COOLDOWNS.why_blocked(source.name) if source.online else None
    if resting:
        return [], f"{source.label}: {resting}"
    r = request
    mine = SearchRequest(r.caption, r.query, r.context, r.k, r.exclude, [])  # its own notes
    try:
        found = source.find(mine)
    except SourceError as exc:
        if exc.retry_after is not None and source.online:
            COOLDOWNS.block(source.name, exc.retry_after, str(exc))
        return [], _labelled(source.label, str(exc))
    except Exception as exc:  # a bug or a surprise in one source must not stop the article
        return [], f"{source.label}: {type(exc).__name__}: {exc}"
    finally:
        request.notes.extend(_labelled(source.label, n) for n in mine.notes)
    fresh = [img for img in found if img.name not in request.exclude]
    return fresh[: request.k], None


def interleave(groups: Sequence[Sequence[ImageInput]], k: int) -> list[ImageInput]:
    """One from each group in turn (so every source is represented), at most ``k``,
    without two images of the same name or the same pixels."""
    out: list[ImageInput] = []
    seen: set[str] = set()
    depth = max((len(g) for g in groups), default=0)
    for j in range(depth):
        for g in groups:
            if j < len(g) and len(out) < k:
                img = g[j]
                if img.name in seen or img.digest in seen:
                    continue
                seen.update((img.name, img.digest))
                out.append(img)
    return out


def gather(
    sources: Sequence[ImageSource], request: SearchRequest
) -> tuple[list[ImageInput], list[str]]:
    """Candidates for one slot from every source in ``sources`` and the problems met
    (one message per failing source, for the page). Finding sources run side by side
    (their time is mostly waiting on the network), each in a copy of the caller's context,
    so their messages are in the caller's language; generators run after them, for the
    places still free (at least one, so an enabled generator always contributes)."""
    finders = [s for s in sources if not s.generates]
    makers = [s for s in sources if s.generates]
    problems: list[str] = []
    groups: list[list[ImageInput]] = []
    if finders:
        with ThreadPoolExecutor(max_workers=len(finders)) as pool:
            asked = [pool.submit(contextvars.copy_context().run, _ask, s, request) for s in finders]
            answers = [a.result() for a in asked]
        for found, problem in answers:
            groups.append(found)
            if problem:
                problems.append(problem)
    have = len(interleave(groups, request.k))
    for maker in makers:
        want = max(1, request.k - have) if have < request.k else 1
        found, problem = _ask(maker, request.for_k(want))
        groups.append(found)
        have += len(found)
        if problem:
            problems.append(problem)
    return interleave(groups, request.k), problems + request.notes
