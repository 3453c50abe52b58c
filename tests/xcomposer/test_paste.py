"""Images pasted from the clipboard arrive as data URLs and are checked like uploads."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from demo_core.xcomposer.images import MAX_PASTE_BYTES, ImageError, from_data_url, read_pasted


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), "green").save(buf, format="PNG")
    return buf.getvalue()


def _url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def test_pasted_png_becomes_an_image_input():
    item = from_data_url(_url(_png()), "pasted-1.png")
    assert item.name == "pasted-1.png" and item.data == _png()
    assert item.open().size == (8, 6)


@pytest.mark.parametrize(
    "payload,problem",
    [
        (None, "no image"),
        ("hello", "not an image"),
        (_url(b"text", "text/plain"), "not an image"),
        (_url(_png()[:30]), "pasted"),  # truncated PNG
        (_url(b"GIF89a broken"), "pasted"),
        ("data:image/png;base64," + "A" * (MAX_PASTE_BYTES * 2), "larger than"),
    ],
)
def test_bad_pastes_are_clear_errors(payload, problem):
    with pytest.raises(ImageError, match=problem):
        from_data_url(payload, "pasted-1.png")


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), "blue").save(buf, format="JPEG")
    return buf.getvalue()


def test_pasted_images_are_named_by_their_format_and_counted_when_accepted():
    """Every paste was called pasted-N.png, JPEGs too; a refused paste's error named the
    number the next accepted image would get."""
    items = [{"url": _url(_jpeg(), "image/jpeg")}, {"error": "no image"}, {"url": _url(_png())}]
    images, errors = read_pasted(items, already=2)
    assert [i.name for i in images] == ["pasted-3.jpg", "pasted-4.png"]
    assert errors == ["Pasted item 2 of 3: the clipboard held no image"]
    images, errors = read_pasted([{"url": "text"}], already=4)
    assert images == [] and errors == [
        "The pasted item: the clipboard held something that is not an image"
    ]
    assert "pasted-" not in errors[0]
