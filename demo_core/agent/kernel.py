"""One sandboxed Jupyter kernel per browser session, safe to drive from any thread.

lagent's ``IPythonInterpreter`` shares one unsandboxed kernel between every user and
times out with ``SIGALRM``, which only works in the main thread (Streamlit runs scripts
in worker threads). Here each session gets its own kernel inside an operating-system
sandbox (:mod:`demo_core.agent.sandbox`: bubblewrap namespaces, seccomp, an unprivileged
uid, rlimits and cgroups), in its own work folder. Where no sandbox can be had the kernel
starts only when the user has agreed (``allow_unsandboxed``), never silently.

Timeouts are a deadline on the message loop: on expiry the kernel is interrupted
(SIGINT), and if it does not answer within a grace period it is killed and restarted --
from whichever thread is calling. The folder quota is checked while a cell runs, and
every output is measured before it is kept: what is over a limit is refused, not stored.
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
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from demo_core.agent import kernel_fonts, safefs, sandbox
from demo_core.agent.kernel_startup import startup_code

log = logging.getLogger(__name__)

LAUNCHER = Path(__file__).with_name("kernel_launcher.py")
SANDBOX_EXEC = Path(__file__).with_name("sandbox_exec.py")
KERNEL_NAME = "demo-studio-sandbox"
MiB = 1024**2
GiB = 1024**3
MAX_MESSAGE_BYTES = 64 * MiB  # a larger message from the kernel drops the connection

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
    processes: int = 256  # tasks (processes and threads) of the kernel's uid
    cpus: float = 1.0  # cores' worth of CPU time for the whole sandbox (where cgroups allow)
    output_chars: int = 200_000  # text kept per cell (streams, displays, tables, errors)
    max_images: int = 20
    image_bytes: int = 5 * MiB  # one figure; a larger one is refused, not saved
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
    quota_hit: bool = False  # the folder grew past its quota while the cell ran
    refused_images: int = 0
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


def folder_size(*folders: Path) -> int:
    """Bytes of every regular file under ``folders`` (links not followed, hard links
    counted each time): what the session holds on the shared disk."""
    return sum(safefs.tree_size(Path(f)) for f in folders)


def _death_reason(code: int | None, limits: KernelLimits) -> str:
    if code == -signal.SIGKILL:
        return "it was killed (its memory or CPU limit was reached, or it was stopped from outside)"
    if code == -signal.SIGXCPU:
        return f"it used up its CPU time ({limits.kernel_cpu_s} s for one kernel)"
    if code == -signal.SIGSEGV:
        return "it crashed (segmentation fault, often a failed memory allocation)"
    return f"it stopped ({_signal_name(code)})"


def sandbox_uid_for(name: str) -> int | None:
    """When the app runs as root, each kernel gets its own unprivileged uid (no passwd
    entry needed), so the OS keeps sessions apart; otherwise the app's own uid is kept."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    base = int(os.environ.get("DEMO_STUDIO_SANDBOX_UID_BASE", "200000"))
    return base + (int.from_bytes(name.encode()[-8:].rjust(8, b"\0"), "big") % 50000)


class SandboxUnavailable(KernelError):
    """No OS sandbox here and the user has not agreed to run code without one."""


_BPF: bytes | None = None
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernel-spawner")


def _seccomp_program() -> bytes:
    global _BPF
    if _BPF is None:
        _BPF = sandbox.seccomp_bpf()
    return _BPF


