"""The workspace store: conversations as trees, prefs, workspaces, and every fault the
issue lists (corrupt file, newer schema, locked database, full disk, crash mid-write,
two writers on one conversation)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from demo_core.store import SCHEMA_VERSION, Store, StoreError
from demo_core.store.db import title_from


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "workspace.db")


def test_file_is_wal_and_versioned(store):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_conversation_branches_alternatives_and_titles(store):
    cid = store.create_conversation("ws", "story", "sys")
    u1 = store.add_message(cid, "user", "Write a story\nabout a robot", parent=None)
    a1 = store.add_message(cid, "assistant", "first", parent=u1)
    a2 = store.add_message(cid, "assistant", "second", parent=u1)  # regenerate
    path = store.branch(cid)
    assert [m.id for m in path] == [u1, a2]
    assert path[1].siblings == [a1, a2] and path[1].alt_index == 1
    store.set_leaf(cid, store.leaf_under(cid, a1))
    assert [m.content for m in store.branch(cid)] == ["Write a story\nabout a robot", "first"]
    # editing the user message is a sibling of it; the old branch stays
    u2 = store.add_message(cid, "user", "edited", parent=None)
    assert [m.content for m in store.branch(cid)] == ["edited"]
    assert store.branch(cid)[0].siblings == [u1, u2]
    assert store.conversation(cid)["title"] == "Write a story"
    assert len(title_from("x" * 200)) <= 48


def test_list_search_rename_delete_undo(store):
    a = store.create_conversation("ws", "story")
    store.add_message(a, "user", "apples", parent=None)
    b = store.create_conversation("ws", "story")
    store.add_message(b, "user", "bananas", parent=None)
    store.create_conversation("other", "story")
    store.create_conversation("ws", "roleplay_bajie")
    assert [c["id"] for c in store.conversations("ws", "story")] == [b, a]  # newest first
    assert [c["id"] for c in store.conversations("ws", "story", "APPLE")] == [a]
    assert [c["id"] for c in store.conversations("ws", "story", "100%")] == []
    store.rename(a, "Fruit")
    assert store.conversation(a)["title"] == "Fruit"
    store.delete_conversation(a)
    assert [c["id"] for c in store.conversations("ws", "story")] == [b]
    store.restore_conversation(a)
    assert len(store.conversations("ws", "story")) == 2
    store.delete_conversation(a)
    store.purge_deleted()
    assert store.conversation(a) is None and store.messages(a) == []


def test_prefs_workspaces_and_resets(store):
    store.touch_workspace("w1")
    store.touch_workspace("w2")
    store.set_pref("w1", "language", "zh_CN")
    store.set_pref("w1", "panels", {"sampling": True})
    assert store.get_pref("w1", "language") == "zh_CN"
    assert store.get_pref("w2", "language", "en") == "en"
    assert store.prefs("w1") == {"language": "zh_CN", "panels": {"sampling": True}}
    cid = store.create_conversation("w1", "story")
    store.add_message(cid, "user", "hi", parent=None)
    assert {w["id"] for w in store.list_workspaces()} == {"w1", "w2"}
    store.files_dir("w1").mkdir(parents=True)
    (store.files_dir("w1") / "picture").write_bytes(b"png")
    store.reset_workspace("w1")
    assert store.prefs("w1") == {} and store.conversations("w1", "story") == []
    assert not store.files_dir("w1").exists()
    store.put_doc("w2", "article", "d1", "t", {"a": 1})
    store.reset_all()
    assert store.list_workspaces() == [] and store.doc("d1") is None


def test_docs(store):
    store.put_doc("ws", "article", "d1", "One", {"paragraphs": ["a"]})
    store.put_doc("ws", "article", "d1", "One", {"paragraphs": ["a", "b"]})
    assert store.doc("d1")["body"] == {"paragraphs": ["a", "b"]}
    assert [d["id"] for d in store.docs("ws", "article")] == ["d1"]
    store.delete_doc("d1")
    assert store.docs("ws", "article") == []
    store.restore_doc("d1")
    assert store.doc("d1") is not None


# -- faults ------------------------------------------------------------------------------


def test_corrupt_file_is_moved_aside_and_a_fresh_one_started(tmp_path):
    path = tmp_path / "workspace.db"
    path.write_bytes(b"this is not a database at all" * 100)
    store = Store(path)
    assert len(store.notices) == 1 and "damaged" in store.notices[0]
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
    cid = store.create_conversation("ws", "story")  # and it works
    assert store.conversation(cid) is not None


def test_damaged_pages_are_found_by_quick_check(tmp_path):
    path = tmp_path / "workspace.db"
    store = Store(path)
    cid = store.create_conversation("ws", "story")
    for i in range(300):
        store.add_message(cid, "user", f"message {i} " * 50, parent=None)
    store.close()
    data = bytearray(path.read_bytes())
    for off in range(4096 * 2, len(data), 4096):  # scribble over every page but the header
        data[off + 100 : off + 400] = b"\xff" * 300
    path.write_bytes(bytes(data))
    fresh = Store(path)
    assert fresh.notices and "damaged" in fresh.notices[0]
    assert fresh.conversations("ws", "story") == []


def test_newer_schema_is_kept_aside_not_touched(tmp_path):
    path = tmp_path / "workspace.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    store = Store(path)
    assert "newer version" in store.notices[0]
    aside = next(p for p in tmp_path.iterdir() if ".newer-" in p.name)
    kept = sqlite3.connect(aside)
    assert kept.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 5
    assert store.create_conversation("ws", "story")


def test_older_schema_is_migrated(tmp_path, monkeypatch):
    from demo_core.store import db

    path = tmp_path / "workspace.db"
    Store(path).close()  # version 1
    monkeypatch.setitem(db.MIGRATIONS, 2, ["ALTER TABLE messages ADD COLUMN extra TEXT"])
    monkeypatch.setattr(db, "SCHEMA_VERSION", 2)
    store = Store(path)
    assert store.notices == []
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert "extra" in [r[1] for r in conn.execute("PRAGMA table_info(messages)")]


def test_locked_database_says_so_and_recovers(tmp_path):
    store = Store(tmp_path / "workspace.db")
    cid = store.create_conversation("ws", "story")
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    store._conn.execute("PRAGMA busy_timeout = 50")
    with pytest.raises(StoreError, match="busy"):
        store.add_message(cid, "user", "hello", parent=None)
    assert store.notices and "busy" in store.notices[-1]
    assert store.conversations("ws", "story")  # reads still work (WAL)
    other.execute("ROLLBACK")
    store.add_message(cid, "user", "hello", parent=None)
    assert [m.content for m in store.branch(cid)] == ["hello"]


def test_full_disk_is_one_line_and_nothing_half_written(tmp_path):
    store = Store(tmp_path / "workspace.db")
    cid = store.create_conversation("ws", "story")
    store.add_message(cid, "user", "kept", parent=None)
    page_count = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {page_count}")  # the disk is full
    with pytest.raises(StoreError, match="disk is full"):
        store.add_message(cid, "assistant", "x" * 100_000, parent=None)
    store._conn.execute("PRAGMA max_page_count = 1073741823")
    assert [m.content for m in store.messages(cid)] == ["kept"]


def test_two_writers_on_one_conversation_both_kept(tmp_path):
    """Two tabs (threads here, and a second process below) append to one conversation
    at once: every message lands, as branches of the same parent, none overwritten."""
    store = Store(tmp_path / "workspace.db")
    cid = store.create_conversation("ws", "story")
    root = store.add_message(cid, "user", "root", parent=None)

    def tab(name: str) -> None:
        for i in range(50):
            store.add_message(cid, "assistant", f"{name}-{i}", parent=root)

    threads = [threading.Thread(target=tab, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    code = textwrap.dedent(
        f"""
        from demo_core.store import Store
        s = Store({str(store.path)!r})
        for i in range(50):
            s.add_message({cid!r}, "assistant", f"p-{{i}}", parent={root!r})
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.getcwd())
    for t in threads:
        t.join()
    rows = store.messages(cid)
    assert len(rows) == 151
    assert len(store.branch(cid)[-1].siblings) == 150


