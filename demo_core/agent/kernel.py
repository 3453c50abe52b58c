"""One sandboxed Jupyter kernel per browser session, safe to drive from any thread.

lagent's ``IPythonInterpreter`` shares one unsandboxed kernel between every user and
times out with ``SIGALRM``, which only works in the main thread (Streamlit runs scripts
in worker threads). Here each session gets its own kernel, started through
:mod:`demo_core.agent.kernel_launcher` (network namespace, rlimits, own uid when root,
audit hook), in its own work folder. Timeouts are a deadline on the message loop: on
expiry the kernel is interrupted (SIGINT), and if it does not answer within a grace
period it is killed and restarted -- from whichever thread is calling.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from demo_core.agent import kernel_fonts

log = logging.getLogger(__name__)

LAUNCHER = Path(__file__).with_name("kernel_launcher.py")
KERNEL_NAME = "demo-studio-sandbox"
MiB = 1024**2
GiB = 1024**3

# Imported once at start so that the first analysis does not pay for them (and their
# import time never counts against a cell's timeout). Tables are sent as the Table
# Schema JSON pandas produces, so the UI shows them as data, never as raw HTML.
SETUP_CODE = """\
import matplotlib
matplotlib.use("module://matplotlib_inline.backend_inline")
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
pd.set_option("display.html.table_schema", True)
pd.set_option("display.max_rows", 60)
pd.set_option("display.max_columns", 30)
plt.rcParams["figure.dpi"] = 100
"""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


class KernelError(RuntimeError):
    """The kernel could not be started (message is for the user)."""


@dataclass
class KernelLimits:
    """Per-session limits; the defaults suit a shared lesson machine."""

    timeout_s: float = 60.0  # wall clock for one code cell
    cell_cpu_s: int = 60  # CPU seconds for one code cell (all threads)
    kernel_cpu_s: int = 3600  # CPU seconds for the kernel's whole life (hard, SIGKILL)
    memory_bytes: int = 3 * GiB  # address space of the kernel process
    file_size_bytes: int = 200 * MiB  # largest single file it may write
    folder_bytes: int = 1 * GiB  # all files of the session together (uploads included)
    open_files: int = 256
    output_chars: int = 200_000  # output kept per cell; a flood beyond is interrupted
    max_images: int = 20
    interrupt_grace_s: float = 3.0  # after SIGINT, wait this long before a restart
    start_timeout_s: float = 60.0


@dataclass
class Output:
    """One piece of a cell's output, in order of arrival."""

    kind: str  # "stream" | "text" | "image" | "table" | "error"
    text: str = ""  # stream text, text/plain, error traceback, or table as text
    png: bytes | None = None
    path: str | None = None  # image saved in the work folder (relative path)
    table: dict | None = None  # {"columns": [...], "data": [[...], ...]}


