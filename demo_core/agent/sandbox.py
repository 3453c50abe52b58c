"""The operating-system sandbox around each agent kernel: bubblewrap + seccomp + limits.

Why bubblewrap: it is the small, well-kept namespace tool Flatpak is built on (Debian
``bubblewrap``); it sets up the mount, pid, ipc, uts, net and cgroup namespaces, a fresh
``/proc`` and ``/dev``, drops capabilities, ``--die-with-parent`` and ``--new-session``.
The seccomp filter is compiled with libseccomp (the system library, through the ``pyseccomp``
ctypes binding) and handed to bwrap as BPF, as Flatpak does.

What the kernel sees (all else is absent, not merely unreadable):

- read-only: ``/usr`` (system libraries, ``/usr/share/fonts``), the Python installation
  and the app's virtual environment (site-packages, their fonts), a few files of ``/etc``
  (fontconfig, time zone, MIME table, the loader cache), its own start-up script and
  connection file (copies the kernel cannot change; the originals live in the session's
  ``runtime`` folder, which is never mounted);
- read-write: its own work folder (same absolute path as outside, so the paths the model
  is given stay valid), a private ``/tmp`` that is the session's ``tmp`` folder on disk
  (counted in the folder quota), its own socket folder (the kernel's ZeroMQ ``ipc``
  sockets, the only way in or out: with its own network namespace a TCP transport could
  not reach it), and a 16 MiB ``/dev/shm``.

Uid. As root (the course machines), bwrap runs *without* a user namespace and the
start-up script switches to the session's own unprivileged uid before any user code:
a user namespace created by root maps the kernel to root outside (uid 0 owns every
root file it can see and is exempt from ``RLIMIT_NPROC``). Without root, bwrap creates a
user namespace (``--unshare-user``, uid 1000 inside) and forbids nested ones. In both
cases seccomp refuses new namespaces, mounts, ``ptrace``, keyrings, ``bpf``, io_uring,
``memfd_create`` (memory the address-space limit would not see) and every socket family
but Unix, IP and routing netlink (all of it inside the empty network namespace;
AF_VSOCK, packet and Bluetooth sockets, which a network namespace does not cover, are
refused).

Limits. rlimits in the start-up script (address space, CPU, file size, open files,
processes) plus, where the OS offers it to this process, a memory/pids/cpu cgroup (v2,
else v1 as root) that counts memfds, /dev/shm, threads and children together and caps the
kernel at ``cpus`` cores, so a thread left running after its cell cannot starve the app.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

NO_BWRAP_ENV = "DEMO_STUDIO_NO_BWRAP"  # "1": behave as if bubblewrap were not installed
BWRAP_ENV = "DEMO_STUDIO_BWRAP"  # path of bwrap, default: found on PATH
INSIDE_RUN = "/run/kernel"  # where the start-up script and its files appear inside
INSIDE_UID = 1000  # uid inside the user namespace (app not root)
SHM_BYTES = 16 * 1024**2

# namespace flags of clone()/unshare(): a process inside may create none of them
_CLONE_NS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
    0x00000080,  # CLONE_NEWTIME
)
_DENIED_SYSCALLS = (
    # leave or change the namespaces / mounts bwrap built
    "unshare setns mount umount2 pivot_root chroot move_mount open_tree fsopen fsconfig "
    "fsmount fspick mount_setattr "
    # look into or steal from other processes
    "ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd "
    # kernel keyrings are per uid, not per sandbox
    "add_key keyctl request_key "
    # big kernel attack surface, nothing a data analysis needs
    "bpf perf_event_open userfaultfd io_uring_setup io_uring_enter io_uring_register "
    "kexec_load kexec_file_load init_module finit_module delete_module acct swapon swapoff "
    "reboot syslog quotactl open_by_handle_at name_to_handle_at lookup_dcookie uselib "
    "vhangup iopl ioperm settimeofday clock_settime clock_adjtime adjtimex "
    "mbind migrate_pages move_pages set_mempolicy "
    # anonymous files: memory outside RLIMIT_AS where there is no memory cgroup
    "memfd_create memfd_secret"
).split()
_ALLOWED_FAMILIES = {1, 2, 10}  # AF_UNIX (the kernel's sockets), AF_INET, AF_INET6
_AF_NETLINK = 16
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C


@dataclass(frozen=True)
class Availability:
    """Whether kernels can be sandboxed here, and if not, why (in plain words)."""

    ok: bool
    bwrap: str = ""
    reason: str = ""


def _bwrap_path() -> str:
    if os.environ.get(NO_BWRAP_ENV, "") not in ("", "0"):
        return ""
    return os.environ.get(BWRAP_ENV) or shutil.which("bwrap") or ""


def availability() -> Availability:
    """Probe once per process (and per bwrap path): is bwrap there, and may it build
    the namespaces? Containers often refuse user namespaces; then this says so."""
    return _probe(_bwrap_path(), os.geteuid() == 0)


@functools.lru_cache(maxsize=4)
def _probe(bwrap: str, root: bool) -> Availability:
    if not bwrap:
        return Availability(
            False,
            reason="bubblewrap (bwrap) is not installed, so code cannot be isolated from the "
            "app. Install it with: apt-get install bubblewrap",
        )
    try:
        import pyseccomp  # noqa: F401
    except Exception as exc:  # libseccomp missing
        return Availability(False, bwrap, f"the seccomp library could not be loaded ({exc})")
    argv = [bwrap, *_namespace_args(root), *_system_binds(), "--", "/bin/true"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Availability(False, bwrap, f"bubblewrap could not be started ({exc})")
    if r.returncode != 0:
        why = (r.stderr or r.stdout).strip().splitlines()[-1:] or [f"exit {r.returncode}"]
        return Availability(
            False,
            bwrap,
            "this machine does not let bubblewrap create namespaces "
            f"({why[0]}); user namespaces are probably disabled in this container",
        )
    return Availability(True, bwrap)


def _namespace_args(root: bool) -> list[str]:
    ns = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    ns += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if root:
        # no user namespace (see the module docstring); the start-up script drops to the
        # session's uid with these two capabilities, which it then loses with the uid
        return [*ns, "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return [
        *ns,
        "--unshare-user",
        "--disable-userns",
        "--uid",
        str(INSIDE_UID),
        "--gid",
        str(INSIDE_UID),
    ]


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    return args


def python_roots() -> list[str]:
    """Folders of the Python installation the kernel runs on: the interpreter's prefix
    (stdlib), the virtual environment (site-packages) and any other site folder."""
    import site
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            roots.add(p)
    roots.update(site.getsitepackages())
    real = {os.path.realpath(r) for r in roots if r and os.path.isdir(r)}
    real |= {r for r in roots if r and os.path.isdir(r)}
    out: list[str] = []
    for r in sorted(real, key=len):  # skip folders already inside another root
        if r.startswith("/usr/") or r == "/usr":
            continue
        if not any(r == o or r.startswith(o + "/") for o in out):
            out.append(r)
    return out


ETC_FILES = (
    "/etc/fonts",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
)


@dataclass
class SandboxPaths:
    work_dir: Path  # read-write, same path inside
    tmp_dir: Path  # read-write, /tmp inside
    ipc_dir: Path  # read-write, INSIDE_RUN/ipc inside
    launcher: Path  # read-only copy at INSIDE_RUN/launcher.py
    launcher_config: Path  # read-only at INSIDE_RUN/config.json
    inside_connection: Path  # read-only at INSIDE_RUN/connection.json


def bwrap_argv(bwrap: str, paths: SandboxPaths, env: dict[str, str], *, root: bool) -> list[str]:
    """The full bwrap command line (without ``--seccomp FD``, which the exec wrapper adds)."""
    args = [bwrap, *_namespace_args(root), "--clearenv"]
    for k, v in env.items():
        args += ["--setenv", k, v]
    args += _system_binds()
    made: set[str] = set()

    def parents(dest: str) -> list[str]:
        # bwrap makes missing parent folders mode 0700, which the unprivileged uid could not
        # cross: create them first, world-traversable (they are empty, on bwrap's tmpfs)
        out = []
        p = Path(dest).parent
        chain = []
        while str(p) not in ("/", "") and str(p) not in made:
            chain.append(str(p))
            p = p.parent
        for d in reversed(chain):
            made.add(d)
            out += ["--perms", "0755", "--dir", d]
        return out

    def under_tmp(path: str) -> bool:
        return path == "/tmp" or path.startswith("/tmp/")

    roots = python_roots()
    for root_dir in (r for r in roots if not under_tmp(r)):
        args += parents(root_dir) + ["--ro-bind", root_dir, root_dir]
    for p in ETC_FILES:
        if os.path.exists(p):
            args += parents(p) + ["--ro-bind", p, p]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
    # /tmp first: a work folder under the host's /tmp (tests) is then mounted on top of it
    args += ["--bind", str(paths.tmp_dir), "/tmp"]
    made.add("/tmp")
    # a Python installed under the host's /tmp (a clone there, as CI's clean-clone check
    # makes) would be hidden by the private /tmp: mount it again on top, read-only
    for root_dir in (r for r in roots if under_tmp(r)):
        args += parents(root_dir) + ["--ro-bind", root_dir, root_dir]
    work = str(paths.work_dir)
    args += parents(work) + ["--bind", work, work]
    run = INSIDE_RUN
    args += parents(run + "/x") + ["--bind", str(paths.ipc_dir), run + "/ipc"]
    args += ["--ro-bind", str(paths.launcher), run + "/launcher.py"]
    args += ["--ro-bind", str(paths.launcher_config), run + "/config.json"]
    args += ["--ro-bind", str(paths.inside_connection), run + "/connection.json"]
    args += ["--remount-ro", "/", "--chdir", work]
    return args


def seccomp_bpf() -> bytes:
    """The filter as BPF bytes, compiled by libseccomp (native architecture only: calls of
    any other ABI, e.g. 32-bit ``int 0x80``, kill the process)."""
    import pyseccomp as sc

    f = sc.SyscallFilter(sc.ALLOW)
    eperm = sc.ERRNO(errno.EPERM)
    eafno = sc.ERRNO(errno.EAFNOSUPPORT)
    for name in _DENIED_SYSCALLS:
        try:
            f.add_rule(eperm, name)
        except Exception:  # not a syscall on this architecture
            log.debug("seccomp: no syscall %s here", name)
    for flag in _CLONE_NS:
        f.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc use clone
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    # AF_NETLINK only as NETLINK_ROUTE (ZeroMQ lists the interfaces of the empty namespace)
    f.add_rule(eafno, "socket", sc.Arg(0, sc.EQ, _AF_NETLINK), sc.Arg(2, sc.NE, 0))
    for fam in range(64):
        if fam not in _ALLOWED_FAMILIES and fam != _AF_NETLINK:
            f.add_rule(eafno, "socket", sc.Arg(0, sc.EQ, fam))
            f.add_rule(eafno, "socketpair", sc.Arg(0, sc.EQ, fam))
    for req in (_TIOCSTI, _TIOCLINUX):
        f.add_rule(eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, req))
    import tempfile

    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()


# -- cgroups ---------------------------------------------------------------------------


def _own_cgroups() -> dict[str, str]:
    """controller ('' for v2) -> this process's cgroup path."""
    out = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                out[c] = path
    except OSError:
        pass
    return out