def _capped_context():
    """A ZeroMQ context whose sockets drop a peer sending a message over
    :data:`MAX_MESSAGE_BYTES`, so a kernel cannot make the app hold a huge message."""
    import zmq

    class CappedContext(zmq.Context):
        def socket(self, *args, **kwargs):  # type: ignore[override]
            sock = super().socket(*args, **kwargs)
            sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            return sock

    return CappedContext()


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        try:
            kids = [int(k) for k in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (OSError, ValueError):
            kids = []
        out += kids
        todo += kids
    return out


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
        allow_unsandboxed: bool = False,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.runtime_dir = Path(runtime_dir)
        self.tmp_dir = self.work_dir.parent / "tmp"  # the kernel's /tmp, in the quota
        self.limits = limits or KernelLimits()
        self.sandbox_uid = sandbox_uid
        self.allow_unsandboxed = allow_unsandboxed
        self.km = None
        self.kc = None
        self.isolation = ""  # "bubblewrap" | "none" once started
        self.restarts = 0
        self.last_used = time.time()
        self.figure_count = 0
        self._ipc_dir: str | None = None
        self._cgroups: list[str] = []
        self._inner_pid: int | None = None
        self._context = None
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
        """The process Jupyter started (bwrap); killing it ends the whole sandbox."""
        prov = getattr(self.km, "provisioner", None)
        return getattr(prov, "pid", None)

    @property
    def sandboxed(self) -> bool:
        return self.isolation == "bubblewrap"

    def is_alive(self) -> bool:
        with self._state_lock:
            return self.km is not None and bool(self.km.is_alive())

    def kernel_pid(self) -> int | None:
        """The Python kernel's own pid as the app sees it (bwrap's grandchild)."""
        if self._inner_pid is not None and Path(f"/proc/{self._inner_pid}").exists():
            return self._inner_pid
        pid = self.pid
        if not pid or self.isolation != "bubblewrap":
            return pid
        for p in _descendants(pid):
            try:
                cmd = Path(f"/proc/{p}/cmdline").read_bytes()
            except OSError:
                continue
            args = cmd.split(b"\0")
            if len(args) > 2 and args[1] == b"-I" and args[2].endswith(b"/launcher.py"):
                self._inner_pid = p
                return p
        return None

    def quota_folders(self) -> list[Path]:
        """Every folder the kernel can write to: all of it counts against the quota."""
        return [self.work_dir, self.tmp_dir] + ([Path(self._ipc_dir)] if self._ipc_dir else [])

    def start(self) -> None:
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        with self._state_lock:
            if self._closed:
                raise KernelError("this session's kernel was shut down")
            if self.km is not None:
                return
            avail = sandbox.availability()
            if not avail.ok and not self.allow_unsandboxed:
                raise SandboxUnavailable(
                    f"Code was not run: {avail.reason}. Agree on the page to run code "
                    "without a sandbox, or install bubblewrap."
                )
            for d in (self.work_dir, self.tmp_dir):
                d.mkdir(parents=True, exist_ok=True)
            self.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.runtime_dir, 0o700)
            spec_dir = self.runtime_dir / "specs" / KERNEL_NAME
            spec_dir.mkdir(parents=True, exist_ok=True)
            # Unix socket paths are limited to ~107 bytes: keep them in a short folder.
            self._ipc_dir = tempfile.mkdtemp(prefix="dsk-")
            uid = self.sandbox_uid if avail.ok else None
            if uid is not None:
                for d in (self.work_dir, self.tmp_dir, Path(self._ipc_dir)):
                    safefs.chown_dir(d, uid)
            plan_path = self._write_plan(avail, uid)
            spec = {
                "argv": [sys.executable, "-I", str(SANDBOX_EXEC), str(plan_path)]
                + ["{connection_file}"],
                "display_name": "Demo Studio sandbox",
                "language": "python",
                "interrupt_mode": "message",
            }
            (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
            if self._context is None:
                self._context = _capped_context()
            km = KernelManager(
                context=self._context,
                kernel_name=KERNEL_NAME,
                kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir.parent)]),
                transport="ipc",
                ip=os.path.join(self._ipc_dir, "k"),
                connection_file=str(self.runtime_dir / "connection.json"),
            )
            self._log_file = open(self.runtime_dir / "kernel.log", "ab")  # noqa: SIM115
            self.km = km
            self.isolation = "bubblewrap" if avail.ok else "none"
            try:
                self._launch()
            except Exception as exc:
                self._teardown()
                raise KernelError(f"the Python kernel could not start: {exc}") from exc

    def _launch(self) -> None:
        if self.isolation == "bubblewrap":
            self._cgroups = sandbox.make_cgroup(
                self.runtime_dir.parent.name + f"-{os.getpid()}-{id(self):x}",
                self.limits.memory_bytes,
                self.limits.processes,
                self.limits.cpus,
            )
            plan = json.loads((self.runtime_dir / "plan.json").read_text(encoding="utf-8"))
            plan["cgroups"] = self._cgroups
            (self.runtime_dir / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
        self._inner_pid = None
        # bwrap --die-with-parent ties the sandbox to the *thread* that started it (Linux
        # sends the parent-death signal when that thread ends): start every kernel from one
        # thread that lives as long as the app, never from a page's or a run's thread.
        _SPAWNER.submit(
            self.km.start_kernel,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **self._env_outside()},
            cwd=str(self.work_dir),
            stdout=self._log_file,
            stderr=self._log_file,
        ).result()
        self._connect()

    def _write_plan(self, avail: sandbox.Availability, uid: int | None) -> Path:
        """What the exec wrapper and the launcher read: written where the kernel never
        looks (the runtime folder is not mounted in the sandbox)."""
        rt = self.runtime_dir
        inside = avail.ok
        launcher_cfg = {
            "work_dir": str(self.work_dir),
            "connection_file": (sandbox.INSIDE_RUN if inside else str(rt))
            + ("/connection.json" if inside else "/connection-inside.json"),
            "drop_to_uid": uid,
            "memory_bytes": self.limits.memory_bytes,
            "cpu_seconds": self.limits.kernel_cpu_s,
            "file_size_bytes": self.limits.file_size_bytes,
            "open_files": self.limits.open_files,
            "processes": self.limits.processes if inside else None,
        }
        (rt / "launcher.json").write_text(json.dumps(launcher_cfg), encoding="utf-8")
        launcher_inside = sandbox.INSIDE_RUN + "/launcher.py"
        cfg_inside = sandbox.INSIDE_RUN + "/config.json"
        plan: dict = {"inside_connection": str(rt / "connection-inside.json"), "cgroups": []}
        (rt / "connection-inside.json").write_text("{}", encoding="utf-8")
        if inside:
            (rt / "seccomp.bpf").write_bytes(_seccomp_program())
            paths = sandbox.SandboxPaths(
                work_dir=self.work_dir,
                tmp_dir=self.tmp_dir,
                ipc_dir=Path(self._ipc_dir),
                launcher=LAUNCHER,
                launcher_config=rt / "launcher.json",
                inside_connection=rt / "connection-inside.json",
            )
            argv = sandbox.bwrap_argv(avail.bwrap, paths, self._env(), root=os.geteuid() == 0)
            argv += ["--", sys.executable, "-I", launcher_inside, cfg_inside]
            plan.update(argv=argv, seccomp=str(rt / "seccomp.bpf"))
            plan["inside_ip"] = sandbox.INSIDE_RUN + "/ipc/k"
        else:
            plan["argv"] = [sys.executable, "-I", str(LAUNCHER), str(rt / "launcher.json")]
        path = rt / "plan.json"
        path.write_text(json.dumps(plan), encoding="utf-8")
        return path

    def _env(self) -> dict[str, str]:
        """The kernel's whole environment: nothing of the app's (tokens, proxies) leaks in."""
        tmp = "/tmp" if sandbox.availability().ok else str(self.tmp_dir)
        env = {
            "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin",
            "HOME": tmp,
            "TMPDIR": tmp,
            "MPLCONFIGDIR": tmp + "/.matplotlib",
            "IPYTHONDIR": tmp + "/.ipython",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
            "USER": "sandbox",
            "LOGNAME": "sandbox",
        }
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "2"  # thread pools reserve address space per thread
        return env

    def _env_outside(self) -> dict[str, str]:
        # bwrap clears the environment itself; without a sandbox the launcher gets it
        return {} if self.isolation == "bubblewrap" else self._env()

    def _connect(self) -> None:
        if self._context is None:
            self._context = _capped_context()
        kc = self.km.client(context=self._context)
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=self.limits.start_timeout_s)
        except RuntimeError as exc:
            kc.stop_channels()
            raise KernelError(f"the kernel did not answer: {exc}") from exc
        self.kc = kc
        setup = startup_code() + kernel_fonts.setup_code()  # Chinese in plots (issue 13)
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
                self.km.shutdown_kernel(now=True, restart=True)
                sandbox.kill_cgroups(self._cgroups)
                self._launch()
            except Exception as exc:
                self._teardown()
                raise KernelError(f"the kernel could not be restarted: {exc}") from exc
            self.restarts += 1

    def interrupt(self) -> None:
        """SIGINT to the running cell (KeyboardInterrupt), from any thread."""
        km = self.km
        if km is None or not self._busy:
            return
        pid = self.kernel_pid()
        try:
            if pid:
                os.kill(pid, signal.SIGINT)
            else:
                km.interrupt_kernel()
        except Exception as exc:  # already dead: execute() notices and restarts
            log.debug("interrupt failed: %s", exc)

    def shutdown(self) -> None:
        with self._state_lock:
            self._closed = True
            self._teardown()

    def _teardown(self) -> None:
        if self.kc is not None:
            with suppress(Exception):
                self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception as exc:
                log.debug("shutdown: %s", exc)
            with suppress(Exception):
                self.km.cleanup_resources()
            self.km = None
        sandbox.kill_cgroups(self._cgroups)
        self._cgroups = []
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._ipc_dir:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
            self._ipc_dir = None
        if self._context is not None:
            with suppress(Exception):
                self._context.term()
            self._context = None

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
            used = folder_size(*self.quota_folders())
            if used > self.limits.folder_bytes:
                return ExecutionResult(ok=False, notice=self.folder_full_notice(used, ran=False))
            self.last_used = time.time()
            self._set_cell_cpu_limit()
            res = self._run(code, timeout_s or self.limits.timeout_s, should_stop, on_output)
            self.last_used = time.time()
            if notice:
                res.notice = (notice + " " + res.notice).strip()
                res.restarted = True
            used = folder_size(*self.quota_folders())
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
        pid = self.kernel_pid()
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
        budget = _Budget(self.limits)
        next_quota_check = t0 + 0.5
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
                now = time.perf_counter()
                if not setup and now >= next_quota_check:
                    next_quota_check = now + 0.5
                    used = folder_size(*self.quota_folders())
                    if used > self.limits.folder_bytes and not res.quota_hit:
                        res.quota_hit = True
                        interrupt_once("folder quota")
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
                    text = budget.text(str(content.get("text", "")))
                    if text:
                        if res.outputs and res.outputs[-1].kind == "stream" and on_output is None:
                            res.outputs[-1].text += text
                        else:
                            add(Output("stream", text=text))
                elif mtype in ("execute_result", "display_data"):
                    self._add_display(content.get("data", {}), res, add, budget)
                elif mtype == "error":
                    res.ok = False
                    res.error_name = str(content.get("ename", ""))[:200]
                    res.error_value = str(content.get("evalue", ""))[:2000]
                    tb = _ANSI.sub("", "\n".join(map(str, content.get("traceback", []))))
                    add(Output("error", text=budget.text(tb, force=2000)))
                if budget.over and not res.truncated:
                    res.truncated = True
                    interrupt_once("output over the limit")
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
        res.refused_images = budget.refused_images
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
        if res.quota_hit:
            notes.append(
                f"Stopped: the session's files grew past the {self.limits.folder_bytes / MiB:.0f}"
                " MiB limit while the code ran."
            )
            res.ok = False
        elif res.timed_out:
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
        if res.refused_images:
            notes.append(
                f"{res.refused_images} image(s) were refused: at most {self.limits.max_images} "
                f"per run, each under {self.limits.image_bytes / MiB:.0f} MiB."
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

    def _add_display(
        self, data: dict, res: ExecutionResult, add: Callable[[Output], None], budget: _Budget
    ) -> None:
        if not isinstance(data, dict):
            return
        if "image/png" in data:
            png = budget.image(data["image/png"])
            if png is None:
                return
            rel = self._save_figure(png)
            add(Output("image", png=png, path=rel))
        elif "application/vnd.dataresource+json" in data:
            table = data["application/vnd.dataresource+json"]
            try:
                fields = [str(f["name"]) for f in table.get("schema", {}).get("fields", [])]
                rows = [[row.get(f) for f in fields] for row in table.get("data", [])]
                size = len(json.dumps(rows, default=str)) + len(str(data.get("text/plain", "")))
            except (AttributeError, KeyError, TypeError):
                return
            if not budget.take(size):
                return
            add(
                Output(
                    "table",
                    text=str(data.get("text/plain", "")),
                    table={"columns": fields, "data": rows},
                )
            )
        elif "text/plain" in data:
            text = budget.text(str(data["text/plain"]))
            if text:
                add(Output("text", text=text))

    def _save_figure(self, png: bytes) -> str | None:
        """Keep a figure in the work folder, written without following any link the code
        may have planted there (figures/ may be a symlink: then it is not saved)."""
        for _ in range(1000):
            self.figure_count += 1
            rel = f"figures/figure-{self.figure_count:03d}.png"
            try:
                safefs.write_new(self.work_dir, rel, png, uid=self._file_uid())
                return rel
            except FileExistsError:
                continue
            except OSError as exc:
                log.info("figure not saved: %s", exc)
                return None
        return None

    def _file_uid(self) -> int | None:
        return self.sandbox_uid if self.sandboxed else None

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
    def write_file(self, rel: str, data: bytes) -> None:
        """Put a file into the work folder for the kernel (uploads), never through a link."""
        safefs.write_new(self.work_dir, rel, data, uid=self._file_uid() or self.sandbox_uid)


class _Budget:
    """What one cell may still send back: text characters and images, counted before
    anything is kept; what does not fit is refused (and the cell interrupted)."""

    def __init__(self, limits: KernelLimits) -> None:
        self.limits = limits
        self.chars = 0
        self.images = 0
        self.refused_images = 0
        self.over = False

    def take(self, n: int) -> bool:
        if self.chars + n > self.limits.output_chars:
            self.over = True
            return False
        self.chars += n
        return True

    def text(self, text: str, force: int = 0) -> str:
        """The part of ``text`` that fits (``force``: keep at least that much, e.g. the end
        of a traceback)."""
        room = max(0, self.limits.output_chars - self.chars)
        if len(text) > room:
            self.over = True
            text = text[-force:] if force and room < force else text[:room]
        self.chars += len(text)
        return text

    def image(self, b64: object) -> bytes | None:
        if not isinstance(b64, str):
            return None
        if self.images >= self.limits.max_images or len(b64) > self.limits.image_bytes * 4 // 3 + 4:
            self.refused_images += 1
            return None
        try:
            png = base64.b64decode(b64, validate=False)
        except ValueError:
            return None
        if not png.startswith(b"\x89PNG"):
            return None
        self.images += 1
        return png
