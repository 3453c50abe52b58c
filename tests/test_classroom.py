"""demo_core.classroom through the real engine path: a stuck request is seen and cancelled,
tokens/s is measured, and the server-wide reset stops everything and bumps the epoch."""

from __future__ import annotations

import time

from demo_core import classroom
from demo_core.engine.base import GenerationParams
from demo_core.engine.manager import ModelManager


def wait_until(pred, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_model_lines_show_queue_speed_and_cancel(studio_home, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("DEMO_STUDIO_MODEL_INTERNLM2_CHAT_1_8B", str(tiny_model_dir))
    manager = ModelManager()
    engine = manager.get("internlm2-chat-1_8b")
    done = engine.stream_text("Hello", GenerationParams(max_new_tokens=8, do_sample=False))
    done.result()
    # hold the model's line, as a stuck request would, and queue two behind it
    holder = engine.queue.acquire()
    try:
        gens = [
            engine.stream_text("Hi", GenerationParams(max_new_tokens=8, do_sample=False))
            for _ in range(2)
        ]
        wait_until(lambda: all(g.queue_position > 0 for g in gens))
        (line,) = [m for m in classroom.model_lines(manager) if m.key == "internlm2-chat-1_8b"]
        assert line.waiting == 2 and line.running == 0
        assert line.memory_bytes > 0 and line.tokens_per_s and line.tokens_per_s > 0
        assert classroom.ACTIVITY.cancel("internlm2-chat-1_8b") == 2
        wait_until(lambda: all(g.done for g in gens))
        assert all(g.stats.finish_reason == "cancelled" for g in gens)
    finally:
        engine.queue.release(holder)


class _Kernel:
    started = True

    def __init__(self) -> None:
        self.stopped = False


class _Registry:
    def __init__(self) -> None:
        self.kernels = {"a": _Kernel(), "b": _Kernel()}

    def sessions(self):
        return list(self.kernels.items())

    def release(self, sid, delete_files=False):
        self.kernels.pop(sid).stopped = True


class _Downloads:
    def __init__(self) -> None:
        self.cancelled = 0

    def running(self):
        downloads = self

        class Job:
            def cancel(self):
                downloads.cancelled += 1

        return [Job()]


def test_reset_everything_stops_all_and_runs_the_workspace_resetters():
    seen = []
    fn = classroom.register_workspace_resetter(lambda ws: seen.append(ws))
    try:
        before = classroom.reset_epoch()
        registry, downloads = _Registry(), _Downloads()
        out = classroom.reset_everything(registry, downloads)
        assert out.kernels_stopped == 2 and not registry.kernels
        assert out.downloads_cancelled == 1 and downloads.cancelled == 1
        assert seen == [None]  # None: every workspace
        assert classroom.reset_epoch() == before + 1
        assert classroom.reset_workspace_data("ws-1") == [] and seen[-1] == "ws-1"
    finally:
        classroom.WORKSPACE_RESETTERS.remove(fn)


def test_resetting_a_workspace_deletes_what_the_store_holds_for_it_only(studio_home):
    """The Class page's resets go through the registered resetters; the workspace store's
    resetter (registered by demo_ui.classroom) deletes that workspace's chats and prefs and
    leaves another workspace's alone."""
    import demo_ui.classroom  # noqa: F401  (registers the store's resetter)
    from demo_core.store import get_store

    store = get_store()
    mine = store.create_conversation("ws-mine", "story", title="mine")
    store.add_message(mine, "user", "你好", parent=None)
    theirs = store.create_conversation("ws-theirs", "story", title="theirs")
    store.set_pref("ws-mine", "language", "zh_CN")

    assert classroom.reset_workspace_data("ws-mine") == []
    assert store.conversation(mine) is None
    assert store.get_pref("ws-mine", "language") is None
    assert store.conversation(theirs) is not None

    assert classroom.reset_workspace_data(None) == []
    assert store.conversation(theirs) is None


def test_teacher_code_is_made_once_kept_private_and_the_environment_wins(studio_home, monkeypatch):
    from demo_core import settings

    monkeypatch.delenv(settings.TEACHER_CODE_ENV, raising=False)
    said = []
    code = classroom.teacher_code(said.append)
    assert said == [code] and len(code) == 9  # "abcd-efgh": said once, when it was made
    path = settings.teacher_code_file()
    assert path.parent == studio_home and path.read_text().strip() == code
    assert path.stat().st_mode & 0o077 == 0  # only the server's user can read it
    assert classroom.teacher_code(said.append) == code and said == [code]  # kept
    assert classroom.is_teacher_code(f"  {code.upper()} ")  # as typed from the console
    assert not classroom.is_teacher_code("") and not classroom.is_teacher_code("abcd-efgh")
    assert classroom.is_teacher_token(classroom.teacher_token(code))
    assert not classroom.is_teacher_token(None)
    assert code in classroom.code_notice()
    monkeypatch.setenv(settings.TEACHER_CODE_ENV, "owl 42")
    assert classroom.teacher_code() == "owl 42" and classroom.is_teacher_code("owl 42")
    assert not classroom.is_teacher_code(code)  # the old browser token no longer unlocks
    assert "owl 42" not in classroom.code_notice()


def _class_page():
    from tests.conftest import open_page

    at = open_page("6_Class.py")
    assert not at.exception, at.exception
    return at


def _keys(at) -> set:
    return {b.key for b in at.button} | {b.key for b in at.get("form_submit_button")}


def test_class_page_asks_for_the_code_before_the_levers_appear(studio_home, monkeypatch):
    monkeypatch.setenv("DEMO_STUDIO_TEACHER_CODE", "kite-7734")
    at = _class_page()
    assert at.metric[0].label == "Connected browser sessions"  # the figures: for everyone
    assert "class_reset_all" not in _keys(at) and "class_reset_me" in _keys(at)
    at.text_input(key="class_code").set_value("kite-0000")
    at.get("form_submit_button")[0].click()
    at.run()
    assert "class_reset_all" not in _keys(at)
    assert any(e.value == "That is not the teacher code." for e in at.error)
    at.text_input(key="class_code").set_value("kite-7734")
    at.get("form_submit_button")[0].click()
    at.run()
    assert "class_reset_all" in _keys(at) and "class_lock" in _keys(at)
    at.run()  # remembered by the workspace: still unlocked on the next run
    assert "class_reset_all" in _keys(at)
    at.button(key="class_lock").click()
    at.run()
    assert "class_reset_all" not in _keys(at)


def test_start_sh_prints_the_teacher_code_before_the_server_starts(tmp_path):
    """./start.sh runs ``python -m demo_core.classroom`` before ``streamlit run``: it makes
    the code on the first start and prints the same one on every start."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert "-m demo_core.classroom" in (root / "start.sh").read_text()
    env = {**os.environ, "DEMO_STUDIO_HOME": str(tmp_path)}
    env.pop("DEMO_STUDIO_TEACHER_CODE", None)
    said = [
        subprocess.run(
            [sys.executable, "-m", "demo_core.classroom"],
            cwd=root, env=env, capture_output=True, text=True, check=True,
        ).stderr
        for _ in range(2)
    ]
    code = (tmp_path / "teacher-code.txt").read_text().strip()
    assert said[0] == said[1] and f"Teacher code for the Class page: {code}" in said[0]
