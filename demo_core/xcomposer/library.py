"""A local image library searched by caption, so composition works offline.

The original demo sent each caption to a remote retrieval service. Here candidates come
from the user's uploads and from a folder of images (default ``<app home>/image-library``,
``$DEMO_STUDIO_IMAGE_LIBRARY`` overrides). Each image is described by a sidecar caption
(``name.txt`` or ``name.jpg.txt``) when there is one, else by its file name; the folder is
indexed once and re-indexed only when its files change. Matching is plain text
similarity -- TF-IDF over words and CJK character bigrams -- which is crude but needs no
model and no network.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from demo_core import settings
from demo_core.i18n import _
from demo_core.xcomposer.images import ImageError, ImageInput, load_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}
MAX_LIBRARY_IMAGES = 20_000
_WORD = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def library_dir() -> Path:
    raw = os.environ.get("DEMO_STUDIO_IMAGE_LIBRARY")
    return Path(raw).expanduser() if raw else settings.home() / "image-library"


def tokens(text: str) -> list[str]:
    """Lower-case words (file-name separators split) plus CJK unigrams and bigrams."""
    text = text.lower().replace("_", " ").replace("-", " ")
    out = [w for w in _WORD.findall(text) if len(w) > 1 or w.isdigit()]
    for run in _CJK.findall(text):
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


@dataclass(frozen=True)
class LibraryImage:
    path: Path
    description: str

    def load(self) -> ImageInput:
        """Read and normalise the file (see ``load_image``); a broken or unreadable file
        raises :class:`ImageError`."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ImageError(
                _("{name} cannot be read ({error})").format(
                    name=self.path.name, error=exc.strerror or exc
                )
            ) from None
        return load_image(data, self.path.name)


def describe(path: Path) -> str:
    for side in (path.with_suffix(".txt"), path.with_name(path.name + ".txt")):
        if side.is_file():
            try:
                text = side.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                continue
            if text:
                return text
    return path.stem


class ImageLibrary:
    """A TF-IDF index over image descriptions."""

    def __init__(self, items: list[LibraryImage]) -> None:
        self.items = items
        self._vectors = [Counter(tokens(i.description)) for i in items]
        df: Counter[str] = Counter()
        for v in self._vectors:
            df.update(v.keys())
        n = max(1, len(items))
        self._idf = {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}

    def __len__(self) -> int:
        return len(self.items)

    def _weights(self, counts: Counter[str]) -> dict[str, float]:
        w = {t: c * self._idf.get(t, 0.0) for t, c in counts.items()}
        norm = math.sqrt(sum(x * x for x in w.values())) or 1.0
        return {t: x / norm for t, x in w.items()}

    def search(
        self, query: str, k: int = 4, exclude: set[str] | None = None
    ) -> list[tuple[float, LibraryImage]]:
        """Best ``k`` matches with a positive score, skipping file names in ``exclude``."""
        q = self._weights(Counter(tokens(query)))
        scored = []
        for item, vec in zip(self.items, self._vectors, strict=True):
            if exclude and item.path.name in exclude:
                continue
            w = self._weights(vec)
            s = sum(q.get(t, 0.0) * x for t, x in w.items())
            if s > 0:
                scored.append((s, item))
        scored.sort(key=lambda p: (-p[0], p[1].path.name))
        return scored[:k]


def scan(folder: Path) -> list[LibraryImage]:
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            found.append(LibraryImage(path, describe(path)))
            if len(found) >= MAX_LIBRARY_IMAGES:
                break
    return found


_cache: dict[Path, tuple[tuple, ImageLibrary]] = {}
_cache_lock = threading.Lock()


def _signature(folder: Path) -> tuple:
    if not folder.is_dir():
        return ()
    return tuple(sorted((str(p), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()))


def load_library(folder: Path | None = None) -> ImageLibrary:
    """The (cached) index of ``folder``; rebuilt only when its files changed."""
    folder = Path(folder or library_dir())
    sig = _signature(folder)
    with _cache_lock:
        hit = _cache.get(folder)
        if hit and hit[0] == sig:
            return hit[1]
        lib = ImageLibrary(scan(folder))
        _cache[folder] = (sig, lib)
        return lib