@dataclass
class ExecutionResult:
    outputs: list[Output] = field(default_factory=list)
    ok: bool = True
    error_name: str = ""
    error_value: str = ""
    timed_out: bool = False
    cancelled: bool = False
    restarted: bool = False
    truncated: bool = False
    notice: str = ""  # what the user (and the model) should know about the kernel
    duration_s: float = 0.0

    @property
    def images(self) -> list[Output]:
        return [o for o in self.outputs if o.kind == "image"]

    @property
    def tables(self) -> list[Output]:
        return [o for o in self.outputs if o.kind == "table"]

    def text(self) -> str:
        """Everything textual, as the model and the transcript see it."""
        parts = []
        for o in self.outputs:
            if o.kind == "image":
                parts.append(f"[image: {o.path}]")
            elif o.text:
                parts.append(o.text.rstrip("\n"))
        if self.notice:
            parts.append(self.notice)
        return "\n".join(p for p in parts if p)

    def text_for_model(self, limit: int = 3000) -> str:
        """Like :meth:`text`, but long output keeps its head and tail (the model's
        context is small, and the end of a traceback matters most)."""
        text = self.text() or ("(no output)" if self.ok else "")
        if len(text) <= limit:
            return text
        head = text[: limit // 3]
        tail = text[-(limit - len(head)) :]
        return f"{head}\n... [{len(text) - len(head) - len(tail)} characters cut] ...\n{tail}"


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def folder_size(folder: Path) -> int:
    """Bytes of every regular file under ``folder`` (links not followed; files that vanish
    while counting are skipped): what the session holds on the shared disk."""
    total = 0
    stack = [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def _death_reason(code: int | None, limits: KernelLimits) -> str:
    if code == -signal.SIGKILL:
        return "it was killed (its memory or CPU limit was reached, or it was stopped from outside)"
    if code == -signal.SIGXCPU:
        return f"it used up its CPU time ({limits.kernel_cpu_s} s for one kernel)"
    if code == -signal.SIGSEGV:
        return "it crashed (segmentation fault, often a failed memory allocation)"
    return f"it stopped ({_signal_name(code)})"


def readable_roots() -> list[str]:
    """Folders sandboxed code may read besides its own: the Python installation and the
    system data that plotting and file formats need (fonts, time zones, the MIME table
    that openpyxl reads for every ``read_excel``)."""
    import mimetypes
    import site
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            roots.add(p)
    roots.update(site.getsitepackages())
    for p in ("/usr/share/fonts", "/usr/local/share/fonts", "/etc/fonts", "/usr/share/zoneinfo"):
        roots.add(p)
    for p in ("/dev/null", "/dev/urandom", "/dev/random", "/etc/localtime"):
        roots.add(p)
    roots.update(mimetypes.knownfiles)
    return sorted(r for r in roots if r)


def sandbox_uid_for(name: str) -> int | None:
    """When the app runs as root, each kernel gets its own unprivileged uid (no passwd
    entry needed), so the OS keeps sessions apart; otherwise the app's own uid is kept."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    base = int(os.environ.get("DEMO_STUDIO_SANDBOX_UID_BASE", "200000"))
    return base + (int.from_bytes(name.encode()[-8:].rjust(8, b"\0"), "big") % 50000)


class SandboxKernel:
    """A kernel bound to one work folder. All methods are thread-safe; :meth:`execute`
    calls are serialised, :meth:`interrupt` may be called while one runs."""

    def __init__(
        self,
        work_dir: Path,
        runtime_dir: Path,
        limits: KernelLimits | None = None,
        *,
        sandbox_uid: int | None = None,
        isolate_network: bool = True,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.runtime_dir = Path(runtime_dir)
        self.limits = limits or KernelLimits()
        self.sandbox_uid = sandbox_uid
        self.isolate_network = isolate_network
        self.km = None
        self.kc = None
        self.network_isolation = ""  # "namespace" | "audit-hook" after start
        self.kernel_uid: int | None = None
        self.restarts = 0
        self.last_used = time.time()
        self.figure_count = 0
        self._ipc_dir: str | None = None
        self._exec_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._busy = False
        self._closed = False
        self._log_file = None

    # -- lifecycle ------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self.km is not None

    @property
    def busy(self) -> bool:
        """Running a user's cell (start-up code does not count: it is never interrupted)."""
        return self._busy

    @property
    def pid(self) -> int | None:
        prov = getattr(self.km, "provisioner", None)
        return getattr(prov, "pid", None)

    def is_alive(self) -> bool:
        with self._state_lock:
            return self.km is not None and bool(self.km.is_alive())

    def start(self) -> None:
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        with self._state_lock:
            if self._closed:
                raise KernelError("this session's kernel was shut down")
            if self.km is not None:
                return
            self.work_dir.mkdir(parents=True, exist_ok=True)
            for sub in ("", "home", "tmp", "specs/" + KERNEL_NAME):
                (self.runtime_dir / sub).mkdir(parents=True, exist_ok=True)
            # Unix socket paths are limited to ~107 bytes: keep them in a short folder.
            self._ipc_dir = tempfile.mkdtemp(prefix="dsk-")
            if self.sandbox_uid is not None and not others_can_reach(
                [Path(sys.executable), Path(os.__file__), LAUNCHER, self.work_dir]
            ):
                log.info(
                    "kernel keeps the app's uid: python or %s is not reachable by other users",
                    self.work_dir,
                )
                self.sandbox_uid = None
            config = {
                "work_dir": str(self.work_dir),
                "runtime_dir": str(self.runtime_dir),
                "readable": readable_roots(),
                "memory_bytes": self.limits.memory_bytes,
                "cpu_seconds": self.limits.kernel_cpu_s,
                "file_size_bytes": self.limits.file_size_bytes,
                "open_files": self.limits.open_files,
                "network": self.isolate_network,
                "sandbox_uid": self.sandbox_uid,
            }
            cfg_path = self.runtime_dir / "sandbox-config.json"
            cfg_path.write_text(json.dumps(config), encoding="utf-8")
            spec = {
                "argv": [sys.executable, "-I", str(LAUNCHER), str(cfg_path), "-f"]
                + ["{connection_file}"],
                "display_name": "Demo Studio sandbox",
                "language": "python",
                "interrupt_mode": "signal",
            }
            spec_dir = self.runtime_dir / "specs" / KERNEL_NAME
            (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
            if self.sandbox_uid is not None:
                for p in (self.work_dir, self.runtime_dir, Path(self._ipc_dir)):
                    _chown_tree(p, self.sandbox_uid)
            km = KernelManager(
                kernel_name=KERNEL_NAME,
                kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir.parent)]),
                transport="ipc",
                ip=os.path.join(self._ipc_dir, "k"),
                connection_file=str(self.runtime_dir / "connection.json"),
            )
            self._log_file = open(self.runtime_dir / "kernel.log", "ab")  # noqa: SIM115
            self.km = km
            try:
                km.start_kernel(
                    env=self._env(),
                    cwd=str(self.work_dir),
                    stdout=self._log_file,
                    stderr=self._log_file,
                )
                self._connect()
            except Exception as exc:
                self._teardown()
                raise KernelError(f"the Python kernel could not start: {exc}") from exc

    def _env(self) -> dict[str, str]:
        """A clean environment: nothing of the app's (tokens, proxies) leaks in."""
        rt = self.runtime_dir
        env = {
            "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin",
            "HOME": str(rt / "home"),
            "TMPDIR": str(rt / "tmp"),
            "MPLCONFIGDIR": str(rt / "home"),
            "IPYTHONDIR": str(rt / "home" / ".ipython"),
            "JUPYTER_RUNTIME_DIR": str(rt / "home"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
            "USER": "sandbox",
            "LOGNAME": "sandbox",
        }
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "2"  # thread pools reserve address space per thread
        return env

    def _connect(self) -> None:
        kc = self.km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=self.limits.start_timeout_s)
        except RuntimeError as exc:
            kc.stop_channels()
            raise KernelError(f"the kernel did not answer: {exc}") from exc
        self.kc = kc
        report = self.runtime_dir / "sandbox.json"
        try:
            info = json.loads(report.read_text(encoding="utf-8"))
            self.network_isolation = info.get("network", "")
            self.kernel_uid = info.get("uid")
        except (OSError, ValueError):
            self.network_isolation = "unknown"
        setup = SETUP_CODE + kernel_fonts.setup_code()  # Chinese in plots (issue 13)
        res = self._run(setup, self.limits.start_timeout_s, None, None, setup=True)
        if not res.ok:
            raise KernelError(f"kernel setup failed: {res.error_name}: {res.error_value}")

    def restart(self, reason: str = "") -> None:
        """Kill and start again: variables are lost, files in the work folder stay."""
        with self._state_lock:
            if self.km is None:
                self.start()
                return
            log.info("restarting kernel in %s: %s", self.work_dir, reason)
            if self.kc is not None:
                self.kc.stop_channels()
                self.kc = None
            try:
                self.km.restart_kernel(now=True)
                self._connect()
            except Exception as exc:
                self._teardown()
                raise KernelError(f"the kernel could not be restarted: {exc}") from exc
            self.restarts += 1

    def interrupt(self) -> None:
        """SIGINT to the running cell (KeyboardInterrupt), from any thread."""
        km = self.km
        if km is not None and self._busy:
            try:
                km.interrupt_kernel()
            except Exception as exc:  # already dead: execute() notices and restarts
                log.debug("interrupt failed: %s", exc)

    def shutdown(self) -> None:
        with self._state_lock:
            self._closed = True
            self._teardown()

    def _teardown(self) -> None:
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:
                pass
            self.kc = None
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception as exc:
                log.debug("shutdown: %s", exc)
            try:
                self.km.cleanup_resources()
            except Exception:
                pass
            self.km = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._ipc_dir:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
            self._ipc_dir = None

    # -- execution ------------------------------------------------------------------
    def execute(
        self,
        code: str,
        timeout_s: float | None = None,
        *,
        should_stop: Callable[[], bool] | None = None,
        on_output: Callable[[Output], None] | None = None,
    ) -> ExecutionResult:
        """Run one cell. Never raises for problems in the code or the kernel: they come
        back in the result (``ok``, ``timed_out``, ``restarted``, ``notice``)."""
        with self._exec_lock:
            notice = ""
            if self._closed:
                return ExecutionResult(ok=False, notice="The session has ended.")
            try:
                if self.km is None:
                    self.start()
                elif not self.is_alive():
                    code_ = self.km.provisioner.process.returncode if self.km else None
                    self.restart("found dead")
                    notice = (
                        f"The Python kernel had stopped: {_death_reason(code_, self.limits)}. "
                        "It was restarted: variables were lost, files were kept."
                    )
            except KernelError as exc:
                return ExecutionResult(ok=False, notice=str(exc))
            if should_stop is not None and should_stop():
                return ExecutionResult(ok=False, cancelled=True, notice="Stopped by the user.")
            used = folder_size(self.work_dir)
            if used > self.limits.folder_bytes:
                return ExecutionResult(ok=False, notice=self.folder_full_notice(used, ran=False))
            self.last_used = time.time()
            self._set_cell_cpu_limit()
            res = self._run(code, timeout_s or self.limits.timeout_s, should_stop, on_output)
            self.last_used = time.time()
            if notice:
                res.notice = (notice + " " + res.notice).strip()
                res.restarted = True
            used = folder_size(self.work_dir)
            if used > self.limits.folder_bytes:
                res.notice = (res.notice + " " + self.folder_full_notice(used, ran=True)).strip()
            return res

    def folder_full_notice(self, used: int, *, ran: bool) -> str:
        """Why no more code runs: the session's files fill its share of the shared disk."""
        what = "After this code, the" if ran else "The code was not run: the"
        return (
            f"{what} session folder holds {used / MiB:.0f} MiB, more than its "
            f"{self.limits.folder_bytes / MiB:.0f} MiB limit. Delete files you no longer "
            "need (Session files in the sidebar); no more code runs until then."
        )

    def _set_cell_cpu_limit(self) -> None:
        """Give this cell ``cell_cpu_s`` more CPU seconds than the kernel used so far.
        The launcher turns the soft-limit signal into an exception in the cell."""
        pid = self.pid
        if not pid or not hasattr(os, "sched_getaffinity"):
            return
        try:
            import resource

            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            soft = int(used) + 1 + self.limits.cell_cpu_s
            hard = self.limits.kernel_cpu_s + 5
            resource.prlimit(pid, resource.RLIMIT_CPU, (min(soft, hard), hard))
        except (OSError, ValueError, IndexError) as exc:
            log.debug("per-cell CPU limit not set: %s", exc)

    def _run(
        self,
        code: str,
        timeout_s: float,
        should_stop: Callable[[], bool] | None,
        on_output: Callable[[Output], None] | None,
        setup: bool = False,
    ) -> ExecutionResult:
        res = ExecutionResult()
        kc = self.kc
        t0 = time.perf_counter()
        deadline = t0 + timeout_s
        interrupted_at: float | None = None
        chars = 0
        self._busy = not setup

        def add(o: Output) -> None:
            res.outputs.append(o)
            if on_output is not None:
                try:
                    on_output(o)
                except Exception:  # a UI callback must not break the kernel loop
                    log.exception("on_output failed")

        def interrupt_once(why: str) -> None:
            nonlocal interrupted_at
            if interrupted_at is None:
                interrupted_at = time.perf_counter()
                self.interrupt()
                log.debug("interrupting kernel: %s", why)

        try:
            msg_id = kc.execute(code, silent=False, store_history=not setup, allow_stdin=False)
            while True:
                try:
                    msg = kc.get_iopub_msg(timeout=0.1)
                except queue.Empty:
                    now = time.perf_counter()
                    if not self.km.is_alive():
                        rc = self.km.provisioner.process.returncode
                        res.ok = False
                        res.restarted = True
                        res.notice = (
                            f"The Python kernel stopped while running this code: "
                            f"{_death_reason(rc, self.limits)}. It was restarted: variables "
                            "were lost, files in the work folder were kept."
                        )
                        break
                    if should_stop is not None and should_stop() and not res.cancelled:
                        res.cancelled = True
                        interrupt_once("cancelled")
                    if now > deadline and not res.timed_out and not res.cancelled:
                        res.timed_out = True
                        interrupt_once("timeout")
                    if (
                        interrupted_at is not None
                        and now - interrupted_at > self.limits.interrupt_grace_s
                    ):
                        res.ok = False
                        res.restarted = True
                        res.notice = (
                            "The code did not stop when interrupted, so the Python kernel was "
                            "restarted: variables were lost, files in the work folder were kept."
                        )
                        break
                    continue
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue  # left over from an earlier, interrupted cell
                mtype = msg["msg_type"]
                content = msg["content"]
                if mtype == "status" and content.get("execution_state") == "idle":
                    break
                if mtype == "stream":
                    text = content.get("text", "")
                    if chars + len(text) > self.limits.output_chars:
                        text = text[: max(0, self.limits.output_chars - chars)]
                        if not res.truncated:
                            res.truncated = True
                            interrupt_once("output flood")
                    chars += len(text)
                    if text:
                        if res.outputs and res.outputs[-1].kind == "stream" and on_output is None:
                            res.outputs[-1].text += text
                        else:
                            add(Output("stream", text=text))
                elif mtype in ("execute_result", "display_data"):
                    self._add_display(content.get("data", {}), res, add)
                elif mtype == "error":
                    res.ok = False
                    res.error_name = content.get("ename", "")
                    res.error_value = content.get("evalue", "")
                    tb = _ANSI.sub("", "\n".join(content.get("traceback", [])))
                    add(Output("error", text=tb))
        except Exception as exc:  # zmq or protocol failure: treat as a dead kernel
            log.exception("kernel message loop failed")
            res.ok = False
            res.restarted = True
            res.notice = f"Lost contact with the Python kernel ({exc}); it was restarted."
        finally:
            self._busy = False
        if should_stop is not None and not res.cancelled and should_stop():
            res.cancelled = True  # Stop interrupted the kernel directly
        res.duration_s = time.perf_counter() - t0
        if res.restarted and not setup:
            try:
                self.restart(res.notice)
            except KernelError as exc:
                res.notice += f" Restart failed: {exc}"
        self._explain(res, timeout_s)
        self._drain_shell()
        return res

    def _explain(self, res: ExecutionResult, timeout_s: float) -> None:
        """Turn limit hits into sentences a user (and the model) understands."""
        notes = []
        if res.timed_out:
            notes.append(f"Stopped: the code ran longer than {timeout_s:g} s.")
            res.ok = False
        elif res.cancelled:
            notes.append("Stopped by the user.")
            res.ok = False
        if res.truncated:
            notes.append(
                f"Output was cut after {self.limits.output_chars} characters and the code was "
                "interrupted."
            )
        if res.error_name == "MemoryError":
            notes.append(
                f"The code ran out of memory: the limit is {self.limits.memory_bytes / GiB:g} GiB "
                "per session. Work on a sample or smaller data types."
            )
        elif res.error_name == "TimeoutError" and "CPU time" in res.error_value:
            notes.append(f"The code used more than {self.limits.cell_cpu_s} s of CPU time.")
        elif res.error_name == "OSError" and "File too large" in res.error_value:
            notes.append(
                f"A file grew past the {self.limits.file_size_bytes / MiB:.0f} MiB limit for "
                "one file and was cut there: write less (a sample, or compressed) and delete "
                "the cut file."
            )
        if notes:
            res.notice = " ".join(notes + ([res.notice] if res.notice else []))

    def _add_display(self, data: dict, res: ExecutionResult, add: Callable[[Output], None]) -> None:
        if "image/png" in data:
            if len(res.images) >= self.limits.max_images:
                res.truncated = True
                return
            png = base64.b64decode(data["image/png"])
            self.figure_count += 1
            rel = f"figures/figure-{self.figure_count:03d}.png"
            path = self.work_dir / rel
            try:
                path.parent.mkdir(exist_ok=True)
                path.write_bytes(png)
                if self.sandbox_uid is not None:
                    _chown_tree(path.parent, self.sandbox_uid)
            except OSError:
                rel = None
            add(Output("image", png=png, path=rel))
        elif "application/vnd.dataresource+json" in data:
            table = data["application/vnd.dataresource+json"]
            fields = [f["name"] for f in table.get("schema", {}).get("fields", [])]
            rows = [[row.get(f) for f in fields] for row in table.get("data", [])]
            add(
                Output(
                    "table",
                    text=data.get("text/plain", ""),
                    table={"columns": fields, "data": rows},
                )
            )
        elif "text/plain" in data:
            add(Output("text", text=data["text/plain"]))

    def _drain_shell(self) -> None:
        """Discard execute replies (the iopub stream already told us everything)."""
        kc = self.kc
        if kc is None:
            return
        while True:
            try:
                kc.get_shell_msg(timeout=0)
            except (queue.Empty, Exception):
                return

    # -- files ----------------------------------------------------------------------
    def grant(self, path: Path) -> None:
        """Let the kernel's uid own a file the app put into the work folder."""
        if self.sandbox_uid is not None:
            _chown_tree(Path(path), self.sandbox_uid)


def others_can_reach(paths: list[Path]) -> bool:
    """Can an unprivileged uid traverse to (and read) each path? A private ``/root``
    or a 0700 temp folder on the way makes the uid switch impossible."""
    import stat

    for path in paths:
        p = Path(os.path.realpath(path))
        for parent in [*reversed(p.parents)][1:] + ([p] if p.is_dir() else []):
            try:
                if not os.stat(parent).st_mode & stat.S_IXOTH:
                    return False
            except OSError:
                return False
        try:
            if p.is_file() and not os.stat(p).st_mode & stat.S_IROTH:
                return False
        except OSError:
            return False
    return True


def _chown_tree(path: Path, uid: int) -> None:
    try:
        os.chown(path, uid, uid)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                for n in dirs + files:
                    os.chown(os.path.join(root, n), uid, uid, follow_symlinks=False)
    except OSError as exc:
        log.warning("chown %s: %s", path, exc)
