"""Background jobs (shared registry, cancel, resume) and the command line, against the
stand-in hub."""

from __future__ import annotations

import json
import time

import pytest

from demo_core.download import cli
from demo_core.download.api import Request
from demo_core.download.jobs import CANCELLED, DONE, FAILED, JobRegistry
from tests.hubserver import HubStandIn, Repo

REPO = "internlm/internlm2-chat-1_8b"
KEY = "internlm2-chat-1_8b"
WEIGHTS = "model.safetensors"


@pytest.fixture
def hub(tiny_model_dir):
    with HubStandIn({REPO: Repo.from_folder(tiny_model_dir)}) as srv:
        yield srv


def wait_for(pred, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_same_request_joins_the_running_job_then_cancel_and_resume(hub, studio_home):
    hub.faults.throttle_s = 0.05  # ~320 KB/s: the weights take about two seconds
    reg = JobRegistry()
    req = Request(KEY, endpoint=hub.url)
    job = reg.start(req)
    assert reg.start(Request(KEY, endpoint=hub.url)) is job  # second tab / rerun
    wait_for(lambda: job.view().progress.done > 50_000 and job.view().plan is not None)
    view = job.view()
    assert view.active and view.progress.total and 0 < view.progress.fraction < 1
    job.cancel()
    assert job.wait(5)
    view = job.view()
    assert view.state == CANCELLED and "resume" in view.message
    dest = studio_home.parent / "models" / "internlm2-chat-1_8b"
    kept = sum(p.stat().st_size for p in dest.glob("*.incomplete"))
    assert kept > 0

    hub.faults.throttle_s = 0.0
    again = reg.start(req)
    assert again is not job
    assert again.wait(10)
    assert again.view().state == DONE, again.view().message
    ranges = [r["headers"].get("range") for r in hub.requests("GET") if r["headers"].get("range")]
    assert ranges, "the second run must resume with a Range request"
    assert (dest / WEIGHTS).is_file() and not list(dest.glob("*.incomplete"))


def test_failed_job_reports_message(studio_home):
    reg = JobRegistry()
    job = reg.start(Request(KEY, endpoint="http://127.0.0.1:9", timeout=1))
    assert job.wait(10)
    assert job.view().state == FAILED and "Cannot reach" in job.view().message
    reg.clear_finished()
    assert reg.jobs() == []


def test_invalid_request_raises_before_a_thread_starts(studio_home):
    from demo_core.download.errors import DownloadError

    reg = JobRegistry()
    with pytest.raises(DownloadError, match="repository id"):
        reg.start(Request("not a repo", endpoint="http://127.0.0.1:9"))
    with pytest.raises(DownloadError, match="only on|not published on Hugging Face"):
        reg.start(Request("bajie-chat-mini", source="hf"))
    assert reg.jobs() == []


def test_cli_single_file_prints_pretty_json(hub, studio_home, capsys):
    rc = cli.main([KEY, "--file", "config.json", "--endpoint", hub.url])
    out, err = capsys.readouterr()
    assert rc == 0, err
    path_line, _, body = out.partition("\n")
    assert path_line.endswith("internlm2-chat-1_8b/config.json")
    assert json.loads(body)["model_type"] == "internlm2"
    assert '\n  "model_type"' in body  # indented, not one line
    assert "MB/s" in err or "B/s" in err  # the progress bar was drawn


def test_cli_whole_model_to_dest(hub, tmp_path, studio_home, capsys):
    rc = cli.main([REPO, "--endpoint", hub.url, "--dest", str(tmp_path / "m")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.strip() == str(tmp_path / "m")
    assert (tmp_path / "m" / WEIGHTS).is_file()
    assert "100.0%" in err


def test_cli_errors_are_one_line_and_nonzero(studio_home, capsys):
    assert cli.main(["not a repo"]) == 2
    assert "repository id" in capsys.readouterr().err
    rc = cli.main([KEY, "--endpoint", "http://127.0.0.1:9", "--timeout", "1"])
    err = capsys.readouterr().err
    assert rc == 1 and "error: Cannot reach" in err and "Traceback" not in err


def test_cli_uses_hf_endpoint_environment(hub, studio_home, capsys, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    assert cli.main([KEY, "--file", "generation_config.json"]) == 0
    assert hub.requests("GET", "generation_config.json")


def test_python_dash_m_entry_point(hub, studio_home):
    from tests.conftest import run_module

    proc = run_module("demo_core.download", KEY, "--file", "config.json", "--endpoint", hub.url)
    assert proc.returncode == 0, proc.stderr
    assert '"model_type": "internlm2"' in proc.stdout


def _cli(*args: str, env_extra: dict[str, str]):
    """``python -m demo_core.download ARGS`` as a user runs it, in its own process."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.getcwd(), **env_extra}
    return subprocess.Popen(
        [sys.executable, "-m", "demo_core.download", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_cli_ctrl_c_cancels_keeps_partial_files_and_exits_130(hub, tmp_path, studio_home):
    import os
    import signal

    hub.faults.throttle_s = 0.05  # slow enough to press Ctrl-C mid-file
    dest = tmp_path / "X"
    env = {"DEMO_STUDIO_HOME": os.environ["DEMO_STUDIO_HOME"]}
    proc = _cli(KEY, "--endpoint", hub.url, "--dest", str(dest), env_extra=env)
    try:
        wait_for(
            lambda: any(p.stat().st_size > 30_000 for p in dest.glob("*.incomplete")),
            timeout=30,
        )
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Cancelled" in err and "run the same command to resume" in err, err
    assert "error:" not in err and "Downloading" not in err and "Traceback" not in err
    assert list(dest.glob("*.incomplete")), "the partial file must be kept"

    hub.faults.throttle_s = 0.0
    again = _cli(KEY, "--endpoint", hub.url, "--dest", str(dest), env_extra=env)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert (dest / WEIGHTS).is_file() and not list(dest.glob("*.incomplete"))
    assert any(r["headers"].get("range") for r in hub.requests("GET")), "it must resume"


def test_cli_draws_no_empty_bar_before_an_error(hub, studio_home, capsys):
    hub.faults.hang = True  # the listing times out: the loop runs but no plan ever exists
    rc = cli.main([KEY, "--endpoint", hub.url, "--timeout", "0.5"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.splitlines() == [err.strip()] and err.startswith("error: "), err
    assert "0 B/s" not in err and "[...." not in err


def test_cli_file_name_with_spaces_is_stripped(hub, studio_home, capsys):
    rc = cli.main([KEY, "--file", " config.json ", "--endpoint", hub.url])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.splitlines()[0].endswith("internlm2-chat-1_8b/config.json")
    assert [g["path"].rsplit("/", 1)[-1] for g in hub.requests("GET", "/resolve/")] == [
        "config.json"
    ]
    assert cli.main([KEY, "--file", " ", "--endpoint", hub.url]) == 2
    assert "file name is empty" in capsys.readouterr().err


def test_cli_dest_that_is_a_file_is_one_clear_line(hub, studio_home, tmp_path, capsys):
    afile = tmp_path / "passwd"
    afile.write_text("x")
    rc = cli.main([KEY, "--file", "config.json", "--endpoint", hub.url, "--dest", str(afile)])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"error: {afile} is a file, not a folder" in err and "Unexpected" not in err
