"""Which kernel belongs to which browser session, and cleaning up after them.

Streamlit never says when a browser session ends, so kernels are reaped when idle
(variables go, the session's files stay and a later question starts a fresh kernel),
folders untouched for a day are deleted, and everything is shut down at exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

from demo_core.agent.kernel import KernelLimits, SandboxKernel, sandbox_uid_for
from demo_core.i18n import N_

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def default_base_dir() -> Path:
    raw = os.environ.get("DEMO_STUDIO_AGENT_DIR")
    if raw:
        return Path(raw).expanduser()
    from demo_core import settings

    return settings.home() / "agent-sessions"


class KernelRegistry:
    def __init__(
        self,
        base_dir: Path | None = None,
        limits: KernelLimits | None = None,
        *,
        idle_s: float = 20 * 60,
        purge_after_s: float = 24 * 3600,
        reap_every_s: float = 60.0,
    ) -> None:
        self.base_dir = Path(base_dir) if base_dir else default_base_dir()
        self.limits = limits or KernelLimits()
        self.idle_s = idle_s
        self.purge_after_s = purge_after_s
        self._unsandboxed_ok: set[str] = set()  # sessions whose user agreed (no sandbox here)
        self._kernels: dict[str, SandboxKernel] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None
        self._reap_every_s = reap_every_s
        self.notices: dict[str, str] = {}  # session id -> what happened while away
        atexit.register(self.shutdown_all)

    # -- sessions -------------------------------------------------------------------
    def session_dir(self, session_id: str) -> Path:
        if not _SAFE_ID.match(session_id):
            raise ValueError(f"bad session id {session_id!r}")
        return self.base_dir / session_id

    def work_dir(self, session_id: str) -> Path:
        path = self.session_dir(session_id) / "work"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def kernel(self, session_id: str) -> SandboxKernel:
        """This session's kernel object (started on first use)."""
        with self._lock:
            k = self._kernels.get(session_id)
            if k is None or k._closed:
                d = self.session_dir(session_id)
                k = SandboxKernel(
                    d / "work",
                    d / "runtime",
                    self.limits,
                    sandbox_uid=sandbox_uid_for(session_id),
                    allow_unsandboxed=session_id in self._unsandboxed_ok,
                )
                self._kernels[session_id] = k
            self._ensure_reaper()
            return k

    def allow_unsandboxed(self, session_id: str) -> None:
        """The user of this session agreed to run code although no OS sandbox is available
        (the page asked in plain words); kept for the kernels this session starts later."""
        with self._lock:
            self._unsandboxed_ok.add(session_id)
            k = self._kernels.get(session_id)
            if k is not None:
                k.allow_unsandboxed = True

    def unsandboxed_allowed(self, session_id: str) -> bool:
        return session_id in self._unsandboxed_ok
    def sessions(self) -> list[tuple[str, SandboxKernel]]:
        """``(session id, kernel)`` for every kernel object held (started or not)."""
        with self._lock:
            return list(self._kernels.items())

    def has_kernel(self, session_id: str) -> bool:
        k = self._kernels.get(session_id)
        return k is not None and k.started

    def release(self, session_id: str, delete_files: bool = False) -> None:
        with self._lock:
            k = self._kernels.pop(session_id, None)
        if k is not None:
            k.shutdown()
        if delete_files:
            shutil.rmtree(self.session_dir(session_id), ignore_errors=True)

    def shutdown_all(self) -> None:
        self._stop.set()
        with self._lock:
            kernels = list(self._kernels.values())
            self._kernels.clear()
        for k in kernels:
            try:
                k.shutdown()
            except Exception:
                log.exception("kernel shutdown failed")

    # -- reaping --------------------------------------------------------------------
    def reap(self, now: float | None = None) -> list[str]:
        """Shut down idle kernels and delete long-abandoned folders; return reaped ids."""
        now = time.time() if now is None else now
        reaped = []
        with self._lock:
            for sid, k in list(self._kernels.items()):
                if k.started and not k.busy and now - k.last_used > self.idle_s:
                    self._kernels.pop(sid)
                    reaped.append((sid, k))
        for sid, k in reaped:
            k.shutdown()
            # the reaper thread has no session language: the page translates it when shown
            self.notices[sid] = N_(
                "The Python kernel was stopped after being idle; variables were lost, your "
                "files were kept."
            )
        if self.base_dir.is_dir():
            for d in self.base_dir.iterdir():
                if d.name in self._kernels or not d.is_dir():
                    continue
                try:
                    age = now - _newest_mtime(d)
                except OSError:
                    continue
                if age > self.purge_after_s:
                    shutil.rmtree(d, ignore_errors=True)
        return [sid for sid, _ in reaped]

    def _ensure_reaper(self) -> None:
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(
                target=self._reap_loop, daemon=True, name="kernel-reaper"
            )
            self._reaper.start()

    def _reap_loop(self) -> None:
        while not self._stop.wait(self._reap_every_s):
            try:
                self.reap()
            except Exception:
                log.exception("kernel reaper failed")


def _newest_mtime(folder: Path) -> float:
    """Latest change in a session folder; links are not followed (os.walk's default)."""
    newest = folder.lstat().st_mtime
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except OSError:
                continue
    return newest
