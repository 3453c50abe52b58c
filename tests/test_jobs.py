"""Background jobs: a session's model work outlives script reruns and ends only by
finishing, Stop, a replacement, or the session being gone."""

from __future__ import annotations

import threading
import time

from demo_core.engine.base import CancelToken, EngineError, Generation
from demo_core.jobs import ABANDONED, REPLACED, STOPPED, Job


def endless(cancel: CancelToken, piece: str = "word ") -> Generation:
    """A generation that streams until it is cancelled, like a model that never stops."""
    gen = Generation(cancel)

    def produce() -> None:
        gen.started()
        while not cancel.cancelled:
            gen.emit(piece)
            time.sleep(0.01)
        gen.finish("cancelled")

    threading.Thread(target=produce, daemon=True).start()
    return gen


def wait_until(cond, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def streaming_job(**kw) -> Job:
    def work(job: Job) -> str:
        gen = job.stream(endless(job.cancel_token), "Writing")
        job.note("warning", f"{job.why}: kept {len(gen.text)} characters")
        return gen.text

    return Job("write", "Writing", work, **kw)


def test_stop_keeps_the_partial_text_and_says_so():
    job = streaming_job().start()
    wait_until(lambda: job.current is not None and len(job.current.text) > 20)
    assert not job.done
    job.stop()
    assert job.wait(5)
    assert job.end_reason == STOPPED and job.cancelled and job.error is None
    assert job.result == job.steps[0].text and job.result.startswith("word word")
    assert job.notes == [("warning", f"Stopped: kept {len(job.result)} characters")]


def test_first_reason_wins_and_replacement_is_named():
    job = streaming_job().start()
    job.stop(REPLACED)
    job.stop(STOPPED)
    assert job.wait(5)
    assert job.end_reason == REPLACED and job.why == "Interrupted by a new request"


def test_a_session_that_shows_no_sign_of_life_loses_its_job():
    """The tab was closed: nobody polls, the probe says disconnected -> cancelled soon,
    instead of keeping the model busy for everyone until max_new_tokens."""
    job = streaming_job(alive=lambda: False, grace_s=0.4).start()
    assert job.wait(5)
    assert job.end_reason == ABANDONED
    assert job.why == "Interrupted because the page was closed"
    assert job.result  # what was written is still there


def test_beats_or_a_connected_session_keep_a_job_alive():
    beaten = streaming_job(grace_s=0.4).start()
    connected = streaming_job(alive=lambda: True, grace_s=0.4).start()
    deadline = time.monotonic() + 1.5  # well past the grace period
    while time.monotonic() < deadline:
        beaten.beat()  # the page polls
        time.sleep(0.1)
    assert not beaten.done and not connected.done
    beaten.stop()
    connected.stop()
    assert beaten.wait(5) and connected.wait(5)
    assert beaten.end_reason == connected.end_reason == STOPPED


def test_errors_become_messages_not_dead_threads():
    def engine_error(job: Job) -> None:
        raise EngineError("the model could not be loaded")

    def bug(job: Job) -> None:
        raise KeyError("oops")

    a = Job("x", "Thinking", engine_error).start()
    b = Job("y", "Thinking", bug).start()
    assert a.wait(5) and b.wait(5)
    assert a.error == "the model could not be loaded"
    assert "Thinking failed unexpectedly" in (b.error or "")


def test_queue_position_is_reported_while_waiting():
    gen = Generation()
    job = Job("x", "Waiting", lambda j: j.stream(gen, "step").text).start()
    gen.set_queue_position(2)
    wait_until(lambda: job.position == 2)
    gen.started()
    gen.emit("hi")
    gen.finish("stop")
    assert job.wait(5) and job.result == "hi" and job.position == 0
