"""Chat replies as workspace jobs saved while they stream (``demo_core.chat_reply``)."""

from __future__ import annotations

import threading
import time

from demo_core.chat_reply import start_reply
from demo_core.conversation import Conversation, format_stats
from demo_core.engine.base import EngineInfo, Generation, GenerationParams
from demo_core.jobs import JOBS
from demo_core.store import Store


def _fake_generation(cancel, notice_s: float = 0.0, tokens: int = 10_000, reason="length"):
    """A generation writing one token every 10 ms that needs ``notice_s`` to notice a
    cancel, like a model in the middle of a forward pass."""
    gen = Generation(cancel)

    def produce() -> None:
        gen.started()
        for _ in range(tokens):
            if gen.cancelled:
                time.sleep(notice_s)
                gen.count_token()
                gen.emit("y")  # written after Stop, before the worker noticed
                gen.finish("cancelled")
                return
            gen.count_token()
            gen.emit("x")
            time.sleep(0.01)
        gen.finish(reason)

    threading.Thread(target=produce, daemon=True).start()
    return gen


class StubEngine:
    """Stands in for the engine to control timing; the real engine path is covered by
    the page tests."""

    info = EngineInfo("stub", "Stub", "transformers")

    def __init__(self, **kw) -> None:
        self.kw = kw
        self.prompts: list[str] = []

    def render_chat(self, messages) -> str:
        return "|".join(m["content"] for m in messages) + "|>"

    def stream_chat(self, messages, params, cancel=None):
        return _fake_generation(cancel, **self.kw)

    def stream_text(self, prompt, params, cancel=None, **_):
        self.prompts.append(prompt)
        return _fake_generation(cancel, **self.kw)


def _setup(tmp_path):
    store = Store(tmp_path / "w.db")
    cid = store.create_conversation("ws", "story", "sys")
    u = store.add_message(cid, "user", "hi", parent=None)
    return store, cid, u


def wait_until(cond, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_reply_is_saved_while_it_streams_and_stop_keeps_final_stats(tmp_path):
    store, cid, u = _setup(tmp_path)
    job = start_reply(
        store, "ws", cid, StubEngine(notice_s=0.3), [], GenerationParams(), parent=u, flush_s=0.05
    )
    mid = job.data["mid"]
    assert JOBS.get("ws", f"chat:{cid}") is job
    wait_until(lambda: len(store.branch(cid)[-1].content) > 5)  # saved before the end
    assert store.branch(cid)[-1].status == "streaming"
    job.stop()
    assert job.wait(10)
    (row,) = [m for m in store.branch(cid) if m.id == mid]
    assert row.status == "stopped" and row.content.endswith("y")
    assert row.stats["finish_reason"] == "cancelled" and row.stats["ended"] == "stopped"
    assert row.stats["total_s"] > 0 and row.stats["tokens_per_s"] > 0
    assert len(row.content) == row.stats["new_tokens"]
    assert "Stop pressed" in format_stats(row.stats)


def test_token_limit_then_continue_and_regenerate_keeps_alternatives(tmp_path):
    store, cid, u = _setup(tmp_path)
    engine = StubEngine(tokens=5)
    job = start_reply(store, "ws", cid, engine, [], GenerationParams(), parent=u)
    assert job.wait(10)
    first = store.branch(cid)[-1]
    assert first.content == "xxxxx" and first.stats["ended"] == "length"
    assert "token limit" in format_stats(first.stats)
    conv = Conversation.from_store(store, cid)
    job = start_reply(
        store,
        "ws",
        cid,
        engine,
        Conversation(conv.system_prompt, conv.turns[:1]).model_messages(),
        GenerationParams(),
        parent=u,
        continue_mid=first.id,
        continue_text=first.content,
    )
    assert job.wait(10)
    assert engine.prompts[-1] == "sys|hi|>xxxxx"  # the model goes on from its own text
    assert store.branch(cid)[-1].content == "x" * 10
    job = start_reply(
        store, "ws", cid, StubEngine(tokens=3, reason="stop"), [], GenerationParams(), parent=u
    )
    assert job.wait(10)
    last = store.branch(cid)[-1]
    assert last.content == "xxx" and last.siblings == [first.id, last.id]
    assert "stop token" in format_stats(last.stats)


def test_a_new_reply_in_the_same_conversation_replaces_the_running_one(tmp_path):
    store, cid, u = _setup(tmp_path)
    old = start_reply(store, "ws", cid, StubEngine(), [], GenerationParams(), parent=u)
    new = start_reply(store, "ws", cid, StubEngine(tokens=2), [], GenerationParams(), parent=u)
    assert old.done and new.wait(10)
    rows = {m.id: m for m in store.messages(cid)}
    assert rows[old.data["mid"]].status == "stopped"
    assert rows[old.data["mid"]].stats["ended"] == "replaced"
    assert rows[new.data["mid"]].status == "done"
