"""Model work that belongs to a workspace but runs outside any tab's script runs.

The one background-job mechanism of the app: chat replies, agent runs and XComposer2
steps all run as a :class:`Job`, and jobs live in :data:`JOBS`, keyed by workspace and a
slot (e.g. the conversation), so a tab that is reloaded -- or a second tab of the same
workspace -- finds the job again instead of losing it. Work that makes something the
user keeps writes its progress to the workspace store through :meth:`Job.stream`'s
``progress`` hook (a chat reply: at least once a second and at the end).

A Streamlit script run ends on every rerun -- any click anywhere on the page -- so a
generation streamed by the script was cancelled by whatever the user touched next, and
when the tab was closed nobody cancelled it at all (the model stayed busy for everyone
until ``max_new_tokens``). A :class:`Job` runs the work on its own thread instead, the
the way every long model call does; the page re-attaches to it on every run, shows
its progress and collects its result when it is over.

A job ends only when its work is done, or when it is cancelled by

* Stop (``job.stop()``),
* a replacement: the page stops it before starting another job in the same place
  (``job.stop(REPLACED)``),
* the workspace being gone: no sign of life for ``grace_s`` seconds. Signs of life are
  :meth:`Job.beat` (a page calls it whenever it runs or polls) and an ``alive`` probe the
  watchdog asks once a second (for a job in :data:`JOBS`: "is any browser session of
  this workspace still connected", so a reload or another page keeps the job).

Whatever was produced before a cancellation stays in the job (``steps``, ``result``), and
the reason is recorded (``end_reason``) so the page can say what happened.

No Streamlit here: the page layer only reads a job's fields and calls its methods.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from demo_core.engine.base import CancelToken, EngineError, Generation
from demo_core.i18n import N_, _
from demo_core.workspace import workspace_alive

log = logging.getLogger(__name__)

STOPPED = "stopped"
REPLACED = "replaced"
ABANDONED = "abandoned"
WHY = {
    STOPPED: N_("Stopped"),
    REPLACED: N_("Interrupted by a new request"),
    ABANDONED: N_("Interrupted because the page was closed"),
}


def default_grace_s() -> float:
    """Seconds without any sign of the session before its job is cancelled (30 s;
    ``DEMO_STUDIO_JOB_GRACE_S`` overrides, e.g. for tests)."""
    try:
        return max(0.1, float(os.environ.get("DEMO_STUDIO_JOB_GRACE_S", "30")))
    except ValueError:
        return 30.0


@dataclass
class JobStep:
    """One model call of a job, with the text it has streamed so far."""

    label: str
    text: str = ""
    done: bool = False
    steps: int = 0  # decoding steps of a beam search, whose text only comes at its end


class Job:
    """``work(job)`` on a background thread; its return value becomes ``result``.

    The work streams its generations through :meth:`stream` (so the page can show them
    and they share the job's cancel token), may set ``result`` early to expose a partial
    result, and adds messages for the user with :meth:`note`. An :class:`EngineError` it
    raises becomes ``error``; any other exception too, logged, never a dead thread.
    """

    def __init__(
        self,
        kind: str,
        label: str,
        work: Callable[[Job], Any],
        *,
        alive: Callable[[], bool] | None = None,
        grace_s: float | None = None,
    ) -> None:
        self.kind = kind
        self.label = label
        self.cancel_token = CancelToken()
        self.steps: list[JobStep] = []
        self.position = 0  # requests ahead of ours in the model's queue (0: running)
        self.notes: list[tuple[str, str]] = []  # (level, message) for the user
        self.result: Any = None
        self.error: str | None = None
        self.end_reason: str | None = None  # STOPPED | REPLACED | ABANDONED
        self.data: dict[str, Any] = {}  # what the page needs to apply the result
        self.grace_s = default_grace_s() if grace_s is None else grace_s
        self.started_at = time.time()
        self._work = work
        self._alive = alive
        self._last_sign = time.monotonic()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.workspace: str | None = None
        self.slot: str | None = None

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> Job:
        # run in a copy of the starter's context: its messages keep the starter's language
        self.thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._run,), daemon=True, name=f"job-{self.kind}"
        )
        self.thread.start()
        threading.Thread(target=self._watch, daemon=True, name=f"job-watch-{self.kind}").start()
        return self

    def _run(self) -> None:
        try:
            value = self._work(self)
            if value is not None:
                self.result = value
        except EngineError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug must not leave the page waiting forever
            log.exception("background job %s failed", self.kind)
            self.error = _("{what} failed unexpectedly: {error}").format(what=self.label, error=exc)
        finally:
            self.position = 0
            self._done.set()

    def _watch(self) -> None:
        """Cancel the job once its session has shown no sign of life for ``grace_s``."""
        period = min(1.0, self.grace_s / 4)
        while not self._done.wait(period):
            if self._alive is not None:
                try:
                    if self._alive():
                        self.beat()
                except Exception:  # a failing probe is no sign of life
                    pass
            if time.monotonic() - self._last_sign > self.grace_s:
                self.stop(ABANDONED)
                return

    def beat(self) -> None:
        """A sign of life from the session (the page ran or polled)."""
        self._last_sign = time.monotonic()

    def stop(self, reason: str = STOPPED) -> None:
        """Cancel; the first reason given is the one reported."""
        with self._lock:
            if self._done.is_set() or self.end_reason is not None:
                return
            self.end_reason = reason
        self.cancel_token.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_token.cancelled

    @property
    def why(self) -> str:
        """How the job was interrupted, for a message ("Stopped", ...)."""
        return _(WHY.get(self.end_reason or "", WHY[STOPPED]))

    # -- for the work function ------------------------------------------------------
    def stream(
        self,
        gen: Generation,
        label: str,
        progress: Callable[[JobStep], None] | None = None,
        every_s: float = 1.0,
        text: str = "",
    ) -> Generation:
        """Follow ``gen`` to its end in a new step (starting from ``text``); returns it
        (check ``gen.error``). ``progress(step)`` is called at most every ``every_s``
        seconds while text arrives (the caller saves it) -- not at the end: the caller
        saves the end itself, with the final stats."""
        step = JobStep(label, text)
        self.steps.append(step)
        saved = time.monotonic()
        for kind, value in gen.events(idle_s=every_s if progress else None):
            if kind == "position":
                self.position = int(value)  # type: ignore[call-overload]
            elif kind == "text":
                step.text += str(value)
            elif kind == "steps":
                step.steps = int(value)  # type: ignore[call-overload]
            if progress is not None and time.monotonic() - saved >= every_s:
                saved = time.monotonic()
                try:
                    progress(step)
                except Exception:  # saving failed: the text is still here, next time
                    log.warning("saving progress of %s failed", self.kind, exc_info=True)
        step.done = True
        self.position = 0
        return gen

    def note(self, level: str, message: str) -> None:
        """A message for the user: ``level`` is ``info``, ``warning`` or ``error``."""
        if (level, message) not in self.notes:
            self.notes.append((level, message))

    @property
    def current(self) -> JobStep | None:
        return self.steps[-1] if self.steps else None


class JobRegistry:
    """The jobs of every workspace, one per ``(workspace, slot)``.

    Starting a job in a slot replaces (stops) the one running there. A finished job stays
    until someone collects it (:meth:`pop`) or for ``keep_s`` seconds, so a tab that
    comes back after the end still gets its result and messages."""

    def __init__(self, keep_s: float = 600.0) -> None:
        self.keep_s = keep_s
        self._jobs: dict[tuple[str, str], Job] = {}
        self._ended: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def start(self, ws: str, slot: str, job: Job) -> Job:
        old = self.get(ws, slot)
        if old is not None and not old.done:
            old.stop(REPLACED)
            old.wait(30)
        job.workspace, job.slot = ws, slot
        if job._alive is None:
            job._alive = lambda: workspace_alive(ws)
        with self._lock:
            self._jobs[(ws, slot)] = job
            self._ended.pop((ws, slot), None)
        return job.start()

    def get(self, ws: str, slot: str) -> Job | None:
        self._expire()
        with self._lock:
            return self._jobs.get((ws, slot))

    def pop(self, ws: str, slot: str, job: Job | None = None) -> Job | None:
        """Take the job out of its slot (only ``job``, when given)."""
        with self._lock:
            current = self._jobs.get((ws, slot))
            if current is None or (job is not None and current is not job):
                return None
            self._ended.pop((ws, slot), None)
            return self._jobs.pop((ws, slot))

    def jobs(self, ws: str | None = None) -> list[Job]:
        """Every job (of one workspace), running or not yet collected."""
        self._expire()
        with self._lock:
            return [j for (w, _), j in self._jobs.items() if ws is None or w == ws]

    def stop_workspace(self, ws: str) -> None:
        """Stop every job of ``ws`` (a teacher resets the workspace)."""
        for job in self.jobs(ws):
            job.stop()

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            for key, job in list(self._jobs.items()):
                if not job.done:
                    continue
                ended = self._ended.setdefault(key, now)
                if now - ended > self.keep_s:
                    self._jobs.pop(key, None)
                    self._ended.pop(key, None)


JOBS = JobRegistry()
