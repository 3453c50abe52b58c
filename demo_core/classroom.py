"""What the whole server is doing, for a teacher running a class, and the levers to fix it.

The Class view (``pages/6_Class.py``) reads everything through here: each loaded model's
line of requests and speed, the agents' kernels and what they use, the downloads, and a
cancel for each. No Streamlit here; the connected-session count is asked of Streamlit by
``demo_ui.classroom``.

Generations are seen through :data:`ACTIVITY`: the engines add each one when it is made
(one line in ``TransformersEngine._start`` / ``OpenAIEngine._start``), and it is read
lazily: a finished one moves to its model's recent list the next time anyone looks, so
the engines' hot path does nothing more than an append.

Per-workspace data (what one browser made) is reset through :data:`WORKSPACE_RESETTERS`:
functions ``reset(workspace_id)`` that the owners of such data register (the workspace
store, issue 12, registers its own). ``reset_everything`` runs them for every workspace
(``workspace_id=None``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from demo_core import settings
from demo_core.engine.base import Generation
from demo_core.i18n import _, language_from_environment, set_language

RECENT = 8  # finished generations kept per model, for its tokens/s


class Activity:
    """Live and recent generations per model key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, list[tuple[float, Generation]]] = {}
        self._recent: dict[str, deque[Generation]] = {}

    def add(self, key: str, gen: Generation) -> None:
        with self._lock:
            self._live.setdefault(key, []).append((time.time(), gen))

    def _settle(self) -> None:
        with self._lock:
            for key, items in self._live.items():
                done = [g for _, g in items if g.done]
                if done:
                    self._live[key] = [(t, g) for t, g in items if not g.done]
                    self._recent.setdefault(key, deque(maxlen=RECENT)).extend(done)

    def live(self, key: str) -> list[tuple[float, Generation]]:
        """``(since, generation)`` of every unfinished generation of ``key``."""
        self._settle()
        with self._lock:
            return list(self._live.get(key, []))

    def recent_tokens_per_s(self, key: str) -> float | None:
        """Median decode speed of the last finished generations (None: none yet)."""
        self._settle()
        with self._lock:
            speeds = [g.stats.tokens_per_s for g in self._recent.get(key, ())]
        speeds = [s for s in speeds if s > 0]
        return statistics.median(speeds) if speeds else None

    def cancel(self, key: str | None = None) -> int:
        """Cancel every unfinished generation of ``key`` (all models: None)."""
        self._settle()
        with self._lock:
            keys = [key] if key is not None else list(self._live)
            gens = [g for k in keys for _, g in self._live.get(k, [])]
        for g in gens:
            g.cancel()
        return len(gens)


ACTIVITY = Activity()


# -- models ---------------------------------------------------------------------------
@dataclass
class ModelLine:
    key: str
    label: str
    where: str  # device, or the server's URL
    memory_bytes: int  # weights held here (0 for a served model)
    running: int
    waiting: int
    oldest_s: float | None  # how long the oldest unfinished request has been going
    tokens_per_s: float | None


def model_lines(manager) -> list[ModelLine]:
    """One line per model loaded or served, in-process first."""
    from demo_core.specs import SPECS

    lines = []
    now = time.time()
    resident = dict(manager._resident)  # noqa: SLF001 -- read-only snapshot of the manager
    remote = dict(manager._remote)  # noqa: SLF001
    for key, engine in [*((k, r.engine) for k, r in resident.items()), *remote.items()]:
        live = ACTIVITY.live(key)
        running = sum(1 for _, g in live if g.queue_position == 0 and g.stats.queued_s > 0)
        lines.append(
            ModelLine(
                key=key,
                label=SPECS[key].label if key in SPECS else key,
                where=str(getattr(engine.info, "device", "")),
                memory_bytes=resident[key].bytes if key in resident else 0,
                running=running,
                waiting=len(live) - running,
                oldest_s=now - min(t for t, _ in live) if live else None,
                tokens_per_s=ACTIVITY.recent_tokens_per_s(key),
            )
        )
    return lines


# -- kernels --------------------------------------------------------------------------
@dataclass
class KernelLine:
    session: str  # the agent session id (not a person)
    pid: int | None
    busy: bool
    idle_s: float
    cpu_s: float | None
    rss_bytes: int | None
    restarts: int
    folder_bytes: int = 0


def _proc_usage(pid: int | None) -> tuple[float | None, int | None]:
    """CPU seconds and resident memory of a process, from /proc (None where unknown)."""
    if pid is None:
        return None, None
    try:
        import os

        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        rss = None
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
        return cpu, rss
    except (OSError, ValueError, IndexError):
        return None, None


