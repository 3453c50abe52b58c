"""Start one IPython kernel: drop privileges and set limits, then ipykernel in this process.

Runs *inside* the sandbox (see :mod:`demo_core.agent.sandbox`) as
``python -I launcher.py CONFIG.json``, before any user code. Standard library only: inside,
the project's source is not mounted; this file and its config are read-only copies.

1. **Uid.** When bwrap ran as root (no user namespace), switch to the session's own
   unprivileged uid/gid with no supplementary groups; the two capabilities bwrap kept for
   this go with the uid. Then ``PR_SET_NO_NEW_PRIVS``: nothing executed later can gain
   privileges (setuid binaries, file capabilities).
2. **Limits** (``setrlimit``), inherited by every child and impossible to raise again:
   address space (a memory bomb gets a ``MemoryError``), CPU seconds for the kernel's life,
   the largest file it may write, open files, processes (fork bombs), no core dumps.
3. ipykernel, on the connection file the app wrote.

The app's kernel start-up code (imports, plotting defaults) is *not* here: it is the first
cell the app runs, kept in :mod:`demo_core.agent.kernel_startup`.
"""

from __future__ import annotations

import json
import os
import sys

PR_SET_NO_NEW_PRIVS = 38


def drop_privileges(uid: int | None) -> None:
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if os.geteuid() == 0 or os.getegid() == 0:
            raise SystemExit("could not leave root")
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    except Exception:  # not Linux: nothing to do
        pass


def apply_limits(cfg: dict) -> None:
    import resource
    import signal

    def cap(which: int, value: int | None) -> None:
        if value is None:
            return
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))

    cap(resource.RLIMIT_AS, cfg.get("memory_bytes"))
    cpu = cfg.get("cpu_seconds")
    if cpu is not None:
        # soft limit: SIGXCPU (an exception, see below); hard limit: SIGKILL, no way around
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    cap(resource.RLIMIT_FSIZE, cfg.get("file_size_bytes"))
    cap(resource.RLIMIT_NOFILE, cfg.get("open_files"))
    cap(resource.RLIMIT_NPROC, cfg.get("processes"))
    cap(resource.RLIMIT_CORE, 0)
    # writing past RLIMIT_FSIZE then fails with an OSError instead of killing the kernel
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def on_cpu_limit(signum: int, frame: object) -> None:
        # The app lowers the soft limit before each cell (prlimit); passing it ends the
        # cell with an exception. Give the cell a few seconds to unwind, up to the hard
        # limit, which no handler can catch.
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY and soft + 5 <= hard:
            resource.setrlimit(resource.RLIMIT_CPU, (soft + 5, hard))
        raise TimeoutError("CPU time limit for one run exceeded")

    signal.signal(signal.SIGXCPU, on_cpu_limit)


def main(argv: list[str]) -> None:
    with open(argv[1], encoding="utf-8") as f:
        cfg = json.load(f)
    drop_privileges(cfg.get("drop_to_uid"))
    apply_limits(cfg)
    os.chdir(cfg["work_dir"])
    sys.path[:0] = [""]  # like a normal kernel: the work folder is importable
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = [sys.argv[0], "-f", cfg["connection_file"]]
    IPKernelApp.launch_instance()


if __name__ == "__main__":
    main(sys.argv)
