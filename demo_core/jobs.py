"""Model work that belongs to one browser session but runs outside its script runs.

A Streamlit script run ends on every rerun -- any click anywhere on the page -- so a
generation streamed by the script was cancelled by whatever the user touched next, and
when the tab was closed nobody cancelled it at all (the model stayed busy for everyone
until ``max_new_tokens``). A :class:`Job` runs the work on its own thread instead, the
way the data agent's ``AgentRun`` does; the page re-attaches to it on every run, shows
its progress and collects its result when it is over.

A job ends only when its work is done, or when it is cancelled by

* Stop (``job.stop()``),
* a replacement: the page stops it before starting another job in the same place
  (``job.stop(REPLACED)``),
* the browser session being gone: no sign of life for ``grace_s`` seconds. Signs of life
  are :meth:`Job.beat` (the page calls it whenever it runs or polls) and an optional
  ``alive`` probe the watchdog asks once a second (the UI passes "is this browser session
  still connected"), so a user on another page of the app keeps their job.

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
    def stream(self, gen: Generation, label: str) -> Generation:
        """Follow ``gen`` to its end in a new step; returns it (check ``gen.error``)."""
        step = JobStep(label)
        self.steps.append(step)
        for kind, value in gen.events():
            if kind == "position":
                self.position = int(value)  # type: ignore[call-overload]
            else:
                step.text += str(value)
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
