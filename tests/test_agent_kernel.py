"""The sandboxed kernel itself: limits, isolation, timeouts and recovery (real kernels)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from demo_core.agent.kernel import KernelLimits, SandboxKernel
from demo_core.agent.registry import KernelRegistry

pytestmark = pytest.mark.timeout(120)

LIMITS = KernelLimits(
    timeout_s=4,
    cell_cpu_s=60,
    memory_bytes=2 * 1024**3,
    output_chars=20_000,
    interrupt_grace_s=2,
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    base = tmp_path_factory.mktemp("agent-sessions")
    os.chmod(base, 0o711)
    reg = KernelRegistry(base, LIMITS)
    yield reg
    reg.shutdown_all()


@pytest.fixture(scope="module")
def kernel(registry) -> SandboxKernel:
    k = registry.kernel("sessionA")
    k.start()
    return k


def run(k: SandboxKernel, code: str, **kw):
    return k.execute(code, **kw)


def test_runs_code_in_its_own_folder(kernel):
    res = run(kernel, "import os\nprint(os.getcwd())\n6 * 7")
    assert res.ok, res.text()
    assert Path(res.outputs[0].text.strip()) == kernel.work_dir.resolve()
    assert res.outputs[1].kind == "text" and res.outputs[1].text == "42"


def test_plot_comes_back_as_png_and_is_saved(kernel):
    res = run(kernel, "plt.plot([1, 3, 2]); plt.title('t'); plt.show()")
    assert res.ok, res.text()
    (img,) = res.images
    assert img.png.startswith(b"\x89PNG")
    assert (kernel.work_dir / img.path).read_bytes() == img.png
    assert f"[image: {img.path}]" in res.text()


def test_dataframe_comes_back_as_table_data(kernel):
    res = run(kernel, "pd.DataFrame({'city': ['a', 'b'], 'n': [1, 2]})")
    (table,) = res.tables
    assert table.table["columns"] == ["index", "city", "n"]
    assert table.table["data"] == [[0, "a", 1], [1, "b", 2]]
    assert "city" in table.text  # the text form is what the model reads


def test_exception_is_reported_and_kernel_keeps_state(kernel):
    run(kernel, "keep = 123")
    res = run(kernel, "1 / 0")
    assert not res.ok and res.error_name == "ZeroDivisionError"
    assert "ZeroDivisionError" in res.text_for_model()
    assert run(kernel, "print(keep)").outputs[0].text.strip() == "123"


def test_infinite_loop_times_out_and_kernel_survives(kernel):
    run(kernel, "survivor = 'yes'")
    t0 = time.monotonic()
    res = run(kernel, "while True:\n    pass")
    assert time.monotonic() - t0 < LIMITS.timeout_s + 3
    assert res.timed_out and not res.ok and not res.restarted
    assert "longer than 4 s" in res.notice
    assert run(kernel, "print(survivor)").outputs[0].text.strip() == "yes"


def test_loop_that_ignores_interrupts_gets_the_kernel_restarted(kernel):
    code = "while True:\n    try:\n        sum(range(10**6))\n    except KeyboardInterrupt:\n        pass"
    run(kernel, "lost = 1")
    res = run(kernel, code)
    assert res.timed_out and res.restarted
    assert "restarted" in res.notice and "files" in res.notice
    after = run(kernel, "print('lost' in globals(), 1 + 1)")
    assert after.ok and after.outputs[0].text.strip() == "False 2"


def test_memory_bomb_hits_the_limit_with_a_clear_message(kernel):
    res = run(kernel, "blob = bytearray(8 * 1024**3)")
    assert not res.ok and res.error_name == "MemoryError"
    assert "ran out of memory" in res.notice and "2 GiB" in res.notice
    res = run(kernel, "import numpy as np\nparts = [np.ones(10**8) for _ in range(40)]")
    assert not res.ok
    assert run(kernel, "print('alive')").outputs[0].text.strip() == "alive"


def test_python_can_still_import_and_read_its_own_files(kernel):
    res = run(
        kernel, "import json, csv, statistics, email.mime.text\nprint(statistics.mean([1, 2]))"
    )
    assert res.ok, res.text()


def test_kernel_runs_in_bubblewrap_as_an_unprivileged_user(kernel):
    """The attacks themselves are in test_sandbox_escape.py; here: the kernel is in its
    own namespaces and not root."""
    res = run(kernel, "import os\nprint(os.getuid(), os.readlink('/proc/self/ns/net'))")
    assert res.ok, res.text()
    uid, net = res.outputs[0].text.split()
    assert kernel.sandboxed and int(uid) != 0
    assert net != os.readlink("/proc/self/ns/net")


def test_data_libraries_work_inside(kernel):
    code = (
        "import numpy, pandas, matplotlib, openpyxl, torch\n"
        "try:\n    import sklearn\nexcept ImportError:\n    pass\n"
        "print(int(torch.ones(3).sum()), matplotlib.get_backend())"
    )
    res = run(kernel, code, timeout_s=300)  # importing torch is slow on a busy machine
    assert res.ok, res.text()
    assert res.outputs[0].text.startswith("3 ")


def test_environment_is_scrubbed(kernel):
    """Nothing of the app's environment (tokens, proxies, paths) reaches user code; the
    only extra names are the ones ipykernel itself sets for its children."""
    res = run(kernel, "import os, json\nprint(json.dumps(sorted(os.environ)))")
    names = set(json.loads(res.outputs[0].text))
    extra = names - set(kernel._env())
    ipykernel_own = ("CLICOLOR", "FORCE_COLOR", "PAGER", "GIT_PAGER", "TERM", "COLUMNS", "LINES")
    ipykernel_own += ("PWD",)  # bwrap's --chdir
    ipykernel_own += ("JPY_", "PYDEVD_")
    assert all(n.startswith(ipykernel_own) for n in extra), extra
    assert "PATH" in names and "DEMO_STUDIO_HOME" not in names


def test_output_flood_is_cut_and_interrupted(kernel):
    res = run(kernel, "while True:\n    print('x' * 1000)")
    assert res.truncated and not res.timed_out
    assert sum(len(o.text) for o in res.outputs if o.kind == "stream") <= LIMITS.output_chars
    assert "Output was cut" in res.notice
    assert len(res.text_for_model(3000)) < 3200


def test_cancel_interrupts_running_code(kernel):
    t0 = time.monotonic()
    stop_at = t0 + 0.5
    res = run(kernel, "import time\ntime.sleep(30)", should_stop=lambda: time.monotonic() > stop_at)
    assert res.cancelled and "Stopped by the user" in res.notice
    assert time.monotonic() - t0 < 3


def test_two_sessions_are_isolated(registry, kernel):
    other = registry.kernel("sessionB")
    run(kernel, "secret = 'A'; open('a_only.txt', 'w').write('A')")
    res = run(other, "print('secret' in globals())")
    assert res.outputs[0].text.strip() == "False"
    assert other.work_dir != kernel.work_dir
    res = run(other, f"open({str(kernel.work_dir / 'a_only.txt')!r}).read()")
    assert res.error_name == "FileNotFoundError"  # not mounted in B's sandbox
    assert run(kernel, "print(secret)").outputs[0].text.strip() == "A"
    registry.release("sessionB")


def test_kernel_killed_from_outside_is_restarted_and_reported(kernel):
    run(kernel, "doomed = 1")
    os.kill(kernel.pid, signal.SIGKILL)
    time.sleep(0.3)
    res = run(kernel, "print('doomed' in globals())")
    assert res.restarted and "restarted" in res.notice and "killed" in res.notice
    assert res.outputs[0].text.strip() == "False"


def test_kernel_dying_during_a_cell_is_reported(kernel):
    res = run(kernel, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
    assert not res.ok and res.restarted
    assert "stopped while running" in res.notice
    assert run(kernel, "print(2)").ok


def test_per_cell_cpu_limit(tmp_path):
    os.chmod(tmp_path, 0o711)
    k = SandboxKernel(tmp_path / "w", tmp_path / "r", KernelLimits(timeout_s=300, cell_cpu_s=2))
    try:
        res = k.execute("x = 0\nwhile True:\n    x += 1")
        assert not res.ok and res.error_name == "TimeoutError", res.text()
        assert "CPU time" in res.notice
        assert k.execute("print(x > 0)").outputs[0].text.strip() == "True"
    finally:
        k.shutdown()


def test_idle_kernels_are_reaped_and_files_kept(tmp_path):
    os.chmod(tmp_path, 0o711)
    reg = KernelRegistry(tmp_path, LIMITS, idle_s=60, purge_after_s=3600)
    try:
        k = reg.kernel("idle")
        k.execute("open('kept.txt', 'w').write('x')")
        pid = k.pid
        assert reg.reap(now=time.time() + 30) == []
        assert reg.reap(now=time.time() + 120) == ["idle"]
        assert not k.started
        with pytest.raises(ProcessLookupError):
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.05)
        assert (reg.work_dir("idle") / "kept.txt").exists()
        assert "idle" in reg.notices["idle"]
        fresh = reg.kernel("idle")
        assert fresh is not k
        assert fresh.execute("print(open('kept.txt').read())").outputs[0].text.strip() == "x"
        assert reg.reap(now=time.time() + 10 * 3600) == ["idle"]
        assert not reg.session_dir("idle").exists()  # abandoned folders are purged
    finally:
        reg.shutdown_all()


def test_session_folder_quota_stops_code_until_files_are_deleted(tmp_path):
    os.chmod(tmp_path, 0o711)
    limits = KernelLimits(timeout_s=30, folder_bytes=3 * 1024**2, file_size_bytes=2 * 1024**2)
    k = SandboxKernel(tmp_path / "w", tmp_path / "r", limits)
    try:
        write = "for i in range({n}):\n    open(f'blob{{i}}.bin', 'wb').write(b'x' * 1024**2)"
        res = k.execute(write.format(n=4))
        assert res.ok, res.text()  # the cell that crosses the line still finishes
        assert "more than its 3 MiB limit" in res.notice and "Delete files" in res.notice
        refused = k.execute("open('marker.txt', 'w').write('ran')")
        assert not refused.ok and "was not run" in refused.notice
        assert not (k.work_dir / "marker.txt").exists()
        for i in range(3):
            (k.work_dir / f"blob{i}.bin").unlink()
        again = k.execute("open('marker.txt', 'w').write('ran'); print('ok')")
        assert again.ok and not again.notice, again.notice
        assert (k.work_dir / "marker.txt").read_text() == "ran"
    finally:
        k.shutdown()


def test_excel_files_can_be_read_in_the_sandbox(kernel):
    import pandas as pd

    frame = pd.DataFrame({"city": ["Beijing", "Shanghai"], "sales": [120, 150]})
    frame.to_excel(kernel.work_dir / "sales.xlsx", index=False)
    res = run(kernel, "df = pd.read_excel('sales.xlsx')\nprint(int(df['sales'].sum()))")
    assert res.ok, res.text()
    assert res.outputs[0].text.strip() == "270"


def test_file_size_limit_is_explained(tmp_path):
    os.chmod(tmp_path, 0o711)
    k = SandboxKernel(tmp_path / "w", tmp_path / "r", KernelLimits(file_size_bytes=1024**2))
    try:
        res = k.execute("open('big.bin', 'wb').write(b'x' * 3 * 1024**2)")
        assert not res.ok and res.error_name == "OSError", res.text()
        assert "1 MiB limit for one file" in res.notice
    finally:
        k.shutdown()


def test_kernel_is_counted_in_its_cgroups_where_the_host_offers_them(kernel):
    """As root on this machine (cgroup v1 memory + pids; v2 where enabled), the kernel and
    every child are in the session's cgroups with the memory and pids limits."""
    if not kernel._cgroups:
        pytest.skip("no cgroup is offered to this process here; rlimits apply alone")
    pid = kernel.kernel_pid()
    for d in kernel._cgroups:
        assert str(pid) in Path(d, "cgroup.procs").read_text().split()
    limits = {f.name: f.read_text().strip() for d in kernel._cgroups for f in Path(d).iterdir()
              if f.name in ("memory.max", "memory.limit_in_bytes", "pids.max")}  # fmt: skip
    assert str(LIMITS.memory_bytes) in limits.values()
    assert str(LIMITS.processes) in limits.values()
