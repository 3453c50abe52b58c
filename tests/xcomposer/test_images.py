"""Images are checked and normalised once, when they enter the app (``load_image``):
8-bit RGB, upright, 16-bit scaled rather than clipped, over-large ones refused with their
size -- so display, the model and the export all see the same, safe picture."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from demo_core.xcomposer.images import MAX_PIXELS, ImageError, load_image, open_image


def _save(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _gradient16() -> bytes:
    """A 16-bit greyscale left-to-right gradient over the whole 0..65535 range."""
    row = np.linspace(0, 65535, 256).astype(np.uint16)
    img = Image.fromarray(np.tile(row, (64, 1)))
    assert img.mode == "I;16"
    return _save(img)


def _opened(item) -> Image.Image:
    img = Image.open(io.BytesIO(item.data))
    img.load()
    return img


def test_16_bit_greyscale_becomes_8_bit_rgb_that_streamlit_can_encode():
    item = load_image(_gradient16(), "gray16.png")
    img = _opened(item)
    assert img.mode == "RGB" and img.size == (256, 64)
    img.save(io.BytesIO(), format="JPEG")  # what st.image does with it; I;16 raised here


def test_16_bit_gradient_keeps_its_tones():
    """convert("RGB") clipped everything above 255/65535 to white (mean ~254)."""
    for img in (_opened(load_image(_gradient16(), "g.png")), open_image(_gradient16())):
        mean = float(np.asarray(img).mean())
        assert 120 < mean < 135, mean


@pytest.mark.parametrize(
    "mode,top", [("I", 65535), ("F", 1.0)], ids=["32-bit int holding 16-bit", "float 0..1"]
)
def test_other_deep_modes_are_scaled_by_their_range(mode, top):
    row = np.linspace(0, top, 128, dtype=np.float32 if mode == "F" else np.int32)
    img = Image.fromarray(np.tile(row, (8, 1)), mode)
    rgb = open_image(_save(img, "TIFF"))
    assert rgb.mode == "RGB" and 120 < float(np.asarray(rgb).mean()) < 135


def test_exif_rotated_jpeg_is_turned_upright():
    """A phone photo stored sideways with EXIF orientation 6 (rotate 90° clockwise)."""
    stored = Image.new("RGB", (40, 20), "blue")
    stored.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _save(stored, "JPEG", exif=exif.tobytes(), quality=95)
    item = load_image(data, "phone.jpg")
    img = _opened(item)
    assert img.format == "JPEG" and img.size == (20, 40)
    assert img.getexif().get(0x0112, 1) == 1  # no second rotation by a viewer
    top, bottom = img.getpixel((10, 5)), img.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60, top  # the red half is now on top
    assert bottom[2] > 200 and bottom[0] < 60, bottom
    assert open_image(data).size == (20, 40)  # the model sees it upright too


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.new("RGBA", (8, 8), (0, 0, 0, 0)),
        lambda: Image.new("LA", (8, 8), (0, 0)),
        lambda: Image.new("L", (8, 8), 128),
        lambda: Image.new("1", (8, 8), 1),
        lambda: Image.new("P", (8, 8), 3),
    ],
    ids=["RGBA", "LA", "L", "1", "P"],
)
def test_every_mode_becomes_rgb(make):
    img = _opened(load_image(_save(make()), "x.png"))
    assert img.mode == "RGB"


def test_transparent_becomes_white_and_cmyk_jpeg_stays_jpeg():
    rgba = _opened(load_image(_save(Image.new("RGBA", (4, 4), (0, 0, 0, 0))), "t.png"))
    assert rgba.getpixel((0, 0)) == (255, 255, 255)
    cmyk = _opened(load_image(_save(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG"), "c.jpg"))
    assert cmyk.format == "JPEG" and cmyk.mode == "RGB"


def test_ordinary_rgb_bytes_are_kept_untouched():
    data = _save(Image.new("RGB", (8, 6), "green"))
    assert load_image(data, "g.png").data is data


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` (only the header: Image.open is lazy)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "size",
    [(9500, 9500), (12000, 12000), (30000, 30000)],
    ids=["app limit", "bomb warning", "bomb error"],
)
def test_too_large_images_say_their_size(size):
    """Above Pillow's limits (~89 and ~179 Mpx) this used to say 'not an image'."""
    assert size[0] * size[1] > MAX_PIXELS
    with pytest.raises(ImageError, match=rf"too large: {size[0]}×{size[1]} pixels.*limit is 80"):
        load_image(_png_header(*size), "big.png")


def test_unreadable_inputs_are_still_clear_errors():
    with pytest.raises(ImageError, match="empty"):
        load_image(b"", "e.png")
    with pytest.raises(ImageError, match="not an image"):
        load_image(b"plain text", "t.png")
    data = _save(Image.new("RGB", (64, 64), "red"), "JPEG")
    with pytest.raises(ImageError, match="damaged|truncated"):
        load_image(data[: len(data) // 2], "cut.jpg")


def test_library_images_are_normalised_and_broken_ones_skipped(tmp_path):
    from types import SimpleNamespace

    from demo_core.xcomposer.composer import Composer
    from demo_core.xcomposer.library import load_library

    (tmp_path / "grey_sky.png").write_bytes(_gradient16())
    (tmp_path / "grey_cloud.png").write_bytes(b"not a png at all")
    composer = Composer(SimpleNamespace(markers=None), load_library(tmp_path))
    found = composer.candidates("grey sky cloud", [], set(), k=4)
    assert [i.name for i in found] == ["grey_sky.png"]
    assert _opened(found[0]).mode == "RGB"
    assert any("grey_cloud.png" in n and n.startswith("Image library") for n in composer.notices)
