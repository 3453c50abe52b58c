"""A fix for a Streamlit server race that loses file uploads, installed on import.

When a file is picked in an ``st.file_uploader`` (or ``st.camera_input``), the browser
first asks the server for upload URLs (a ``file_urls_request``) and only adds the file
to the widget, and uploads it, once the answer (a ``file_urls_response``) arrives. The
server puts that answer in the session's outgoing queue, which it empties whenever a
script run starts, keeping only the run's lifecycle messages (and toasts): an answer
still queued at that moment is lost. The browser then waits for it for ever: the file
never shows in the uploader, is never uploaded, and nothing says so; picking it again
works. On this app it happened when a picture was chosen just as a full rerun began:
right after a click on a checkbox, or as a background job's end reruns the page (the
composition's Reference images, the Q&A's pictures). Seen on Streamlit 1.67;
:func:`install` keeps those answers when the queue is emptied for a new run.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

KEPT_TYPES = frozenset({"file_urls_response"})  # answers to a request the browser awaits


def install() -> bool:
    """Patch ``ForwardMsgQueue.clear`` (once per process) so that a clear for a new run
    keeps the queued upload-URL answers. False, and nothing changed, where Streamlit's
    queue is not the one this was written for (its own fix, or another design)."""
    try:
        from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
    except ImportError:
        return False
    original = ForwardMsgQueue.clear
    if getattr(original, "_demo_studio_fix", False):
        return True
    try:
        signature = inspect.signature(original)
    except (TypeError, ValueError):
        return False
    if "retain_lifecycle_msgs" not in signature.parameters or not hasattr(
        ForwardMsgQueue(), "_queue"
    ):
        return False

    @functools.wraps(original)
    def clear(self, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        awaited = (
            [m for m in self._queue if m.WhichOneof("type") in KEPT_TYPES]
            if bound.arguments["retain_lifecycle_msgs"]
            else []
        )
        original(self, *args, **kwargs)
        for msg in awaited:  # not a delta: its place in the queue does not matter
            if not any(msg is m for m in self._queue):
                self._queue.append(msg)

    clear._demo_studio_fix = True  # type: ignore[attr-defined]
    clear._demo_studio_original = original  # type: ignore[attr-defined]
    ForwardMsgQueue.clear = clear  # type: ignore[method-assign]
    return True


install()
