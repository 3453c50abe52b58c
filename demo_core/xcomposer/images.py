"""Images entering the app, and the pixel tensors the vision tower expects.

Every image the app keeps -- an upload, a paste, a library file, an online result -- goes
through :func:`load_image` once, when it enters: checked (not empty, not truncated, not
too large) and normalised to 8-bit RGB with its EXIF orientation applied. Streamlit's
``st.image`` re-encodes what it shows and crashes on modes such as 16-bit greyscale;
a phone photo would show sideways; the vision tower would see a clipped or rotated
picture. Normalising at the door means everything later (display, the model, the
export) sees the same, safe image.

The original resized with torchvision (PIL bicubic), scaled to [0, 1] and normalised
with CLIP's mean/std; torchvision is not a dependency here, so the same three steps are
done with PIL and torch. Anything that is not a readable image becomes an
:class:`ImageError` whose message can be shown to the user as is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from demo_core.engine.base import EngineError
from demo_core.i18n import _, format_number, format_size
from demo_core.xcomposer.config import CLIP_MEAN, CLIP_STD
from demo_core.xcomposer.credit import Credit

MAX_PIXELS = 80_000_000  # larger than any photo; stops decompression bombs
READABLE = "PNG, JPEG, WebP, GIF, BMP"
_KEEP_AS_IS = {"PNG", "JPEG", "WEBP"}  # formats whose RGB bytes every browser shows
_ORIENTATION = 0x0112  # EXIF tag


class ImageError(EngineError):
    """An upload that cannot be used as an image; the message names the file."""


@dataclass(frozen=True)
class ImageInput:
    """One image as the app keeps it: a display name and encoded bytes that decode to
    8-bit RGB, upright (see :func:`load_image`). ``credit``: where it came from (an
    online source's attribution, or that it was generated); None for the user's own."""

    name: str
    data: bytes
    credit: Credit | None = field(default=None, compare=False)

    def open(self) -> Image.Image:
        return open_image(self.data, self.name)

    @cached_property
    def digest(self) -> str:
        """Content hash: the same picture added twice is recognised whatever its name."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def extension(self) -> str:
        """``png``/``jpg``/``webp`` from the bytes themselves (names can lie)."""
        return {"JPEG": "jpg", "WEBP": "webp"}.get(_format_of(self.data), "png")


MAX_PASTE_BYTES = 20 * 1000**2  # MB as the browser counts them (see agent.uploads)
_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]+)$", re.IGNORECASE)


