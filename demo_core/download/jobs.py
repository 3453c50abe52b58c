"""Background download jobs, shared by every browser tab of the app (one per process).

A Streamlit rerun re-executes the page but not imported modules, so this module-level
registry outlives reruns and is seen by every session: a second tab asking for the same
model joins the running job instead of starting a second copy that would write the same
``.incomplete`` files. The page only polls :meth:`DownloadJob.view`; the thread does the
work and is stopped by a flag it checks once per chunk.
"""

from __future__ import annotations

import contextvars
import itertools
import threading
import time
from dataclasses import dataclass

from demo_core.download.api import Request, download
from demo_core.download.errors import Cancelled, DownloadError
from demo_core.download.plan import RepoPlan
from demo_core.download.progress import Meter, Snapshot, fmt_bytes
from demo_core.download.transfer import Result
from demo_core.i18n import _, ngettext

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


@dataclass(frozen=True)
class JobView:
    """Everything the UI shows about a job, read in one consistent go."""

    id: int
    request: Request
    state: str
    progress: Snapshot
    message: str
    result: Result | None
    plan: RepoPlan | None
    started: float
    finished: float | None

    @property
    def active(self) -> bool:
        return self.state == RUNNING


class DownloadJob:
    def __init__(self, job_id: int, request: Request) -> None:
        self.id = job_id
        self.request = request
        self.meter = Meter()
        self.state = RUNNING
        self.message = _("Contacting the endpoint…")
        self.result: Result | None = None
        self.plan: RepoPlan | None = None
        self.started = time.time()
        self.finished: float | None = None
        self._cancel = threading.Event()
        # Set once state/message are final. Waiting on this instead of Thread.join
        # matters: a join interrupted by Ctrl-C can leave the thread looking finished
        # while it still runs, and the CLI would then report a running job's progress
        # message as its error.
        self._done = threading.Event()
        self._lock = threading.Lock()
        # in a copy of the starter's context: its messages are in the starter's language
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._run,),
            name=f"download-{job_id}",
            daemon=True,
        )

    def start(self) -> DownloadJob:
        self._thread.start()
        return self

    # -- control -------------------------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("cancelled")

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job has finished (done, failed or cancelled) within ``timeout``."""
        return self._done.wait(timeout)

    # -- reading ---------------------------------------------------------------------
    def view(self) -> JobView:
        with self._lock:
            return JobView(
                self.id,
                self.request,
                self.state,
                self.meter.snapshot(),
                self.message,
                self.result,
                self.plan,
                self.started,
                self.finished,
            )

    # -- work --------------------------------------------------------------------------
    def _on_plan(self, plan: RepoPlan) -> None:
        with self._lock:
            self.plan = plan
            self.message = ngettext(
                "Downloading {n} file from {endpoint}",
                "Downloading {n} files from {endpoint}",
                len(plan.files),
            ).format(n=len(plan.files), endpoint=plan.endpoint)

    def _run(self) -> None:
        try:
            self._work()
        finally:  # whatever happened, nobody may wait forever on this job
            if not self._done.is_set():
                self._finish(
                    FAILED, _("The download stopped unexpectedly; start it again to resume.")
                )

    def _work(self) -> None:
        try:
            result = download(
                self.request, meter=self.meter, check=self.check, on_plan=self._on_plan
            )
        except Cancelled:
            kept = self.meter.snapshot().done
            self._finish(
                CANCELLED,
                _("Cancelled. {size} kept on disk; start the same download to resume.").format(
                    size=fmt_bytes(kept)
                ),
            )
        except DownloadError as exc:
            self._finish(FAILED, str(exc))
        except Exception as exc:  # never let a thread die silently: the page must say why
            self._finish(
                FAILED,
                _("Unexpected error: {kind}: {error}").format(kind=type(exc).__name__, error=exc),
            )
        else:
            if result.existing is not None:
                where, path = result.existing
                msg = _("Already on this machine ({where}): {path}. Nothing downloaded.").format(
                    where=_(where), path=path
                )
            else:
                msg = ngettext(
                    "Done: {n} file in {folder} ({size} downloaded, {reused} already present "
                    "and verified).",
                    "Done: {n} files in {folder} ({size} downloaded, {reused} already present "
                    "and verified).",
                    len(result.files),
                ).format(
                    n=len(result.files),
                    folder=result.dest,
                    size=fmt_bytes(result.downloaded_bytes),
                    reused=len(result.reused),
                )
            with self._lock:
                self.result = result
            self._finish(DONE, msg)

    def _finish(self, state: str, message: str) -> None:
        with self._lock:
            self.state, self.message, self.finished = state, message, time.time()
        self._done.set()


class JobRegistry:
    def __init__(self) -> None:
        self._jobs: dict[int, DownloadJob] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, request: Request) -> DownloadJob:
        """Start ``request``, or return the job already running for the same request."""
        request.validate()  # bad input is reported here, before a thread exists
        key = request.key
        with self._lock:
            for job in self._jobs.values():
                if job.state == RUNNING and job.request.key == key:
                    return job
            job = DownloadJob(next(self._ids), request)
            self._jobs[job.id] = job
        return job.start()

    def get(self, job_id: int) -> DownloadJob | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[DownloadJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.id, reverse=True)

    def running(self) -> list[DownloadJob]:
        return [j for j in self.jobs() if j.state == RUNNING]

    def clear_finished(self) -> None:
        with self._lock:
            for job_id in [i for i, j in self._jobs.items() if j.state != RUNNING]:
                del self._jobs[job_id]


REGISTRY = JobRegistry()
