"""Start one sandboxed IPython kernel: limits first, then ipykernel in this same process.

Run by :mod:`demo_core.agent.kernel` as ``python -I kernel_launcher.py CONFIG.json -f
CONNECTION.json``. It is deliberately self-contained (standard library only, no
``demo_core`` imports) because it runs *inside* the sandbox, before anything else is
imported, and ``-I`` keeps the project directory off ``sys.path``.

Order matters, each step needs the previous one:

1. **Network namespace.** ``unshare(CLONE_NEWNET)`` (plus ``CLONE_NEWUSER`` when not
   root) gives the kernel a network stack with only a loopback interface that is down:
   no packet can leave, whatever the code does (raw sockets, C extensions, child
   processes). It must happen while the process is still single-threaded. Jupyter keeps
   working because the kernel talks to the app over Unix-domain (``ipc``) sockets, which
   are files, not network. Where the OS refuses (a container without user namespaces),
   the audit hook below is the only barrier, and ``sandbox.json`` says so.
2. **Resource limits** (``setrlimit``), inherited by anything the kernel could start and
   impossible to raise again without privileges: address space (a memory bomb gets a
   ``MemoryError`` instead of the machine's RAM), CPU seconds for the kernel's lifetime,
   largest file it may write, open files, no core dumps.
3. **Privileges.** If the app runs as root (common on lesson machines), the kernel
   switches to its own unprivileged uid/gid, so the operating system itself denies it
   the rest of the filesystem and the other sessions' folders.
4. **Audit hook** (:func:`install_audit_hook`), then ipykernel.
"""

from __future__ import annotations

import json
import os
import sys

# -- 1. network -------------------------------------------------------------------------

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def isolate_network() -> str:
    """Move this process into an empty network namespace; return what applies."""
    if not sys.platform.startswith("linux"):
        return "audit-hook"
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        uid, gid = os.geteuid(), os.getegid()
        flags = CLONE_NEWNET if uid == 0 else CLONE_NEWUSER | CLONE_NEWNET
        if libc.unshare(flags) != 0:
            return "audit-hook"
        if uid != 0:
            # map our own ids 1:1 so files we create keep belonging to us
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"{uid} {uid} 1\n")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"{gid} {gid} 1\n")
        return "namespace"
    except Exception:
        return "audit-hook"


# -- 2. limits --------------------------------------------------------------------------


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
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        # soft limit: SIGXCPU (kills); hard limit a little later: SIGKILL, no way around
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    cap(resource.RLIMIT_FSIZE, cfg.get("file_size_bytes"))
    cap(resource.RLIMIT_NOFILE, cfg.get("open_files"))
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


# -- 3. privileges ----------------------------------------------------------------------


def drop_privileges(cfg: dict, connection_file: str) -> int:
    """As root: become the session's own uid (the app chowned its folders to it)."""
    uid = cfg.get("sandbox_uid")
    if os.geteuid() != 0 or uid is None:
        return os.geteuid()
    os.chown(connection_file, uid, uid)  # ipykernel reads it after the switch
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    return uid


# -- 4. audit hook ----------------------------------------------------------------------

