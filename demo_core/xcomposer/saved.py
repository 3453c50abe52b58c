"""Illustrated articles kept in the workspace store, so an edit survives a reload.

An article is a store document (kind ``article``) holding its instruction, paragraphs,
image slots and captions; the pictures themselves are files under
``$DEMO_STUDIO_HOME/files/<workspace>/`` named by their content hash (the row points at
them, the same picture is written once). Each Compose makes a *new* article, so the one
the user edited before is never replaced: it stays in the list of saved articles.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from demo_core import settings
from demo_core.store import Store, StoreError, new_id
from demo_core.store.db import title_from
from demo_core.xcomposer.article import Article, ImageSlot, Paragraph
from demo_core.xcomposer.images import ImageInput

log = logging.getLogger(__name__)

KIND = "article"


def files_dir(ws: str) -> Path:
    return settings.home() / "files" / ws  # = Store.files_dir(ws) of the app's store


def _put_image(folder: Path, img: ImageInput) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / img.digest
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(img.data)
        tmp.replace(path)
    return {"name": img.name, "file": img.digest}


def _get_image(folder: Path, ref: dict) -> ImageInput | None:
    try:
        return ImageInput(ref["name"], (folder / ref["file"]).read_bytes())
    except (OSError, KeyError, TypeError):
        return None


def to_body(article: Article, ws: str, extra: dict | None = None) -> dict:
    """The article as JSON-able data (pictures written to the workspace's files)."""
    folder = files_dir(ws)
    paragraphs = []
    for p in article.paragraphs:
        slot = None
        if p.image is not None:
            slot = {
                "caption": p.image.caption,
                "candidates": [_put_image(folder, c) for c in p.image.candidates],
                "chosen": p.image.chosen,
                "picked": p.image.picked,
            }
        paragraphs.append({"uid": p.uid, "text": p.text, "image": slot})
    return {"instruction": article.instruction, "paragraphs": paragraphs, **(extra or {})}


def from_body(body: dict, ws: str) -> Article:
    folder = files_dir(ws)
    paragraphs = []
    for p in body.get("paragraphs", []):
        slot = None
        if p.get("image") is not None:
            s = p["image"]
            cands = [c for c in (_get_image(folder, r) for r in s.get("candidates", [])) if c]
            chosen = s.get("chosen")
            slot = ImageSlot(
                s.get("caption", ""),
                cands,
                chosen if chosen is not None and chosen < len(cands) else None,
                s.get("picked"),
            )
        paragraphs.append(Paragraph(p.get("text", ""), slot, p.get("uid") or new_id()[:10]))
    return Article(body.get("instruction", ""), paragraphs)


def fingerprint(body: dict) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


def title_of(article: Article) -> str:
    first = next((p.text for p in article.paragraphs if p.text.strip()), "")
    return title_from(first or article.instruction) or "Article"


def save(store: Store, ws: str, did: str, article: Article, extra: dict | None = None) -> str:
    """Write the article (raises :class:`StoreError`); returns its fingerprint."""
    body = to_body(article, ws, extra)
    store.put_doc(ws, KIND, did, title_of(article), body)
    return fingerprint(body)


def load(store: Store, ws: str, did: str) -> tuple[Article, dict] | None:
    doc = store.doc(did)
    if doc is None or doc["workspace"] != ws or doc["kind"] != KIND:
        return None
    return from_body(doc["body"], ws), doc["body"]


def duplicate(store: Store, ws: str, did: str) -> str | None:
    doc = store.doc(did)
    if doc is None or doc["workspace"] != ws:
        return None
    copy_id = new_id()
    try:
        store.put_doc(ws, KIND, copy_id, doc["title"], doc["body"])
    except StoreError:
        return None
    return copy_id