def from_data_url(data_url: object, name: str | None = None) -> ImageInput:
    """A pasted image (``data:image/...;base64,...`` from the browser) as an
    :class:`ImageInput`, checked and normalised like an upload: a non-image, a malformed
    payload or an over-large one is an :class:`ImageError` with a message, never a crash."""
    name = name or _("pasted image")
    if not isinstance(data_url, str):
        raise ImageError(_("{name}: the clipboard held no image").format(name=name))
    if len(data_url) > MAX_PASTE_BYTES * 4 // 3 + 100:
        raise ImageError(
            _("{name} is larger than {size}").format(
                name=name, size=format_size(MAX_PASTE_BYTES, binary=True)
            )
        )
    match = _DATA_URL.match(data_url.strip())
    if not match:
        raise ImageError(
            _("{name}: the clipboard held something that is not an image").format(name=name)
        )
    try:
        data = base64.b64decode(match.group(2), validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(
            _("{name}: the pasted data is damaged ({error})").format(name=name, error=exc)
        ) from None
    return load_image(data, name)


def read_pasted(items: Sequence[dict], already: int = 0) -> tuple[list[ImageInput], list[str]]:
    """The images of one paste (``{"url": data URL}`` each, as the paste box sends them)
    and a message per item that is not one. Accepted images are named ``pasted-N.<ext>``:
    N counts on from the ``already`` pasted ones, counting accepted images only, and the
    extension is the image's real format (a pasted JPEG is not a ``.png``). A refused
    item is named by its place in the paste, never by a number it did not get."""
    images: list[ImageInput] = []
    errors: list[str] = []
    for k, item in enumerate(items, start=1):
        what = (
            _("The pasted item")
            if len(items) == 1
            else _("Pasted item {k} of {n}").format(k=k, n=len(items))
        )
        try:
            image = from_data_url(item.get("url") if isinstance(item, dict) else None, what)
        except ImageError as exc:
            errors.append(str(exc))
            continue
        n = already + len(images) + 1
        images.append(replace(image, name=f"pasted-{n}.{image.extension}"))
    return images, errors


def load_image(data: bytes, name: str = "image") -> ImageInput:
    """Check ``data`` and return it as the app keeps images: 8-bit RGB, upright.

    Bytes that already are that (an RGB PNG/JPEG/WebP without a rotation tag) are kept
    untouched, so nothing is recompressed for nothing; anything else is re-encoded once
    -- JPEG stays JPEG (quality 92), every other format becomes PNG."""
    img, source = _decode(data, name)
    try:
        upright = img.getexif().get(_ORIENTATION, 1) in (0, 1)
    except Exception:  # a broken EXIF block: exif_transpose ignores it as well
        upright = True
    if img.mode == "RGB" and upright and source in _KEEP_AS_IS:
        return ImageInput(name, data)
    rgb = _normalise(img, name)
    buf = io.BytesIO()
    if source == "JPEG":
        rgb.save(buf, format="JPEG", quality=92)
    else:
        rgb.save(buf, format="PNG")
    return ImageInput(name, buf.getvalue())


def open_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode fully (so truncation is caught now, not mid-generation) and normalise: 8-bit
    RGB, EXIF orientation applied, transparent areas white rather than undefined colours,
    16-bit and float images scaled down to 8 bits rather than clipped to white."""
    img, _format = _decode(data, name)
    return _normalise(img, name)


def too_large(name: str, size: tuple[int, int] | None) -> ImageError:
    limit = _("the limit is {n} megapixels").format(n=format_number(MAX_PIXELS / 1e6))
    if size is None:
        return ImageError(_("{name} is too large; {limit}").format(name=name, limit=limit))
    w, h = size
    return ImageError(
        _("{name} is too large: {w}×{h} pixels ({mp} megapixels); {limit}").format(
            name=name, w=w, h=h, mp=format_number(w * h / 1e6), limit=limit
        )
    )


def _decode(data: bytes, name: str) -> tuple[Image.Image, str]:
    """The fully loaded image and its file format. The size is checked from the header
    before any pixel is decoded: ``Image.open`` only reads the header, but Pillow's own
    bomb check in it fires first (a warning above ~89 Mpx, an error above ~179 Mpx), so
    it is silenced there and the app's smaller limit applies with a clear message."""
    if not data:
        raise ImageError(_("{name} is empty").format(name=name))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise too_large(name, _header_size(data)) from None
    except UnidentifiedImageError:
        raise ImageError(
            _("{name} is not an image this app can read ({formats})").format(
                name=name, formats=READABLE
            )
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(
            _("{name} is damaged or truncated ({error})").format(name=name, error=exc)
        ) from None
    if img.width * img.height > MAX_PIXELS:
        raise too_large(name, img.size)
    source = (img.format or "").upper()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large(name, img.size) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(
            _("{name} is damaged or truncated ({error})").format(name=name, error=exc)
        ) from None
    return img, source


def _header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header alone, past Pillow's bomb check (which
    ``Image.open`` runs and which refuses to say the size)."""
    Image.init()
    prefix = data[:16]
    for factory, accept in list(Image.OPEN.values()):
        try:
            if accept is not None and accept(prefix) is not True:
                continue
            return factory(io.BytesIO(data), "").size
        except Exception:
            continue
    return None


def _format_of(data: bytes) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return (Image.open(io.BytesIO(data)).format or "").upper()
    except Exception:
        return ""


def _normalise(img: Image.Image, name: str) -> Image.Image:
    """8-bit RGB, upright, alpha flattened on white."""
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a malformed EXIF block: show the pixels as stored
        pass
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        img = _to_8bit(img)
    try:
        if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
            rgba = img.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageError(
            _("{name} uses a colour mode this app cannot convert ({mode}: {error})").format(
                name=name, mode=img.mode, error=exc
            )
        ) from None


def _to_8bit(img: Image.Image) -> Image.Image:
    """Greyscale deeper than 8 bits -> 8-bit ``L``, scaled by the mode's range (16-bit:
    0..65535; float: 0..1), not clipped: ``convert("RGB")`` of a 16-bit image saturates
    everything above 255 to white. Values outside the expected range are stretched."""
    arr = np.asarray(img, dtype=np.float64)
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if img.mode.startswith("I;16"):
        top = 65535.0
    elif img.mode == "F" and lo >= 0 and hi <= 1:
        top = 1.0
    elif lo >= 0 and hi <= 255:
        top = 255.0
    elif img.mode == "I" and lo >= 0 and hi <= 65535:
        top = 65535.0
    else:  # an unusual range (negative, 32-bit): stretch what is there
        arr, top = arr - lo, max(hi - lo, 1e-12)
    scaled = np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled, "L")


def to_pixels(img: Image.Image, size: int) -> torch.Tensor:
    """``[3, size, size]`` float32: bicubic resize (aspect not kept, as the original),
    /255, CLIP mean/std."""
    resized = img.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    raw = torch.frombuffer(bytearray(resized.tobytes()), dtype=torch.uint8)
    arr = raw.view(size, size, 3).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    return (arr - mean) / std


def pixels_for(images: list[Image.Image], size: int) -> torch.Tensor:
    return torch.stack([to_pixels(i, size) for i in images], dim=0)
