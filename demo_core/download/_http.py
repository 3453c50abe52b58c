"""The HTTP client module huggingface_hub itself uses, so its session and errors match.

huggingface_hub 2.x is built on ``httpx2`` (a fork with the same API), 1.x on ``httpx``.
"""

from __future__ import annotations

try:
    import httpx2 as httpx
except ImportError:  # huggingface_hub 1.x
    import httpx  # type: ignore[no-redef]

__all__ = ["httpx"]
