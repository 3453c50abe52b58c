"""Save an article: Markdown plus its images as a zip, or one self-contained HTML file.

The original saved ``io.MD`` (with ``<div><img src=...>`` tags) and the images into a zip.
Here the Markdown uses standard image syntax with relative paths under ``images/``, and
the HTML embeds every image as a data URL so it opens anywhere, offline, as one file.
Under every picture that has a :class:`~demo_core.xcomposer.credit.Credit` (a search
result or a generated picture) its attribution is written -- title and page, author,
licence, source, or "Generated image" -- and the zip adds ``CREDITS.txt`` listing them all.

The model writes plain text: a paragraph that starts with "#" or holds ``<script>`` is
text, not a heading or markup. :func:`markdown_text` escapes it so that every Markdown
renderer -- the exported ``article.md`` and the page itself -- shows exactly the text,
as the HTML export (which escapes it) does.
"""

from __future__ import annotations

import base64
import html
import io
import re
import zipfile

from PIL import Image

from demo_core.i18n import _
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


TITLE_CHARS = 60
_QUOTES = re.compile(
    r"“([^“”\n]{1,80})”|「([^「」\n]{1,80})」|『([^『』\n]{1,80})』|《([^《》\n]{1,80})》"
    r"|\"([^\"\n]{1,80})\"|‘([^‘’\n]{1,80})’"
)
_TITLE_WORD = re.compile(r"(标题|题目|题为|title|titled|heading)", re.IGNORECASE)


def title_of(article: Article) -> str:
    """The article's title, from the instruction: a quoted title in it (“…”, "…", 「…」,
    《…》) after a word such as 标题/title, else a 《book title》, else its first line --
    cut to ~60 characters and without Markdown heading marks. The first line alone is
    usually the instruction itself ("根据以下标题：“…”，创作长文章…"), not a title."""
    text = article.instruction.strip()
    quoted = [(m.start(), next(g for g in m.groups() if g)) for m in _QUOTES.finditer(text)]
    for start, inner in quoted:
        if _TITLE_WORD.search(text[max(0, start - 12) : start]) and inner.strip():
            return _short(inner)
    for m in re.finditer(r"《([^《》\n]{1,80})》", text):
        if m.group(1).strip():
            return _short(m.group(1))
    first = text.splitlines()[0] if text else ""
    return _short(first) or _("Illustrated article")


def _short(text: str) -> str:
    text = re.sub(r"^\s*#+\s*", "", text).strip()
    if len(text) <= TITLE_CHARS:
        return text
    cut = text[:TITLE_CHARS]
    space = cut.rfind(" ")
    if space > TITLE_CHARS // 2:  # end at a word where there are words
        cut = cut[:space]
    return cut.rstrip(" ,.;:，。；：、") + "…"


_ENTITY = re.compile(r"&(?=#?\w+;)")
_INLINE = re.compile(r"([\\`*_\[\]~$|])")
_LINE_START = re.compile(r"^([#+\-=])|^(\d+)(?=[.)])", re.MULTILINE)


def _escape_line_start(m: re.Match) -> str:
    return "\\" + m.group(1) if m.group(1) else m.group(2) + "\\"


def markdown_text(text: str) -> str:
    """``text`` as Markdown that renders as exactly that text: raw HTML and entities
    escaped, emphasis/code/link/math characters backslash-escaped, and a line that would
    start a heading, list or rule escaped too."""
    out = _ENTITY.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    out = _INLINE.sub(r"\\\1", out)
    out = "\n".join(line.lstrip() for line in out.split("\n"))  # no indented code blocks
    return _LINE_START.sub(_escape_line_start, out)


def _image_files(article: Article) -> list[tuple[int, str, ImageInput]]:
    """(paragraph index, zip path, image) for every chosen image, names made unique."""
    out = []
    for n, i in enumerate(article.slots, start=1):
        img = article.paragraphs[i].image.image  # type: ignore[union-attr]
        assert img is not None
        ext = _EXT.get(image_format(img), "png")
        out.append((i, f"images/{n:02d}_{safe_stem(img.name)}.{ext}", img))
    return out


def to_markdown(article: Article) -> str:
    files = {i: path for i, path, _img in _image_files(article)}
    lines = [f"# {markdown_text(title_of(article))}", ""]
    for i, p in enumerate(article.paragraphs):
        lines += [markdown_text(p.text), ""]
        if i in files:
            cap = p.image.caption if p.image else ""  # type: ignore[union-attr]
            alt = cap.replace("[", "(").replace("]", ")")
            lines += [f"![{alt}]({files[i]})", ""]
            credit = p.image.image.credit if p.image and p.image.image else None  # type: ignore[union-attr]
            if credit is not None:
                lines += [f"*{credit.markdown(markdown_text)}*", ""]
    return "\n".join(lines).rstrip() + "\n"


def credits_text(article: Article) -> str:
    """One line per credited picture, for the zip's CREDITS.txt."""
    lines = []
    for _i, path, img in _image_files(article):
        if img.credit is not None:
            lines.append(f"{path}: {img.credit.text()}")
    return "\n".join(lines) + ("\n" if lines else "")


def to_zip(article: Article) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("article.md", to_markdown(article))
        for _i, path, img in _image_files(article):
            zf.writestr(path, img.data)
        credits = credits_text(article)
        if credits:
            zf.writestr("CREDITS.txt", credits)
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
            credit = f'<br><small class="credit">{img.credit.html()}</small>' if img.credit else ""
            body.append(
                f'<figure><img src="data:{mime};base64,{data}" alt="{cap}">'
                f"<figcaption>{cap}{credit}</figcaption></figure>"
            )
    style = (
        "body{max-width:46rem;margin:2rem auto;padding:0 1rem;font:17px/1.7 system-ui,"
        '"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif}'  # Chinese
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