def _mounts() -> list[tuple[str, str, str]]:
    out = []
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            dev, mnt, fstype, opts, *_ = line.split()
            out.append((mnt, fstype, opts))
    except OSError:
        pass
    return out


def make_cgroup(name: str, memory_bytes: int, pids: int, cpus: float = 1.0) -> list[str]:
    """Create this kernel's cgroup(s) with memory, pids and CPU-share limits (``cpus``: how
    many cores' worth of time all its threads and children get); return the folders whose
    ``cgroup.procs`` the exec wrapper joins (empty when the OS offers none to us).

    v2: a sibling of the app's own cgroup (so its controllers are already enabled by the
    parent, and no process sits in an inner node). v1 (hybrid hosts, root): the memory and
    pids hierarchies, each next to the app's own group."""
    own = _own_cgroups()
    mounts = _mounts()
    v2 = [m for m, t, _ in mounts if t == "cgroup2"]
    for mnt in v2:
        rel = own.get("", "/").lstrip("/")
        here = Path(mnt) / rel
        parent = here.parent if rel else here
        try:
            ctrls = (here / "cgroup.controllers").read_text().split()
        except OSError:
            continue
        if not {"memory", "pids"} <= set(ctrls):
            continue
        d = parent / f"demo-studio-{name}"
        try:
            d.mkdir(exist_ok=True)
            (d / "memory.max").write_text(str(memory_bytes))
            try:
                (d / "memory.swap.max").write_text("0")
            except OSError:
                pass
            (d / "pids.max").write_text(str(pids))
            if "cpu" in ctrls:
                (d / "cpu.max").write_text(f"{int(cpus * 100_000)} 100000")
            return [str(d)]
        except OSError as exc:
            log.info("cgroup v2 not usable (%s)", exc)
            _rmdir(d)
    made = []
    for ctrl, files in (
        ("memory", {"memory.limit_in_bytes": memory_bytes}),
        ("pids", {"pids.max": pids}),
        ("cpu", {"cpu.cfs_period_us": 100_000, "cpu.cfs_quota_us": int(cpus * 100_000)}),
    ):
        mnt = next((m for m, t, o in mounts if t == "cgroup" and ctrl in o.split(",")), None)
        if mnt is None or ctrl not in own:
            continue
        d = Path(mnt) / own[ctrl].lstrip("/") / f"demo-studio-{name}"
        try:
            d.mkdir(exist_ok=True)
            for fname, value in files.items():
                (d / fname).write_text(str(value))
            if ctrl == "memory" and (d / "memory.memsw.limit_in_bytes").exists():
                try:
                    (d / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                except OSError:
                    pass
            made.append(str(d))
        except OSError as exc:
            log.info("cgroup v1 %s not usable (%s)", ctrl, exc)
            _rmdir(d)
    return made


def kill_cgroups(dirs: list[str]) -> None:
    """SIGKILL whatever is still in the kernel's cgroups, then remove them."""
    import signal

    for d in dirs:
        p = Path(d)
        if (p / "cgroup.kill").exists():
            try:
                (p / "cgroup.kill").write_text("1")
            except OSError:
                pass
        try:
            for pid in (p / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        except OSError:
            pass
    for d in dirs:
        _rmdir(Path(d))


def _rmdir(d: Path) -> None:
    import time

    for _ in range(20):
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
