"""Escape suite for the agent's sandbox: each attack class of issue 11, run through the real
path (AgentSession -> SandboxKernel.execute) and judged from outside the kernel.

Outside the kernel there are canaries (a settings file in the app's home, another
session's upload, a token in the app process's environment), a TCP listener on 127.0.0.1,
a Unix socket and an abstract socket of the host, a sacrificial host process to kill, and
files of the Python installation to overwrite. After the attacks the test checks: no canary
came back (outputs, files the kernel left, the zip download), no listener was reached, the
sacrificial process and the app are alive, nothing changed outside, no child of the kernel
outlived it, and each limit held.

Both as root (in this process) and as an unprivileged app user (``tests/sandbox_attacks.py``
run under ``setpriv``; when Python lives under a private /root, a private mount namespace
lays a world-readable tmpfs over /root with only the Python installation in it).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from demo_core.agent import sandbox
from tests.sandbox_attacks import ATTACKS, run_all

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not sandbox.availability().ok, reason=f"no OS sandbox here: {sandbox.availability().reason}"
    ),
]

USER_UID = 231_000
ROOT = Path(__file__).resolve().parents[1]


class Outside:
    """Everything the attacks aim at, set up and later inspected from the host side."""

    def __init__(self, tmp: Path, owner: int | None) -> None:
        tag = secrets.token_hex(6)
        self.home_canary = f"HOME-CANARY-{tag}"
        self.other_canary = f"OTHER-CANARY-{tag}"
        self.env_canary = f"ENV-CANARY-{tag}"
        self.tag = f"escape-{tag}"
        self.home = tmp / "apphome"
        self.home.mkdir(mode=0o700)
        (self.home / "settings.json").write_text(json.dumps({"hf_token": self.home_canary}))
        (self.home / "upload_target.csv").write_text("ORIGINAL")
        os.chmod(self.home / "settings.json", 0o600)
        self.base = tmp / "agent-sessions"
        self.base.mkdir()
        self.site_pth = Path(sysconfig.get_paths()["purelib"]) / f"h11-{tag}.pth"
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.tcp.setblocking(False)
        self.unix_path = tmp / "host.sock"
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(str(self.unix_path))
        self.unix.listen(8)
        self.unix.setblocking(False)
        os.chmod(self.unix_path, 0o777)
        self.abstract = f"demo-canary-{tag}"
        self.abs_sock = socket.socket(socket.AF_UNIX)
        self.abs_sock.bind("\0" + self.abstract)
        self.abs_sock.listen(8)
        self.abs_sock.setblocking(False)
        self.sleeper = subprocess.Popen(["sleep", "600"])
        if owner is not None:
            for p in (tmp, self.home, self.base, *self.home.iterdir()):
                os.chown(p, owner, owner)

    def spec(self) -> dict:
        return {
            "base": str(self.base),
            "home": str(self.home),
            "home_settings": str(self.home / "settings.json"),
            "home_rel": str(self.home / "settings.json").lstrip("/"),
            "home_upload_target": str(self.home / "upload_target.csv"),
            "other_canary": self.other_canary,
            "site_pth": str(self.site_pth),
            "port": self.tcp.getsockname()[1],
            "host_ip": "127.0.0.2",
            "unix_sock": str(self.unix_path),
            "abstract": self.abstract,
            "sleeper_pid": self.sleeper.pid,
            "tag": self.tag,
            "app_pid": os.getpid(),
        }

    def accepted(self) -> list[str]:
        got = []
        for name, s in (("tcp", self.tcp), ("unix", self.unix), ("abstract", self.abs_sock)):
            try:
                s.accept()
                got.append(name)
            except BlockingIOError:
                pass
        return got

    def close(self) -> None:
        self.sleeper.kill()
        self.sleeper.wait()
        for s in (self.tcp, self.unix, self.abs_sock):
            s.close()
        self.site_pth.unlink(missing_ok=True)


def _tagged_processes(tag: str) -> list[int]:
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if tag.encode() in Path(f"/proc/{p}/cmdline").read_bytes():
                    out.append(int(p))
            except OSError:
                continue
    return out


def _python_reachable_by_others() -> bool:
    import stat

    for root in sandbox.python_roots() + [str(ROOT)]:
        p = Path(root)
        for d in [*reversed(p.parents), p]:
            try:
                if not os.stat(d).st_mode & stat.S_IXOTH:
                    return False
            except OSError:
                return False
    return True


def _run_as_user(outside: Outside, tmp: Path) -> dict:
    spec_path, out_path = tmp / "spec.json", tmp / "out.json"
    spec_path.write_text(json.dumps(outside.spec()))
    os.chown(tmp, USER_UID, USER_UID)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(outside.home),
        "PYTHONPATH": str(ROOT),
        "HF_TOKEN": outside.env_canary,
        "LANG": "C.UTF-8",
    }
    inner = [
        "setpriv", f"--reuid={USER_UID}", f"--regid={USER_UID}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--",
        sys.executable, str(ROOT / "tests" / "sandbox_attacks.py"), str(spec_path), str(out_path),
    ]  # fmt: skip
    if _python_reachable_by_others():
        cmd = inner
    elif str(sys.base_prefix).startswith("/root/") and shutil.which("unshare"):
        # a conda/pyenv Python under a private /root (the course machines): show the user
        # only that installation, as installing the app outside /root would
        stage = tmp / "stage"
        stage.mkdir()
        top = "/root/" + Path(sys.base_prefix).relative_to("/root").parts[0]
        script = (
            f"mount --bind {top} {stage} && mount -t tmpfs -o mode=755 tmpfs /root && "
            f'mkdir {top} && mount --bind {stage} {top} && exec "$@"'
        )
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *inner]
    else:
        pytest.skip("Python is not reachable by an unprivileged user here")
    r = subprocess.run(cmd, env=env, cwd=str(ROOT), capture_output=True, text=True, timeout=800)
    if r.returncode != 0 or not out_path.exists():
        pytest.fail(
            f"the unprivileged app died or failed (exit {r.returncode}): {r.stderr[-3000:]}"
        )
    return json.loads(out_path.read_text())


@pytest.fixture(scope="module", params=["root", "user"])
def attacked(request, tmp_path_factory):
    mode = request.param
    if mode == "root" and os.geteuid() != 0:
        pytest.skip("the root case needs root")
    if mode == "user" and (os.geteuid() != 0 or not shutil.which("setpriv")):
        pytest.skip("running the app as another user needs root and setpriv")
    # the unprivileged user must reach its folders: not under pytest's private tmp root
    tmp = Path(tempfile.mkdtemp(prefix=f"h11-escape-{mode}-"))
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    outside = Outside(tmp, USER_UID if mode == "user" else None)
    home_before = sorted(p.name for p in outside.home.iterdir())
    try:
        if mode == "root":
            os.environ["HF_TOKEN"] = outside.env_canary
            try:
                out = run_all(outside.spec(), outside.base)
            finally:
                os.environ.pop("HF_TOKEN", None)
        else:
            out = _run_as_user(outside, tmp)
        yield mode, outside, out, home_before
    finally:
        outside.close()


def _canaries(outside: Outside) -> list[str]:
    return [outside.home_canary, outside.other_canary, outside.env_canary]


@pytest.mark.parametrize("name", list(ATTACKS))
def test_no_secret_comes_back(attacked, name):
    mode, outside, out, _ = attacked
    text = out["results"][name]["text"]
    for canary in _canaries(outside):
        assert canary not in text, f"{name} ({mode}) leaked {canary}: {text[:500]}"
    assert "CONNECTED" not in text


def test_kernel_was_sandboxed_and_unprivileged(attacked):
    mode, _, out, _ = attacked
    assert out["sandboxed"]
    assert int(out["uid"].strip()) != 0


def test_nothing_reached_the_host_network_or_sockets(attacked):
    mode, outside, out, _ = attacked
    assert outside.accepted() == [], "a host listener received a connection"
    assert out["net_ns_after"] != out["app_net_ns"]


def test_processes_outside_are_untouched_and_the_app_survived(attacked):
    mode, outside, out, _ = attacked
    assert outside.sleeper.poll() is None, "the host process was killed from the sandbox"
    assert out["alive"]
    assert "victim ok" in out["victim_alive"]  # the other session's kernel is unharmed


def test_no_child_outlives_the_kernel(attacked):
    mode, outside, out, _ = attacked
    assert _tagged_processes(outside.tag) == []


def test_guards_cannot_be_changed(attacked):
    mode, outside, out, _ = attacked
    assert not outside.site_pth.exists() and not Path("/usr/lib/evil.pth").exists()
    cfg = json.loads((outside.base / "attacker" / "runtime" / "launcher.json").read_text())
    assert cfg["memory_bytes"] == 2 * 1024**3
    limits = out["limits_after"]
    line = next(ln for ln in limits.splitlines() if ln.startswith("Max address space"))
    assert str(2 * 1024**3) in line
    assert out["user_ns_after"] == out["before"]["user_ns"]
    text = out["results"]["rewrite_own_config"]["text"]
    assert "Read-only file system" in text


def test_resource_limits_held(attacked):
    mode, outside, out, _ = attacked
    r = out["results"]
    assert "memfd made" not in r["memfd_and_shm"]["text"]
    assert "shm 64 MiB written" not in r["memfd_and_shm"]["text"]
    assert not r["memory_bomb"]["ok"]
    assert r["quota_in_one_cell"]["quota_hit"] and "wrote all" not in r["quota_in_one_cell"]["text"]
    assert "stopped at" in r["fork_bomb"]["text"] or r["fork_bomb"]["restarted"]
    if mode == "root":
        assert 0 < out["uid_tasks_after_bomb"] <= 128 + 8
    flood = r["output_floods"]
    # the text budget, plus the end of the traceback of the interrupted cell
    assert (
        flood["chars"] <= 200_000 + 2000 and flood["images"] == 0 and flood["refused_images"] >= 1
    )


def test_the_app_does_not_follow_what_the_kernel_planted(attacked):
    mode, outside, out, home_before = attacked
    zf = zipfile.ZipFile(BytesIO(bytes.fromhex(out["zip"])))
    names = set(zf.namelist())
    blob = b"".join(zf.read(n) for n in names)
    for canary in _canaries(outside):
        assert canary.encode() not in blob
    for planted in ("settings_link.txt", "environ_link.txt", "pipe.csv", "own_hardlink.txt"):
        assert planted not in names and planted not in out["listing"]
    assert "own.txt" not in names  # hard-linked: two links, so not a plain file any more
    # nothing was written into the app home through the planted figures/ and upload links
    assert sorted(p.name for p in outside.home.iterdir()) == home_before
    assert (outside.home / "upload_target.csv").read_text() == "ORIGINAL"
    assert (outside.home / "settings.json").exists()
    assert out["plot_after_links"]["images"] == [None]
    assert out.get("upload_saved_as") == "upload_2.csv", out.get("upload_error")


def test_every_attack_class_is_covered():
    classes = {cls for cls, _ in ATTACKS.values()}
    assert classes == {
        "files", "guard", "network", "sockets", "signals", "processes", "resources", "leaks",
    }  # fmt: skip


def test_without_bubblewrap_no_code_runs_until_the_user_agrees(tmp_path, monkeypatch):
    from demo_core.agent.kernel import KernelLimits
    from demo_core.agent.registry import KernelRegistry

    monkeypatch.setenv(sandbox.NO_BWRAP_ENV, "1")
    assert not sandbox.availability().ok and "bubblewrap" in sandbox.availability().reason
    reg = KernelRegistry(tmp_path, KernelLimits(timeout_s=20))
    try:
        res = reg.kernel("s").execute("open('ran.txt', 'w').write('x')")
        assert not res.ok and "not run" in res.notice and "bubblewrap" in res.notice
        assert not (reg.work_dir("s") / "ran.txt").exists()
        reg.allow_unsandboxed("s")
        res = reg.kernel("s").execute("open('ran.txt', 'w').write('x'); print('ran')")
        assert res.ok, res.text()
        assert not reg.kernel("s").sandboxed
        assert (reg.work_dir("s") / "ran.txt").exists()
    finally:
        reg.shutdown_all()
