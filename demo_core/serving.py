"""Models served over the OpenAI-compatible API (LMDeploy, vLLM): where, and whether up.

A model whose settings say ``"backend": "openai"`` has no weights on this machine and is
not "missing": every place that lists models (the pickers, Home, the Models page, the
agent's sidebar) asks here first, so they all say "served at <url>" with the same health
dot. The health probe is the server's ``/v1/models`` (what :meth:`OpenAIEngine.health`
asks); its answer is kept for a few seconds so drawing a list of models never waits on a
slow server more than once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from demo_core import settings
from demo_core.engine.base import EngineError

HEALTH_TTL_S = 15.0
HEALTH_TIMEOUT_S = 2.0

_cache: dict[tuple[str, str], tuple[float, Health]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str  # the server's models, or why it is not answering

    @property
    def dot(self) -> str:
        return "🟢" if self.ok else "🔴"


def served_url(key: str) -> str | None:
    """The API address a model is served at (settings.json), or None if it runs here."""
    entry = settings.model_settings(key)
    if entry.get("backend") != "openai":
        return None
    url = entry.get("base_url")
    return url.strip().rstrip("/") if isinstance(url, str) and url.strip() else "?"


def health(key: str, *, fresh: bool = False) -> Health | None:
    """Whether the server of a served model answers (None: the model is not served)."""
    url = served_url(key)
    if url is None:
        return None
    now = time.monotonic()
    with _lock:
        hit = _cache.get((key, url))
    if hit is not None and not fresh and now - hit[0] < HEALTH_TTL_S:
        return hit[1]
    result = _probe(key)
    with _lock:
        _cache[(key, url)] = (time.monotonic(), result)
    return result


def _probe(key: str) -> Health:
    from demo_core.engine.openai_backend import OpenAIEngine, config_from_settings

    try:
        engine = OpenAIEngine(config_from_settings(key, settings.model_settings(key)))
        ids = engine.health(timeout_s=HEALTH_TIMEOUT_S)
    except EngineError as exc:
        return Health(False, str(exc))
    except Exception as exc:  # a listing must never fail on a bad server
        return Health(False, f"{type(exc).__name__}: {exc}")
    return Health(True, ", ".join(ids))


def served_label(key: str) -> str | None:
    """``"served at <url> 🟢"`` for a served model, else None."""
    from demo_core.i18n import _

    url = served_url(key)
    if url is None:
        return None
    h = health(key)
    return _("served at {url}").format(url=url) + (f" {h.dot}" if h else "")
