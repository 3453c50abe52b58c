"""Images in OpenAI chat messages: ``content`` as a list of text and ``image_url`` parts.

Vision servers (LMDeploy serving XComposer2-VL, vLLM) take images inline as
``data:`` URLs, so nothing has to be hosted anywhere and the request is self-contained.
Pages hand over messages with an ``images`` list (PIL images, bytes or paths); this turns
them into the wire format and back into plain text where only text is wanted.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

from demo_core.engine.base import EngineError, Message
from demo_core.i18n import _

# XComposer2-VL at 490 px: a 35 x 35 patch grid per image. Only used to budget the context.
IMAGE_TOKENS_ESTIMATE = 1225

_MAGIC = {
    b"\x89PNG": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
    b"RIFF": "image/webp",
    b"BM": "image/bmp",
}


def _sniff(data: bytes) -> str | None:
    for magic, mime in _MAGIC.items():
        if data.startswith(magic):
            return mime
    return None


def image_data_url(image: object) -> str:
    """``data:image/...;base64,...`` for a PIL image, raw image bytes or a file path."""
    if isinstance(image, str) and image.startswith("data:image/"):
        return image
    if isinstance(image, (str, Path)):
        try:
            image = Path(image).read_bytes()
        except OSError as exc:
            raise EngineError(
                _("cannot read image {name}: {error}").format(name=image, error=exc)
            ) from None
    if isinstance(image, (bytes, bytearray)):
        data = bytes(image)
        mime = _sniff(data)
        if mime is None:
            raise EngineError(_("an attached file is not a PNG, JPEG, GIF, WebP or BMP image"))
    else:
        save = getattr(image, "save", None)
        if save is None:
            raise EngineError(
                _("cannot send a {kind} as an image").format(kind=type(image).__name__)
            )
        buf = io.BytesIO()
        img = image
        if getattr(img, "mode", "RGB") not in ("RGB", "L", "RGBA"):
            img = img.convert("RGB")  # type: ignore[attr-defined]
        img.save(buf, format="PNG")  # type: ignore[attr-defined]
        data, mime = buf.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def to_wire(message: Message) -> dict:
    """One message in OpenAI form; ``images`` become ``image_url`` parts after the text."""
    images = message.get("images") or []
    content = message.get("content", "")
    if not images:
        return {"role": message["role"], "content": content}
    parts: list[dict] = []
    if isinstance(content, list):
        parts.extend(content)
    elif content:
        parts.append({"type": "text", "text": content})
    for img in images:
        parts.append({"type": "image_url", "image_url": {"url": image_data_url(img)}})
    return {"role": message["role"], "content": parts}


def text_of(message: Message) -> str:
    """The text of a message whatever its content form (for templates and token budgets)."""
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


def image_count(message: Message) -> int:
    content = message.get("content", "")
    inline = (
        sum(1 for p in content if p.get("type") == "image_url") if isinstance(content, list) else 0
    )
    return inline + len(message.get("images") or [])


def text_only(messages: Sequence[Message]) -> list[Message]:
    return [{"role": m["role"], "content": text_of(m)} for m in messages]
