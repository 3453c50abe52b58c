"""HTTP for the online picture sources: timeouts, size caps, rate limits, cool-downs.

Plain ``urllib`` (no extra dependency): each source does one search request and a few
image downloads per slot. What matters is how failures read and that none of them
holds the article up:

- every failure is a :class:`SourceError` whose message can be shown as is;
- a ``429 Too Many Requests`` (or 503) with ``Retry-After`` -- what Wikimedia's and
  Openverse's servers send when throttling -- puts the source on a cool-down for that
  long (capped), and an unreachable host (offline machine) for a minute, so the next
  slots skip it at once and fall back to the other sources instead of waiting again.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
import urllib.error
import urllib.request

from demo_core.engine.base import EngineError
from demo_core.i18n import _

# Wikimedia's User-Agent policy asks every client to name itself and a way to reach its
# operator; ``image_sources.user_agent`` in settings.json replaces this with yours.
USER_AGENT = "InternLM-Demo-Studio/0.1 (classroom XComposer2 demo; image search) Python-urllib"
MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_IMAGE_BYTES = 10 * 1024 * 1024
OFFLINE_COOLDOWN_S = 60.0
MAX_COOLDOWN_S = 15 * 60.0


class SourceError(EngineError):
    """A source failed for this request; the message says how, for the user."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date (RFC 9110 allows both)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Cooldowns:
    """Sources that asked to be left alone, and until when (shared by every session:
    a rate limit applies to the machine's address, not to one browser tab)."""

    def __init__(self) -> None:
        self._until: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def block(self, name: str, seconds: float, why: str) -> None:
        with self._lock:
            self._until[name] = (time.monotonic() + min(seconds, MAX_COOLDOWN_S), why)

    def why_blocked(self, name: str) -> str | None:
        """The reason ``name`` is resting, with the time left; None when it may be asked."""
        with self._lock:
            hit = self._until.get(name)
            if hit is None:
                return None
            left = hit[0] - time.monotonic()
            if left <= 0:
                del self._until[name]
                return None
            return _("{why}; trying again in {s} s").format(why=hit[1], s=max(1, round(left)))

    def clear(self) -> None:
        with self._lock:
            self._until.clear()


COOLDOWNS = Cooldowns()


def get(url: str, timeout_s: float, limit: int, what: str, user_agent: str = "") -> bytes:
    """The body of ``GET url`` (at most ``limit`` bytes), or a :class:`SourceError`
    naming ``what`` was asked for."""
    request = urllib.request.Request(url, headers={"User-Agent": user_agent or USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            data = resp.read(limit + 1)
    except urllib.error.HTTPError as exc:
        wait = retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
        why = _error_detail(exc)
        if exc.code == 429:
            raise SourceError(
                _("{what}: too many requests (HTTP 429)").format(what=what),
                wait if wait is not None else OFFLINE_COOLDOWN_S,
            ) from None
        if exc.code == 503 and wait is not None:
            raise SourceError(
                _("{what}: service unavailable (HTTP 503)").format(what=what), wait
            ) from None
        raise SourceError(
            _("{what}: HTTP {code}").format(what=what, code=exc.code) + (f" ({why})" if why else "")
        ) from None
    except TimeoutError:
        raise SourceError(
            _("{what}: no answer within {s:g} s").format(what=what, s=timeout_s)
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise SourceError(
                _("{what}: no answer within {s:g} s").format(what=what, s=timeout_s)
            ) from None
        raise SourceError(
            _("{what}: cannot connect ({reason}); is this machine offline?").format(
                what=what, reason=reason
            ),
            OFFLINE_COOLDOWN_S,
        ) from None
    if len(data) > limit:
        raise SourceError(
            _("{what}: more than {mb} MB").format(what=what, mb=max(1, limit // 2**20))
        )
    return data


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """What a JSON error body says (Openverse/DRF ``detail``, MediaWiki ``error.info``)."""
    try:
        body = json.loads(exc.read(64 * 1024) or b"null")
    except (OSError, ValueError):
        return ""
    if not isinstance(body, dict):
        return ""
    detail = body.get("detail")
    if isinstance(detail, dict):  # field -> [messages]
        detail = "; ".join(
            f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in detail.items()
        )
    if detail is None and isinstance(body.get("error"), dict):
        detail = body["error"].get("info")
    return str(detail)[:300] if detail else ""


def get_json(url: str, timeout_s: float, what: str, user_agent: str = "") -> object:
    data = get(url, timeout_s, MAX_JSON_BYTES, what, user_agent)
    try:
        return json.loads(data)
    except ValueError:
        raise SourceError(_("{what}: the answer is not JSON").format(what=what)) from None
