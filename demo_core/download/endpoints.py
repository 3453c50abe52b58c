"""The endpoints a download form offers for each source, and which one to preselect.

Kept apart from the widgets so the Models page's download form and its homework form
offer the same list in the same order, and so the choice the environment already makes
(``HF_ENDPOINT``, ``MODELSCOPE_DOMAIN``, ``OPENXLAB_ENDPOINT``) can be tested without
Streamlit.
"""

from __future__ import annotations

import os

from demo_core.download.api import ENDPOINT_ENV
from demo_core.download.hub import MIRROR, OFFICIAL
from demo_core.download.modelscope_source import DEFAULT_ENDPOINT as MODELSCOPE
from demo_core.download.openxlab_source import DEFAULT_ENDPOINT as OPENXLAB
from demo_core.i18n import _

OFFICIAL_ENDPOINTS = {"hf": OFFICIAL, "modelscope": MODELSCOPE, "openxlab": OPENXLAB}


def endpoint_choices(source: str) -> dict[str, str | None]:
    """``{label: url}`` for ``source`` in the current language: the official site, the
    Hugging Face mirror (hub only), and last a custom URL (``None``: the user types it).
    Built per call because the labels follow the language of the run."""
    official = OFFICIAL_ENDPOINTS[source]
    choices: dict[str, str | None] = {_("Official ({url})").format(url=official): official}
    if source == "hf":
        choices[_("Mirror ({url})").format(url=MIRROR)] = MIRROR
    choices[_("Custom URL")] = None
    return choices


def env_endpoint(source: str) -> str:
    """The endpoint the environment names for ``source`` ("" when none), without a
    trailing slash, so it compares equal to the known URLs."""
    return os.environ.get(ENDPOINT_ENV[source], "").strip().rstrip("/")


def preselected(choices: dict[str, str | None], env: str) -> int:
    """Index of the choice to start on: the known endpoint ``env`` names, else the custom
    URL when ``env`` names another one, else the first (official)."""
    for i, url in enumerate(choices.values()):
        if url and url == env:
            return i
    if env:
        return next(i for i, url in enumerate(choices.values()) if url is None)
    return 0
