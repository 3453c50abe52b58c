"""A chat reply as a background job of the workspace, saved while it streams.

The reply's row is created in the store (status ``streaming``) before the first token;
the job saves the text so far at least once a second and the final text, status and
stats at the end. So a reload, a lost tunnel or another tab never loses a reply: the
job goes on (within the rules of :mod:`demo_core.jobs`), and whichever tab of the
workspace looks next finds it running or finished in the store. If the server itself
dies, the store marks the row ``cutoff`` on the next start and the text saved up to the
last second is kept.

``ended`` in the stats says why the reply ended (``conversation.ENDED``), for the
stats line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from demo_core.engine.base import ChatEngine, EngineError, GenerationParams
from demo_core.i18n import _
from demo_core.jobs import ABANDONED, JOBS, REPLACED, STOPPED, Job, JobStep
from demo_core.store import Store, StoreError

log = logging.getLogger(__name__)

FLUSH_S = 1.0
FINAL_TRIES = 20  # the end is retried (a locked database) for about this many seconds


def slot(cid: str) -> str:
    return f"chat:{cid}"


def ended_reason(job: Job, finish_reason: str, failed: bool) -> str:
    if failed:
        return "error"
    if job.end_reason:
        return job.end_reason
    if finish_reason in ("cancelled", ""):
        return STOPPED
    return finish_reason


def start_reply(
    store: Store,
    ws: str,
    cid: str,
    engine: ChatEngine,
    messages: Sequence[dict],
    params: GenerationParams,
    *,
    parent: str | None,
    continue_mid: str | None = None,
    continue_text: str = "",
    flush_s: float = FLUSH_S,
) -> Job:
    """Start the reply to ``messages`` under message ``parent`` (a new alternative when
    ``parent`` already has replies), or continue reply ``continue_mid`` whose text so
    far is ``continue_text``. Raises :class:`StoreError` when the row cannot be made."""
    label = engine.info.label
    if continue_mid is None:
        mid = store.add_message(
            cid, "assistant", "", parent=parent, status="streaming", model=label
        )
    else:
        mid = continue_mid
        store.update_message(mid, status="streaming")
        store.set_leaf(cid, mid)

    def save(step: JobStep) -> None:
        store.update_message(mid, content=step.text)

    def work(job: Job) -> str:
        if continue_mid is None:
            gen = engine.stream_chat(messages, params, job.cancel_token)
        else:
            prompt = engine.render_chat(messages) + continue_text
            gen = engine.stream_text(prompt, params, job.cancel_token)
        job.data["trace"] = getattr(gen, "trace", None)  # the "How it works" record, if any
        started = time.monotonic()
        try:
            job.stream(gen, label, progress=save, every_s=flush_s, text=continue_text)
        finally:
            if not gen.done:
                gen.cancel()
            gen.wait(10)
            text = job.steps[-1].text if job.steps else continue_text
            stats = {
                **vars(gen.stats),
                "tokens_per_s": gen.stats.tokens_per_s,
                "dropped": getattr(gen, "dropped_messages", 0),
                "ended": ended_reason(job, gen.stats.finish_reason, gen.error is not None),
            }
            if gen.error is not None:
                status, stats["error"] = "error", str(gen.error)
                why = str(gen.error)
                why = why[:1].upper() + why[1:]
                if text:
                    why += "\n\n" + _("Partial reply: {text}").format(text=text)
                text = why
            elif stats["ended"] in (STOPPED, REPLACED, ABANDONED):
                status = "stopped"
            else:
                status = "done"
            job.data["final"] = (text, status, stats)
            _save_end(store, mid, text, status, stats)
            log.debug("reply %s: %s in %.1f s", mid, status, time.monotonic() - started)
        if gen.error is not None:
            raise EngineError(str(gen.error))
        return text

    job = Job("chat", label, work)
    job.data.update(mid=mid, cid=cid)
    return JOBS.start(ws, slot(cid), job)


def _save_end(store: Store, mid: str, text: str, status: str, stats: dict) -> None:
    for attempt in range(FINAL_TRIES):
        try:
            store.update_message(mid, content=text, status=status, stats=stats)
            return
        except StoreError:
            time.sleep(min(1.0, 0.05 * 2**attempt))
    log.error("the end of reply %s could not be saved", mid)
