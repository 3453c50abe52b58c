"""Issue 14's small ones, each as a student or a terminal user met it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, run_module


def test_repetition_penalty_slider_shows_three_decimals(studio_home):
    """1.005 (the original demos' default) was drawn as "1.00"."""
    from demo_core.engine.base import SAMPLING_LIMITS
    from demo_ui.widgets import step_format

    assert step_format(SAMPLING_LIMITS["repetition_penalty"].step) == "%.3f"
    assert step_format(SAMPLING_LIMITS["temperature"].step) == "%.2f"
    at = AppTest.from_string(
        "from demo_ui.widgets import sampling_controls\nsampling_controls('t')", default_timeout=30
    ).run()
    (rep,) = [s for s in at.slider if s.label == "Repetition penalty"]
    assert rep.value == 1.005 and rep.proto.format == "%.3f"


def test_one_token_is_singular():
    from demo_core.conversation import format_stats

    assert format_stats({"new_tokens": 1}) == "1 token"
    assert format_stats({"new_tokens": 2}) == "2 tokens"


def test_cli_missing_model_gives_the_download_command(studio_home):
    proc = run_module("demo_core.cli", "--model", "internlm2-chat-7b")
    assert proc.returncode == 2
    assert "Models page" not in proc.stderr
    assert ".venv/bin/python -m demo_core.download internlm2-chat-7b" in proc.stderr


def test_download_of_a_present_model_mentions_force(
    studio_home, tiny_model_dir, monkeypatch, capsys
):
    from demo_core.download.cli import main

    monkeypatch.setenv("DEMO_STUDIO_MODEL_INTERNLM2_CHAT_1_8B", str(tiny_model_dir))
    # a closed port: a present model must be found before any request is made
    assert main(["internlm2-chat-1_8b", "--endpoint", "http://127.0.0.1:9"]) == 0
    err = capsys.readouterr().err
    assert "Already on this machine" in err and "--force" in err


def test_qa_tip_promises_nothing_about_speed():
    text = (ROOT / "demo_ui" / "xcomposer_qa.py").read_text(encoding="utf-8")
    assert "instantly" not in text


def test_upload_limit_is_checked_and_said_in_the_browsers_unit():
    """Streamlit's uploader counts MB of 1000**2 bytes; a 48 MiB file is 50.3 MB there,
    so it must be refused here too, with the same number."""
    from demo_core.agent.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB, UploadError, check_upload

    assert MAX_UPLOAD_BYTES == MAX_UPLOAD_MB * 1000**2
    big = b"a,b\n" + b"1,2\n" * ((48 * 1024**2) // 4)
    try:
        check_upload("big.csv", big)
    except UploadError as exc:
        assert "50.3 MB" in str(exc) and "50.0 MB" in str(exc) and "MiB" not in str(exc)
    else:
        raise AssertionError("a 48 MiB file passed a 50 MB limit")
    page = (ROOT / "demo_ui" / "agent_files.py").read_text(encoding="utf-8")  # the uploader
    assert "max_upload_size=MAX_UPLOAD_MB" in page
