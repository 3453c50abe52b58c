"""Attacks on the agent's sandbox, run through the real path (AgentSession ->
SandboxKernel.execute), and the runner that executes them in a separate "app" process.

Used by tests/test_sandbox_escape.py twice: in the test process as root, and as
``python tests/sandbox_attacks.py SPEC.json OUT.json`` under an unprivileged uid. The
runner only *runs* the attacks and records what came back; every verdict is taken by the
test, from outside the kernel (canaries, listeners, processes, file hashes).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

# name -> (attack class, cell). Placeholders are filled from the spec (paths, ports, pids).
ATTACKS: dict[str, tuple[str, str]] = {
    "read_app_home": ("files", "print(open({home_settings!r}).read())"),
    "read_other_session": ("files", "print(open({victim_secret!r}).read())"),
    "read_app_environ": (
        "files",
        "import os\nfor p in ({app_pid}, 1, 2):\n"
        "    try: print(open(f'/proc/{{p}}/environ', 'rb').read())\n"
        "    except OSError as e: print(e)",
    ),
    "search_everything": (
        "files",
        "import os\nhits = []\n"
        "for root, dirs, files in os.walk('/'):\n"
        "    if root.startswith(('/proc', '/sys', '/dev')): dirs[:] = []; continue\n"
        "    for n in files:\n"
        "        p = os.path.join(root, n)\n"
        "        try:\n"
        "            if os.path.getsize(p) < 2_000_000 and b'CANARY' in open(p, 'rb').read(): hits.append(p)\n"
        "        except OSError: pass\n"
        "print(hits, [open(h, 'rb').read()[:200] for h in hits])",
    ),
    "dir_fd_and_fspath": (
        "files",
        "import os\n"
        "class Two:\n"
        "    n = 0\n"
        "    def __fspath__(self):\n"
        "        Two.n += 1\n"
        "        return 'x.txt' if Two.n == 1 else {home_settings!r}\n"
        "for target in (Two(), {home_settings!r}):\n"
        "    try: print(open(target).read())\n"
        "    except OSError as e: print(e)\n"
        "d = os.open('/', os.O_RDONLY)\n"
        "try: print(os.read(os.open({home_rel!r}, os.O_RDONLY, dir_fd=d), 4096))\n"
        "except OSError as e: print(e)",
    ),
    "sqlite_uri": (
        "files",
        "import sqlite3\n"
        "try: print(sqlite3.connect('file:' + {home_settings!r} + '?mode=ro', uri=True).execute('select 1').fetchall())\n"
        "except Exception as e: print(e)",
    ),
    "write_site_packages": (
        "guard",
        "for p in ({site_pth!r}, '/usr/lib/evil.pth'):\n"
        "    try: open(p, 'w').write('import os')\n"
        "    except OSError as e: print(e)",
    ),
    "rewrite_own_config": (
        "guard",
        "import os\nfor p in ('/run/kernel/config.json', '/run/kernel/connection.json', "
        "'/run/kernel/launcher.py'):\n"
        "    try: open(p, 'w').write('{{}}')\n"
        "    except OSError as e: print(p, e)\n"
        "print(os.listdir('/run/kernel'))",
    ),
    "raise_limits_and_namespaces": (
        "guard",
        "import resource, ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "try: resource.setrlimit(resource.RLIMIT_AS, (-1, -1))\nexcept Exception as e: print('rlimit', e)\n"
        "print('unshare', libc.unshare(0x10000000 | 0x40000000), ctypes.get_errno())\n"
        "print('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())\n"
        "try: os.setuid(0)\nexcept OSError as e: print('setuid', e)",
    ),
    "network_tcp": (
        "network",
        "import socket\nfor host in ('127.0.0.1', 'localhost', {host_ip!r}):\n"
        "    try: socket.create_connection((host, {port}), timeout=2); print('CONN' + 'ECTED', host)\n"
        "    except OSError as e: print(host, e)",
    ),
    "network_other_families": (
        "network",
        "import socket\nfor fam, kind in ((40, socket.SOCK_STREAM), (17, socket.SOCK_RAW), (16, 3)):\n"
        "    try: s = socket.socket(fam, kind); print('made', fam)\n"
        "    except OSError as e: print(fam, e)",
    ),
    "setns_to_host": (
        "network",
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "for p in ('/proc/1/ns/net', '/proc/{app_pid}/ns/net'):\n"
        "    try:\n"
        "        fd = os.open(p, os.O_RDONLY); print(p, libc.setns(fd, 0), ctypes.get_errno())\n"
        "    except OSError as e: print(p, e)\n"
        "import socket\n"
        "try: socket.create_connection(('127.0.0.1', {port}), timeout=2); print('CONN' + 'ECTED')\n"
        "except OSError as e: print(e)",
    ),
    "host_unix_sockets": (
        "sockets",
        "import socket, glob\n"
        "for addr in ({unix_sock!r}, '\\0' + {abstract!r}, *glob.glob({victim_ipc!r} + '/*')):\n"
        "    s = socket.socket(socket.AF_UNIX)\n"
        "    try: s.connect(addr); s.sendall(b'pwn'); print('CONN' + 'ECTED', addr)\n"
        "    except OSError as e: print(repr(addr), e)\n"
        "print(glob.glob('/tmp/*'), glob.glob('/run/*'), glob.glob('/var/run/*'))",
    ),
    "signal_outside": (
        "signals",
        "import os, signal\n"
        "for pid in ({sleeper_pid}, {app_pid}):\n"
        "    try: os.kill(pid, signal.SIGKILL); print('killed', pid)\n"
        "    except OSError as e: print(pid, e)\n"
        "    try: fd = os.pidfd_open(pid); signal.pidfd_send_signal(fd, signal.SIGKILL); print('pidfd', pid)\n"
        "    except OSError as e: print(pid, e)\n"
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('ptrace', libc.ptrace(16, 1, 0, 0), ctypes.get_errno())",
    ),
    "children_escape": (
        "processes",
        "import os, subprocess, multiprocessing, threading, time\n"
        "subprocess.Popen(['sleep', '3600', {tag!r}], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0: os.execv('/bin/sleep', ['sleep', '3601', {tag!r}])\n"
        "    os._exit(0)\n"
        "import _posixsubprocess\n"
        "threading.Thread(target=lambda: [time.sleep(0.01) for _ in iter(int, 1)], daemon=False).start()\n"
        "time.sleep(0.5); print('started')",
    ),
    "fork_bomb": (
        "resources",
        "import os, time\npids = []\n"
        "try:\n"
        "    for i in range(3000):\n"
        "        pid = os.fork()\n"
        "        if pid == 0: time.sleep(30); os._exit(0)\n"
        "        pids.append(pid)\n"
        "except OSError as e: print('stopped at', len(pids), e)\n"
        "print('forked', len(pids))",
    ),
    "memfd_and_shm": (
        "resources",
        "import os\n"
        "try: fd = os.memfd_create('x'); print('memfd', 'made')\nexcept OSError as e: print('memfd', e)\n"
        "try:\n"
        "    with open('/dev/shm/fill', 'wb') as f:\n"
        "        for _ in range(64): f.write(b'x' * 2**20)\n"
        "    print('shm', '64 MiB written')\n"
        "except OSError as e: print('shm', e)",
    ),
    "memory_bomb": ("resources", "blob = bytearray(64 * 1024**3)"),
    "quota_in_one_cell": (
        "resources",
        "import time\nfor i in range(40):\n"
        "    open(f'/tmp/fill{{i}}.bin', 'wb').write(b'x' * 2**20); time.sleep(0.05)\n"
        "print('wrote', 'all')",
    ),
    "output_floods": (
        "resources",
        "from IPython.display import publish_display_data\nimport base64\n"
        "png = b'\\x89PNG\\r\\n\\x1a\\n' + b'0' * (6 * 2**20)\n"
        "publish_display_data({{'image/png': base64.b64encode(png).decode()}})\n"
        "publish_display_data({{'text/plain': 'y' * 3_000_000}})\n"
        "publish_display_data({{'text/plain': 'z' * (80 * 2**20)}})\n"
        "print('sent')",
    ),
    "plant_links": (
        "leaks",
        "import os\n"
        "os.symlink({home_settings!r}, 'settings_link.txt')\n"
        "os.symlink('/proc/self/environ', 'environ_link.txt')\n"
        "os.symlink({home!r}, 'home_dir')\n"
        "os.mkfifo('pipe.csv')\n"
        "open('own.txt', 'w').write('mine')\n"
        "os.link('own.txt', 'own_hardlink.txt')\n"
        "try: os.link({home_settings!r}, 'hard.txt')\nexcept OSError as e: print(e)\n"
        "import shutil; shutil.rmtree('figures', ignore_errors=True)\n"
        "os.symlink({home!r}, 'figures')\n"
        "os.symlink({home_upload_target!r}, 'upload.csv')\n"
        "print(sorted(os.listdir('.')))",
    ),
}


def fill(code: str, spec: dict) -> str:
    return code.format(**spec)


def run_all(spec: dict, base: Path, *, names: list[str] | None = None) -> dict:
    """Run every attack in a fresh session of a fresh registry; return what came back
    (outputs as text, and what the app produced afterwards: zip, listing, upload)."""
    from demo_core.agent.kernel import KernelLimits
    from demo_core.agent.registry import KernelRegistry
    from demo_core.agent.session import AgentSession

    limits = KernelLimits(
        timeout_s=20,
        folder_bytes=8 * 1024**2,
        file_size_bytes=4 * 1024**2,
        memory_bytes=2 * 1024**3,
        output_chars=200_000,
        interrupt_grace_s=3,
        processes=128,
    )
    reg = KernelRegistry(base, limits)
    out: dict = {"results": {}, "pids": {}}
    try:
        victim = AgentSession("victim", reg)
        (victim.work_dir / "secret.csv").write_text(spec["other_canary"])
        victim.kernel.start()
        spec = {
            **spec,
            "victim_secret": str(victim.work_dir / "secret.csv"),
            "victim_ipc": victim.kernel._ipc_dir,
            "app_pid": os.getpid(),
        }
        out["victim_ipc"] = spec["victim_ipc"]
        session = AgentSession("attacker", reg)
        k = session.kernel
        k.start()
        for name in names or list(ATTACKS):
            cls, code = ATTACKS[name]
            if name == "raise_limits_and_namespaces":
                out["before"] = {"user_ns": os.readlink(f"/proc/{k.kernel_pid()}/ns/user")}
            res = k.execute(fill(code, spec))
            out["results"][name] = {
                "class": cls,
                "ok": res.ok,
                "text": res.text(),
                "chars": sum(len(o.text) for o in res.outputs),
                "images": len(res.images),
                "notice": res.notice,
                "quota_hit": res.quota_hit,
                "restarted": res.restarted,
                "truncated": res.truncated,
                "refused_images": res.refused_images,
            }
            out["pids"][name] = k.kernel_pid()
            if name == "raise_limits_and_namespaces":
                pid = k.kernel_pid()
                out["limits_after"] = Path(f"/proc/{pid}/limits").read_text()
                out["user_ns_after"] = os.readlink(f"/proc/{pid}/ns/user")
                out["net_ns_after"] = os.readlink(f"/proc/{pid}/ns/net")
                out["app_net_ns"] = os.readlink("/proc/self/ns/net")
            if name == "fork_bomb":
                out["uid_tasks_after_bomb"] = _tasks_of(k.kernel_pid())
            if name in ("quota_in_one_cell", "fork_bomb"):
                k.restart("clean up after " + name)
                for f in Path(k.tmp_dir).glob("fill*.bin"):
                    f.unlink()
        # leaks back through the app
        out["listing"] = [e.rel for e in session.file_entries()]
        t0 = time.monotonic()
        out["zip"] = session.files_zip().hex()
        out["zip_s"] = time.monotonic() - t0
        try:
            info = session.add_upload("upload.csv", b"a,b\n1,2\n")
            out["upload_saved_as"] = info.name
        except Exception as exc:
            out["upload_error"] = str(exc)
        for rel in ("settings_link.txt", "home_dir"):
            try:
                session.delete_file(rel)
            except Exception as exc:
                out.setdefault("delete_errors", []).append(str(exc))
        plot = k.execute("plt.plot([1, 2]); plt.show()")
        out["plot_after_links"] = {"text": plot.text(), "images": [o.path for o in plot.images]}
        out["kernel_pid"] = k.kernel_pid()
        out["sandboxed"] = k.sandboxed
        out["uid"] = k.execute("import os; print(os.getuid())").text()
        out["victim_alive"] = victim.kernel.execute("print('victim ok')").text()
    finally:
        reg.shutdown_all()
    out["alive"] = True
    return out


def _tasks_of(pid: int | None) -> int:
    """Tasks (threads included) of the kernel's uid, counted from outside."""
    if not pid:
        return -1
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1
    n = 0
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.stat(f"/proc/{p}").st_uid == uid:
                    n += len(os.listdir(f"/proc/{p}/task"))
            except OSError:
                continue
    return n


if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = run_all(spec, Path(spec["base"]))
    Path(sys.argv[2]).write_text(json.dumps(result))