def test_crash_mid_stream_leaves_the_partial_reply_marked_cut_off(tmp_path):
    """A process writing a reply is SIGKILLed: the next store sees every finished
    message and the reply's last flushed text, marked ``cutoff``; nothing half-written."""
    path = tmp_path / "workspace.db"
    code = textwrap.dedent(
        f"""
        import sys, time
        from demo_core.store import Store
        s = Store({str(path)!r})
        cid = s.create_conversation("ws", "story")
        u = s.add_message(cid, "user", "tell me", parent=None)
        a = s.add_message(cid, "assistant", "", parent=u, status="streaming")
        text = ""
        while True:
            text += "word "
            s.update_message(a, content=text)
            if len(text) > 200:
                print("ready", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store(path)
    (conv,) = store.conversations("ws", "story")
    user, reply = store.branch(conv["id"])
    assert (user.content, user.status) == ("tell me", "done")
    assert reply.status == "cutoff" and reply.content.startswith("word word")
    assert reply.content.replace("word ", "") == ""  # whole flushes only


def test_memory_store_is_a_real_config_path_that_writes_no_file(studio_home, monkeypatch):
    """$DEMO_STUDIO_STORE=memory (what benchmarks/ui_streaming.py --store both compares
    against): the same store API, no workspace.db, and the user is told in one line."""
    from demo_core.store import get_store
    from demo_core.store.db import store_path

    monkeypatch.setenv("DEMO_STUDIO_STORE", "memory")
    store = get_store()
    assert store.memory and any("Nothing is saved" in n for n in store.notices)
    cid = store.create_conversation("ws1", "story")
    mid = store.add_message(cid, "user", "hello", parent=None)
    store.update_message(mid, content="hello again")
    assert [m.content for m in store.branch(cid)] == ["hello again"]
    assert not store_path().exists() and store.size_bytes() == 0
    monkeypatch.delenv("DEMO_STUDIO_STORE")
    disk = get_store()  # the default again: on disk
    assert not disk.memory and store_path().exists()
    assert disk.conversations("ws1", "story") == []
