"""Turn uploaded bytes into the pixel tensors the vision tower expects.

The original resized with torchvision (PIL bicubic), scaled to [0, 1] and normalised
with CLIP's mean/std; torchvision is not a dependency here, so the same three steps are
done with PIL and torch. Anything that is not a readable image becomes an
:class:`ImageError` whose message can be shown to the user as is.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass

import torch
from PIL import Image, UnidentifiedImageError

from demo_core.engine.base import EngineError
from demo_core.xcomposer.config import CLIP_MEAN, CLIP_STD

MAX_PIXELS = 80_000_000  # larger than any photo; stops decompression bombs


class ImageError(EngineError):
    """An upload that cannot be used as an image; the message names the file."""


@dataclass(frozen=True)
class ImageInput:
    """One image as the user gave it: a display name and the encoded bytes."""

    name: str
    data: bytes

    def open(self) -> Image.Image:
        return open_image(self.data, self.name)


MAX_PASTE_BYTES = 20 * 1024 * 1024
_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]+)$", re.IGNORECASE)


def from_data_url(data_url: object, name: str = "pasted image") -> ImageInput:
    """A pasted image (``data:image/...;base64,...`` from the browser) as an
    :class:`ImageInput`, checked like an upload: a non-image, a malformed payload or an
    over-large one is an :class:`ImageError` with a message, never a crash."""
    if not isinstance(data_url, str):
        raise ImageError(f"{name}: the clipboard held no image")
    if len(data_url) > MAX_PASTE_BYTES * 4 // 3 + 100:
        raise ImageError(f"{name} is larger than {MAX_PASTE_BYTES // 2**20} MB")
    match = _DATA_URL.match(data_url.strip())
    if not match:
        raise ImageError(f"{name}: the clipboard held something that is not an image")
    try:
        data = base64.b64decode(match.group(2), validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(f"{name}: the pasted data is damaged ({exc})") from None
    item = ImageInput(name, data)
    open_image(item.data, item.name)  # decodes fully: truncation is caught now
    return item


def open_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode fully (so truncation is caught now, not mid-generation) and convert to RGB;
    transparent areas become white rather than undefined colours."""
    if not data:
        raise ImageError(f"{name} is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(f"{name} is too large ({img.width}x{img.height} pixels)")
            img.load()
    except ImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{name} is not an image this app can read (PNG, JPEG, WebP, GIF, BMP)"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{name} is damaged or truncated ({exc})") from None
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.split()[-1])
        return background
    return img.convert("RGB")


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
