"""Save an article: Markdown plus its images as a zip, or one self-contained HTML file.

The original saved ``io.MD`` (with ``<div><img src=...>`` tags) and the images into a zip.
Here the Markdown uses standard image syntax with relative paths under ``images/``, and
the HTML embeds every image as a data URL so it opens anywhere, offline, as one file.
"""

from __future__ import annotations

import base64
import html
import io
import re
import zipfile

from PIL import Image

from demo_core.xcomposer.article import Article
from demo_core.xcomposer.images import ImageInput

_MIME = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
}
_EXT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}


def image_format(img: ImageInput) -> str:
    try:
        return (Image.open(io.BytesIO(img.data)).format or "PNG").upper()
    except Exception:
        return "PNG"


def safe_stem(name: str) -> str:
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", name)
    stem = re.sub(r"[^\w\-]+", "_", stem, flags=re.UNICODE).strip("_")
    return stem[:40] or "image"


def title_of(article: Article) -> str:
    first = article.instruction.strip().splitlines()[0] if article.instruction.strip() else ""
    return first[:80] or "Illustrated article"


def _image_files(article: Article) -> list[tuple[int, str, ImageInput]]:
    """(paragraph index, zip path, image) for every chosen image, names made unique."""
    out = []
    for n, i in enumerate(article.slots, start=1):
        img = article.paragraphs[i].image.image  # type: ignore[union-attr]
        assert img is not None
        ext = _EXT.get(image_format(img), "png")
        out.append((i, f"images/{n:02d}_{safe_stem(img.name)}.{ext}", img))
    return out


def _md_text(text: str) -> str:
    # a paragraph starting with "#", ">" or "1." must stay a paragraph
    return re.sub(r"^([#>*+\-]|\d+\.)", r"\\\1", text)


def to_markdown(article: Article) -> str:
    files = {i: path for i, path, _ in _image_files(article)}
    lines = [f"# {title_of(article)}", ""]
    for i, p in enumerate(article.paragraphs):
        lines += [_md_text(p.text), ""]
        if i in files:
            cap = p.image.caption if p.image else ""  # type: ignore[union-attr]
            alt = cap.replace("[", "(").replace("]", ")")
            lines += [f"![{alt}]({files[i]})", ""]
    return "\n".join(lines).rstrip() + "\n"


def to_zip(article: Article) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("article.md", to_markdown(article))
        for _, path, img in _image_files(article):
            zf.writestr(path, img.data)
        if article.instruction.strip():
            zf.writestr("instruction.txt", article.instruction)
    return buf.getvalue()


def to_html(article: Article) -> str:
    """One self-contained page: text escaped, images inlined as data URLs."""
    title = html.escape(title_of(article))
    body = [f"<h1>{title}</h1>"]
    for p in article.paragraphs:
        body.append(f"<p>{html.escape(p.text)}</p>")
        img = p.image.image if p.image else None
        if img is not None:
            mime = _MIME.get(image_format(img), "image/png")
            data = base64.b64encode(img.data).decode("ascii")
            cap = html.escape(p.image.caption) if p.image else ""  # type: ignore[union-attr]
            body.append(
                f'<figure><img src="data:{mime};base64,{data}" alt="{cap}">'
                f"<figcaption>{cap}</figcaption></figure>"
            )
    style = (
        "body{max-width:46rem;margin:2rem auto;padding:0 1rem;font:17px/1.7 system-ui,sans-serif}"
        "figure{margin:1.5rem 0;text-align:center}img{max-width:100%;border-radius:6px}"
        "figcaption{color:#666;font-size:.9em}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{style}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