def _folder_bytes(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            continue
    return total


def kernel_lines(registry) -> list[KernelLine]:
    now = time.time()
    lines = []
    for sid, k in registry.sessions():
        if not k.started:
            continue
        cpu, rss = _proc_usage(k.pid)
        lines.append(
            KernelLine(
                session=sid,
                pid=k.pid,
                busy=k.busy,
                idle_s=0.0 if k.busy else now - k.last_used,
                cpu_s=cpu,
                rss_bytes=rss,
                restarts=k.restarts,
                folder_bytes=_folder_bytes(k.work_dir) if k.work_dir.is_dir() else 0,
            )
        )
    return lines


# -- resets ---------------------------------------------------------------------------
WorkspaceResetter = Callable[[str | None], None]
WORKSPACE_RESETTERS: list[WorkspaceResetter] = []


def register_workspace_resetter(fn: WorkspaceResetter) -> WorkspaceResetter:
    """``fn(workspace_id)`` deletes what that workspace stored (``None``: every
    workspace). For the workspace store and any other per-browser data."""
    if fn not in WORKSPACE_RESETTERS:
        WORKSPACE_RESETTERS.append(fn)
    return fn


def reset_workspace_data(workspace_id: str | None) -> list[str]:
    """Run every registered resetter; the problems met, as sentences (never raises)."""
    problems = []
    for fn in list(WORKSPACE_RESETTERS):
        try:
            fn(workspace_id)
        except Exception as exc:  # one broken store must not stop the reset
            problems.append(f"{getattr(fn, '__name__', fn)}: {exc}")
    return problems


@dataclass
class ServerReset:
    """What a server-wide reset did, to tell the teacher."""

    generations_cancelled: int = 0
    kernels_stopped: int = 0
    downloads_cancelled: int = 0
    problems: list[str] = field(default_factory=list)


_epoch_lock = threading.Lock()
_epoch = 0


def reset_epoch() -> int:
    """Bumped by every server-wide reset: a browser session that saw an older epoch
    clears its own state on its next run (each session clears itself, in its own
    thread: session state is not touched from another one)."""
    return _epoch


def reset_everything(registry, downloads) -> ServerReset:
    """Stop every generation, kernel and download, and reset every workspace's data."""
    global _epoch
    out = ServerReset()
    out.generations_cancelled = ACTIVITY.cancel()
    for sid, k in registry.sessions():
        if k.started:
            out.kernels_stopped += 1
        registry.release(sid)
    for job in downloads.running():
        job.cancel()
        out.downloads_cancelled += 1
    out.problems = reset_workspace_data(None)
    with _epoch_lock:
        _epoch += 1
    return out


# -- the teacher code ----------------------------------------------------------------
# The cancel and reset levers of the Class view act on every browser, so they wait for
# the teacher code; the figures are for everyone. The code is $DEMO_STUDIO_TEACHER_CODE,
# or one generated at the first start, kept in $DEMO_STUDIO_HOME and printed on the
# server's console (./start.sh prints it before the server starts).
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing that reads as another (0/o, 1/l)
_code_lock = threading.Lock()


def _normal(code: str) -> str:
    return "".join(code.split()).casefold()


def teacher_code(announce: Callable[[str], None] | None = None) -> str:
    """The teacher code: the environment's, else the stored one, else a new one (stored,
    and said through ``announce``, by default on stderr, so the console shows it)."""
    given = os.environ.get(settings.TEACHER_CODE_ENV, "").strip()
    if given:
        return given
    path = settings.teacher_code_file()
    with _code_lock:
        try:
            stored = path.read_text(encoding="utf-8").strip()
        except OSError:
            stored = ""
        if stored:
            return stored
        raw = "".join(secrets.choice(CODE_ALPHABET) for _n in range(8))
        code = f"{raw[:4]}-{raw[4:]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(code + "\n")
    (announce or _announce)(code)
    return code


def code_notice(code: str | None = None) -> str:
    """The console line that tells the teacher the code (or where it is set)."""
    if os.environ.get(settings.TEACHER_CODE_ENV, "").strip():
        return _("Teacher code for the Class page: set by {env}.").format(
            env=settings.TEACHER_CODE_ENV
        )
    return _("Teacher code for the Class page: {code} (kept in {path})").format(
        code=code or teacher_code(lambda _code: None), path=settings.teacher_code_file()
    )


def _announce(code: str) -> None:
    print(code_notice(code), file=sys.stderr, flush=True)


def teacher_token(code: str) -> str:
    """What a workspace remembers once its browser gave the right code: a digest, so the
    code itself is not stored with the workspace and a new code locks every browser."""
    return hashlib.sha256(("demo-studio-teacher:" + _normal(code)).encode()).hexdigest()


def is_teacher_code(text: str | None) -> bool:
    return bool(text and text.strip()) and hmac.compare_digest(
        teacher_token(text or ""), teacher_token(teacher_code())
    )


def is_teacher_token(token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(str(token), teacher_token(teacher_code()))


def main() -> int:
    """``python -m demo_core.classroom``: print the teacher code line (making the code
    if there is none yet), as ./start.sh does before it starts the server."""
    import argparse

    set_language(language_from_environment())  # the terminal's LANG / LANGUAGE
    argparse.ArgumentParser(
        prog="python -m demo_core.classroom",
        description=_("Print the Class page's teacher code (made on the first run)."),
    ).parse_args()
    print(code_notice(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
