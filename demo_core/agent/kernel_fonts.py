"""A CJK font for matplotlib inside the agent's kernel, so Chinese titles are not tofu.

matplotlib ships only DejaVu, which has no Chinese glyphs: a title such as "销售额" came
out as empty boxes, and every missing glyph raised a "Glyph ... missing from font(s)
DejaVu Sans" warning, with absolute paths, that landed in the output and was fed back to
the model. The kernel therefore runs :func:`setup_code` once at start (after the other
imports of its setup): it registers a CJK font file with matplotlib's font manager,
puts it first in the sans-serif list, and silences the glyph warnings and font-manager logs.

Which font: the system's Noto Sans CJK (Debian's fonts-noto-cjk) where it is installed,
else the copy the install brings from PyPI (``noto-cjk-sans-otc``, in site-packages).
Both lie in folders the kernel may read (/usr and the Python installation), inside or
outside a sandbox. Kept as a separate snippet so the kernel's start-up stays in one
place (``kernel.py``) and this only adds to it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

FAMILY = "Noto Sans CJK SC"  # the Simplified Chinese face of the Noto CJK collection
SYSTEM_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian, Ubuntu
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch, Fedora
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
)


def cjk_font_file() -> str | None:
    """The Noto Sans CJK collection to use: the system's, else the PyPI package's."""
    for path in SYSTEM_FONTS:
        if Path(path).is_file():
            return path
    spec = importlib.util.find_spec("noto_cjk_sans_otc")
    if spec is not None and spec.origin:
        packaged = Path(spec.origin).with_name("NotoSansCJK-Regular.ttc")
        if packaged.is_file():
            return str(packaged)
    return None


def setup_code(font_file: str | None = None) -> str:
    """Python for the kernel: register the CJK font and keep glyph warnings out of the
    output. Runs with whatever font is found; without one only the warnings go."""
    path = font_file if font_file is not None else cjk_font_file()
    return f"""\
import logging as _logging
import warnings as _warnings
_warnings.filterwarnings("ignore", message=r"Glyph \\d+ .*missing from")
_logging.getLogger("matplotlib.font_manager").setLevel(_logging.ERROR)
def _demo_studio_cjk_font(path):
    import matplotlib as _mpl
    from matplotlib import font_manager as _fm
    if path is None:
        return
    try:
        _fm.fontManager.addfont(path)
    except (OSError, RuntimeError):
        return
    # first: behind DejaVu Sans it is never asked (DejaVu draws its own box for a
    # missing glyph); its Latin letters are fine
    families = [f for f in _mpl.rcParams["font.sans-serif"] if f != {FAMILY!r}]
    _mpl.rcParams["font.sans-serif"] = [{FAMILY!r}, *families]
    _mpl.rcParams["axes.unicode_minus"] = False  # the CJK face has no U+2212 minus
_demo_studio_cjk_font({path!r})
del _demo_studio_cjk_font
"""
