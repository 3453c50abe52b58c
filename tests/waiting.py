"""Helpers for tests that drive an engine from several threads at once."""

from __future__ import annotations

import time
from collections.abc import Callable


def ask(text: str) -> list[dict]:
    """A conversation of one user message."""
    return [{"role": "user", "content": text}]


def wait_until(cond: Callable[[], bool], timeout_s: float = 120.0) -> None:
    """Poll ``cond`` until it holds; fail (rather than hang) if it never does."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)