_WRITE_EVENTS = {
    # event -> indexes of path arguments
    "os.mkdir": (0,),
    "os.rmdir": (0,),
    "os.remove": (0,),
    "os.rename": (0, 1),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.rmtree": (0,),
    "shutil.copyfile": (1,),
    "shutil.copymode": (1,),
    "shutil.copystat": (1,),
    "shutil.copytree": (1,),
    "shutil.move": (1,),
    "shutil.make_archive": (0,),
    "shutil.unpack_archive": (1,),
    "sqlite3.connect": (0,),
}
_READ_EVENTS = {
    "os.listdir": (0,),
    "os.scandir": (0,),
    "os.getxattr": (0,),
    "os.listxattr": (0,),
    "shutil.copyfile": (0,),
    "shutil.copytree": (0,),
    "shutil.unpack_archive": (0,),
}
_PROCESS_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "pty.spawn",
        "os.startfile",
    }
)
_NETWORK_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "urllib.Request",
    }
)
_INTROSPECTION_EVENTS = frozenset(
    {
        # ways to reach (and patch) this hook's own function object
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        # native code: calling libc directly would bypass every check here
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.dlsym/handle",
        "ctypes.cdata",
        "ctypes.cdata/buffer",
    }
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def install_audit_hook(
    writable: list[str], readable: list[str], block_network: bool = True
) -> None:
    """Refuse, inside the kernel, what sandboxed code has no business doing.

    What it does: every ``open`` (builtin, ``os.open``, ``io.open_code`` for imports),
    directory listing and file-changing call from Python code is checked against two lists
    of folders, after resolving symlinks and ``..``: writes only inside ``writable`` (the
    session's work folder and the kernel's private runtime folder), reads also inside
    ``readable`` (the Python installation, stdlib and site-packages, fonts, time zones).
    Starting processes (a child would run without this hook), network calls, ``ctypes``,
    ``gc`` object walks (the way to reach this hook) and signals to other processes are
    refused. Refusals raise ``PermissionError`` with the reason, so the model reads it.

    What it does NOT do: audit hooks are a CPython feature, not a security boundary. Code
    in a C extension (numpy, pandas' C parsers, zmq) opens files without raising events,
    and determined Python code can probably find a way around an in-process check. It
    stops accidents and naive attempts; the hard limits are the OS ones set before it (own
    process, rlimits, empty network namespace, own uid when the app runs as root).
    """
    import _thread

    sep = os.sep
    realpath = os.path.realpath
    fsdecode = os.fsdecode
    w_roots = tuple(sorted({realpath(p) for p in writable}))
    r_roots = tuple(sorted({realpath(p) for p in readable})) + w_roots
    own_pid = os.getpid()
    guard = _thread.allocate_lock()  # realpath() must not re-enter the hook

    def inside(path: object, roots: tuple[str, ...]) -> bool:
        if isinstance(path, int):  # an already-open file descriptor
            return True
        if path is None:
            return True
        try:
            p = realpath(fsdecode(path))
        except Exception:
            return False
        return any(p == r or p.startswith(r + sep) for r in roots)

    def deny(why: str) -> None:
        raise PermissionError(f"blocked by the sandbox: {why}")

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
            )
            if not guard.acquire(False):
                return
            try:
                ok = inside(path, w_roots if writing else r_roots)
            finally:
                guard.release()
            if not ok:
                deny(
                    f"{'writing' if writing else 'reading'} {path!r} is outside the "
                    "session's folder"
                )
            return
        if event in _WRITE_EVENTS or event in _READ_EVENTS:
            if not guard.acquire(False):
                return
            try:
                for roots, table in ((w_roots, _WRITE_EVENTS), (r_roots, _READ_EVENTS)):
                    for i in table.get(event, ()):
                        if i < len(args) and not inside(args[i], roots):
                            deny(f"{event} on {args[i]!r} is outside the session's folder")
            finally:
                guard.release()
            return
        if event in _PROCESS_EVENTS:
            deny("starting other programs is not allowed")
        if block_network and event in _NETWORK_EVENTS:
            deny("network access is disabled")
        if event in _INTROSPECTION_EVENTS:
            deny(f"{event} is not allowed")
        if event in ("os.kill", "os.killpg", "signal.pthread_kill") and args:
            if event != "signal.pthread_kill" and args[0] not in (own_pid, 0):
                deny("signalling other processes is not allowed")

    sys.addaudithook(hook)


# -- main -------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    cfg_path = argv[1]
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    connection_file = argv[argv.index("-f") + 1]
    report: dict = {"pid": os.getpid()}
    report["network"] = isolate_network() if cfg.get("network", True) else "off"
    apply_limits(cfg)
    report["uid"] = drop_privileges(cfg, connection_file)
    os.chdir(cfg["work_dir"])
    sys.path[:0] = [""]  # like a normal kernel: the session folder is importable
    with open(os.path.join(cfg["runtime_dir"], "sandbox.json"), "w", encoding="utf-8") as f:
        json.dump(report, f)
    # imports that ipykernel performs lazily and that the hook would otherwise refuse
    import ctypes  # noqa: F401  (IPython/zmq load it; loading it later is blocked)

    # The runtime folder holds the config and the log: off limits. Only its home/ and
    # tmp/ are the kernel's (matplotlib cache, IPython history, temp files), plus the
    # connection file ipykernel reads at start (its key only signs this kernel's own
    # messages, which the code inside could send anyway).
    rt = cfg["runtime_dir"]
    install_audit_hook(
        [cfg["work_dir"], os.path.join(rt, "home"), os.path.join(rt, "tmp")],
        [*cfg.get("readable", []), connection_file],
        block_network=True,
    )
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = [sys.argv[0], *argv[2:]]
    IPKernelApp.launch_instance()


if __name__ == "__main__":
    main(sys.argv)
