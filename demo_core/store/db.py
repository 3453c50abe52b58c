"""One SQLite file per app home holding every workspace: preferences, chats, documents.

Why SQLite (the standard library's ``sqlite3``) and not JSON files: a reply is written
while it streams, once a second, from a background thread, while other tabs read; JSON
files would need our own locking, atomic renames and a repair story for every kind of
thing. SQLite gives atomic transactions (a crash mid-write leaves the last committed
state, never half a row), WAL (readers never wait for the writer), and a checker for
corruption.

Rules this module keeps:

* **One writer path.** Every write goes through :meth:`Store._tx` on the one connection
  of the process, under one lock, in a ``BEGIN IMMEDIATE`` transaction. Other processes
  (a second server on the same home) wait up to ``busy_timeout``.
* **Schema version + migrations.** ``PRAGMA user_version`` holds the schema version;
  :data:`MIGRATIONS` takes a file from any older version to :data:`SCHEMA_VERSION`.
* **Faults never stop the app.** A file that is not a database or fails ``quick_check``
  is moved aside (``workspace.db.corrupt-<time>``) and a fresh one started; a file from a
  newer version of the app is moved aside the same way (``.newer-<time>``) so neither
  version destroys the other's data. A locked database or a full disk makes the write
  raise :class:`StoreError` with one sentence for the user; the caller keeps what it was
  writing (the chat keeps the message on screen, a streaming reply retries next second).
  Each such event is also added to :attr:`Store.notices` for the page to show once.
* **No half-written message.** A reply row is created with status ``streaming`` and the
  writing process's pid; when a store is opened by a process that finds ``streaming``
  rows whose writer is gone (the server was killed), they become ``cutoff``: shown with
  the text saved up to the last flush and marked as cut off.

Conversations are trees: each message has a ``parent``; editing a user message or
regenerating a reply adds a sibling, and the conversation's ``leaf`` says which branch
is shown. Nothing is overwritten, so the older branches stay reachable (``1/3 ◀ ▶``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo_core import settings
from demo_core.i18n import _

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DB_NAME = "workspace.db"

# version -> statements that take a file from version-1 to version
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE workspaces (
            id TEXT PRIMARY KEY, created REAL NOT NULL, seen REAL NOT NULL)""",
        """CREATE TABLE prefs (
            workspace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (workspace, key))""",
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY, workspace TEXT NOT NULL, slot TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '', system_prompt TEXT NOT NULL DEFAULT '',
            leaf TEXT, created REAL NOT NULL, updated REAL NOT NULL, deleted REAL)""",
        "CREATE INDEX conversations_by_slot ON conversations (workspace, slot, updated)",
        """CREATE TABLE messages (
            id TEXT PRIMARY KEY,
            conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            parent TEXT, role TEXT NOT NULL, content TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'done', stats TEXT NOT NULL DEFAULT '{}',
            model TEXT NOT NULL DEFAULT '', writer INTEGER,
            created REAL NOT NULL, updated REAL NOT NULL)""",
        "CREATE INDEX messages_by_conversation ON messages (conversation, created)",
        "CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming'",
        """CREATE TABLE docs (
            id TEXT PRIMARY KEY, workspace TEXT NOT NULL, kind TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '', body TEXT NOT NULL,
            created REAL NOT NULL, updated REAL NOT NULL, deleted REAL)""",
        "CREATE INDEX docs_by_kind ON docs (workspace, kind, updated)",
    ],
}

TITLE_CHARS = 48


class StoreError(RuntimeError):
    """A write did not happen; ``str(exc)`` is one sentence for the user."""


class _NewerSchema(Exception):
    pass


def new_id() -> str:
    return uuid.uuid4().hex


def title_from(text: str) -> str:
    """A conversation's title: its first message's first line, shortened."""
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


@dataclass
class MessageRow:
    id: str
    conversation: str
    parent: str | None
    role: str
    content: str
    status: str
    stats: dict
    model: str
    created: float
    updated: float
    siblings: list[str] = field(default_factory=list)  # alternatives, oldest first

    @property
    def alt_index(self) -> int:
        return self.siblings.index(self.id) if self.id in self.siblings else 0


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    """The workspace database of one app home. Thread-safe; one per process per file."""

    def __init__(self, path: Path, *, memory: bool = False) -> None:
        """``memory``: an in-memory database (``$DEMO_STUDIO_STORE=memory``): the same
        store, nothing on disk, gone with the process."""
        self.path = Path(path)
        self.memory = memory
        self.notices: list[str] = []  # one-line messages for the user, newest last
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        try:
            self._open()
        except StoreError as exc:  # locked or full right now: the next call tries again
            self.notices.append(str(exc))

    # -- opening, checking, migrating -----------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if not self.memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            ":memory:" if self.memory else self.path,
            timeout=5.0,
            check_same_thread=False,
            isolation_level=None,
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints, never torn
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Check the file and bring its schema up to date (raises on a bad file)."""
        ok = conn.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {ok}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise _NewerSchema(version)
        for v in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql in MIGRATIONS[v]:
                    conn.execute(sql)
                conn.execute(f"PRAGMA user_version = {v}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _open(self) -> None:
        with self._lock:
            conn: sqlite3.Connection | None = None
            try:
                conn = self._connect()
                self._prepare(conn)
            except _NewerSchema as exc:
                conn.close()  # type: ignore[union-attr]
                aside = self._move_aside("newer")
                self.notices.append(
                    _(
                        "The workspace database was written by a newer version of the app "
                        "(schema {v}); it is kept as {aside} and a new one was started."
                    ).format(v=exc.args[0], aside=aside.name)
                )
                conn = self._connect()
                self._prepare(conn)
            except sqlite3.DatabaseError as exc:
                if conn is not None:
                    conn.close()
                text = str(exc)
                if isinstance(exc, sqlite3.OperationalError) and (
                    "locked" in text or "busy" in text or "full" in text
                ):
                    raise StoreError(self._say(exc)) from exc
                conn = self._recreate(exc)
            self._conn = conn
            self._sweep_cut_off()

    def _recreate(self, exc: Exception) -> sqlite3.Connection:
        log.warning("workspace database %s unreadable (%s): moving it aside", self.path, exc)
        aside = self._move_aside("corrupt")
        self.notices.append(
            _(
                "The workspace database was damaged; it was moved to {aside} and a new one "
                "was started."
            ).format(aside=aside.name)
        )
        conn = self._connect()
        self._prepare(conn)
        return conn

    def _move_aside(self, why: str) -> Path:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.{why}-{stamp}")
        n = 1
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.{why}-{stamp}-{n}")
            n += 1
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                os.replace(src, Path(str(aside) + suffix))
        return aside

    def _sweep_cut_off(self) -> None:
        """Replies whose writer process is gone will never be finished: mark them."""
        rows = self._conn.execute(  # type: ignore[union-attr]
            "SELECT id, writer FROM messages WHERE status = 'streaming'"
        ).fetchall()
        dead = [r["id"] for r in rows if not _pid_alive(r["writer"])]
        if dead:
            with self._tx() as c:
                c.executemany(
                    "UPDATE messages SET status = 'cutoff' WHERE id = ?", [(i,) for i in dead]
                )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- the one writer path, and reads ----------------------------------------------
    def _say(self, exc: Exception) -> str:
        text = str(exc).lower()
        if "full" in text:
            return _("The disk is full: your last change was not saved. Free some space.")
        if "locked" in text or "busy" in text:
            return _("The workspace database is busy: your last change was not saved yet.")
        if "readonly" in text or "read-only" in text:
            return _("The workspace database is read-only: your last change was not saved.")
        return _("Your last change could not be saved ({error}).").format(error=exc)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                self._open()
            conn = self._conn
            assert conn is not None
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise self._failed(exc) from exc
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise

    def _failed(self, exc: sqlite3.Error) -> StoreError:
        if not isinstance(exc, sqlite3.OperationalError) and isinstance(exc, sqlite3.DatabaseError):
            # damaged under us: start over so the next write works
            old, self._conn = self._conn, None
            if old is not None:
                try:
                    old.close()
                except sqlite3.Error:
                    pass
            self._conn = self._recreate(exc)
        message = self._say(exc)
        if message not in self.notices:
            self.notices.append(message)
        return StoreError(message)

    def _rows(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                if self._conn is None:
                    self._open()
                return self._conn.execute(sql, args).fetchall()  # type: ignore[union-attr]
            except (sqlite3.OperationalError, StoreError) as exc:
                log.warning("store read failed: %s", exc)
                return []
            except sqlite3.DatabaseError as exc:
                self._failed(exc)
                return []

    # -- workspaces -------------------------------------------------------------------
    def touch_workspace(self, ws: str) -> None:
        now = time.time()
        with self._tx() as c:
            c.execute(
                "INSERT INTO workspaces (id, created, seen) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET seen = excluded.seen",
                (ws, now, now),
            )

    def workspace_exists(self, ws: str) -> bool:
        return bool(self._rows("SELECT 1 FROM workspaces WHERE id = ?", (ws,)))

    def list_workspaces(self) -> list[dict[str, Any]]:
        """Every workspace, most recently seen first, with how much it holds (for the
        teacher's Class page)."""
        rows = self._rows(
            "SELECT w.id, w.created, w.seen, "
            "(SELECT COUNT(*) FROM conversations c WHERE c.workspace = w.id "
            " AND c.deleted IS NULL) AS conversations, "
            "(SELECT COUNT(*) FROM docs d WHERE d.workspace = w.id "
            " AND d.deleted IS NULL) AS docs "
            "FROM workspaces w ORDER BY w.seen DESC"
        )
        return [dict(r) for r in rows]

    def files_dir(self, ws: str) -> Path:
        """Where workspace ``ws`` keeps the files its rows point at (article pictures)."""
        return self.path.parent / "files" / ws

    def reset_workspace(self, ws: str) -> None:
        """Forget everything workspace ``ws`` holds, files too (its id stays valid, now
        empty). Running jobs are the caller's: ``demo_core.jobs.JOBS.stop_workspace``."""
        shutil.rmtree(self.files_dir(ws), ignore_errors=True)
        with self._tx() as c:
            c.execute(
                "DELETE FROM messages WHERE conversation IN "
                "(SELECT id FROM conversations WHERE workspace = ?)",
                (ws,),
            )
            for table in ("conversations", "docs", "prefs"):
                c.execute(f"DELETE FROM {table} WHERE workspace = ?", (ws,))

    def reset_all(self) -> None:
        """Forget every workspace (a classroom machine between two classes)."""
        shutil.rmtree(self.path.parent / "files", ignore_errors=True)
        with self._tx() as c:
            for table in ("messages", "conversations", "docs", "prefs", "workspaces"):
                c.execute(f"DELETE FROM {table}")

    # -- preferences ------------------------------------------------------------------
    def get_pref(self, ws: str, key: str, default: Any = None) -> Any:
        rows = self._rows("SELECT value FROM prefs WHERE workspace = ? AND key = ?", (ws, key))
        if not rows:
            return default
        try:
            return json.loads(rows[0]["value"])
        except ValueError:
            return default

    def set_pref(self, ws: str, key: str, value: Any) -> None:
        data = json.dumps(value, ensure_ascii=False)
        with self._tx() as c:
            c.execute(
                "INSERT INTO prefs (workspace, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT(workspace, key) DO UPDATE SET value = excluded.value",
                (ws, key, data),
            )

    def prefs(self, ws: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for r in self._rows("SELECT key, value FROM prefs WHERE workspace = ?", (ws,)):
            try:
                out[r["key"]] = json.loads(r["value"])
            except ValueError:
                pass
        return out

    # -- conversations ----------------------------------------------------------------
    def create_conversation(
        self, ws: str, slot: str, system_prompt: str = "", title: str = ""
    ) -> str:
        cid, now = new_id(), time.time()
        with self._tx() as c:
            c.execute(
                "INSERT INTO conversations (id, workspace, slot, title, system_prompt, "
                "created, updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (cid, ws, slot, title, system_prompt, now, now),
            )
        return cid

    def conversation(self, cid: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM conversations WHERE id = ?", (cid,))
        return dict(rows[0]) if rows else None

    def conversations(
        self, ws: str, slot: str, query: str = "", *, deleted: bool = False
    ) -> list[dict[str, Any]]:
        """The conversations of one chat (a page or a persona), newest first; ``query``
        matches titles and message text, case-insensitively."""
        sql = "SELECT * FROM conversations c WHERE workspace = ? AND slot = ? AND deleted IS " + (
            "NOT NULL" if deleted else "NULL"
        )
        args: list[Any] = [ws, slot]
        if query.strip():
            like = (
                "%"
                + query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                + "%"
            )
            sql += (
                " AND (title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m WHERE "
                "m.conversation = c.id AND m.content LIKE ? ESCAPE '\\'))"
            )
            args += [like, like]
        sql += " ORDER BY updated DESC"
        return [dict(r) for r in self._rows(sql, tuple(args))]

    def workspace_conversations(self, ws: str) -> list[dict[str, Any]]:
        """Every live conversation of workspace ``ws``, whatever its chat (for an export
        of the whole workspace before a reset)."""
        sql = "SELECT * FROM conversations WHERE workspace = ? AND deleted IS NULL"
        return [dict(r) for r in self._rows(sql + " ORDER BY updated DESC", (ws,))]

    def rename(self, cid: str, title: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE conversations SET title = ? WHERE id = ?", (title.strip(), cid))

    def delete_conversation(self, cid: str) -> None:
        """Soft delete (Undo brings it back); :meth:`purge_deleted` removes it for good."""
        self._mark_deleted("conversations", cid, time.time())

    def restore_conversation(self, cid: str) -> None:
        self._mark_deleted("conversations", cid, None)

    def _mark_deleted(self, table: str, rid: str, when: float | None) -> None:
        """Soft-delete row ``rid`` of ``table`` (one of this module's own table names) at
        ``when``, or bring it back (``None``)."""
        assert table in ("conversations", "docs")
        with self._tx() as c:
            c.execute(f"UPDATE {table} SET deleted = ? WHERE id = ?", (when, rid))

    def purge_deleted(self, older_than_s: float = 0.0) -> None:
        cutoff = time.time() - older_than_s
        with self._tx() as c:
            c.execute(
                "DELETE FROM messages WHERE conversation IN (SELECT id FROM conversations "
                "WHERE deleted IS NOT NULL AND deleted <= ?)",
                (cutoff,),
            )
            c.execute(
                "DELETE FROM conversations WHERE deleted IS NOT NULL AND deleted <= ?", (cutoff,)
            )
            c.execute("DELETE FROM docs WHERE deleted IS NOT NULL AND deleted <= ?", (cutoff,))

    def drop_slot(self, ws: str, slot: str) -> None:
        """Delete every conversation of one chat for good (a deleted persona)."""
        with self._tx() as c:
            c.execute(
                "DELETE FROM messages WHERE conversation IN "
                "(SELECT id FROM conversations WHERE workspace = ? AND slot = ?)",
                (ws, slot),
            )
            c.execute("DELETE FROM conversations WHERE workspace = ? AND slot = ?", (ws, slot))

    def set_system_prompt(self, cid: str, text: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE conversations SET system_prompt = ? WHERE id = ?", (text, cid))

    # -- messages ---------------------------------------------------------------------
    def add_message(
        self,
        cid: str,
        role: str,
        content: str,
        *,
        parent: str | None,
        status: str = "done",
        stats: dict | None = None,
        model: str = "",
        mid: str | None = None,
    ) -> str:
        """Append a message under ``parent`` and show its branch (it becomes the leaf).
        The first user message names an untitled conversation."""
        mid, now = mid or new_id(), time.time()
        writer = os.getpid() if status == "streaming" else None
        with self._tx() as c:
            c.execute(
                "INSERT INTO messages (id, conversation, parent, role, content, status, stats, "
                "model, writer, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    mid,
                    cid,
                    parent,
                    role,
                    content,
                    status,
                    json.dumps(stats or {}),
                    model,
                    writer,
                    now,
                    now,
                ),
            )
            c.execute(
                "UPDATE conversations SET leaf = ?, updated = ?, title = CASE WHEN title = '' "
                "AND ? = 'user' THEN ? ELSE title END WHERE id = ?",
                (mid, now, role, title_from(content), cid),
            )
        return mid

    def update_message(
        self,
        mid: str,
        *,
        content: str | None = None,
        status: str | None = None,
        stats: dict | None = None,
    ) -> None:
        """Progress of a streaming reply (its text so far), or its end."""
        sets, args = ["updated = ?"], [time.time()]
        if content is not None:
            sets.append("content = ?")
            args.append(content)
        if status is not None:
            sets.append("status = ?")
            args.append(status)
            sets.append("writer = ?")
            args.append(os.getpid() if status == "streaming" else None)
        if stats is not None:
            sets.append("stats = ?")
            args.append(json.dumps(stats))
        with self._tx() as c:
            c.execute(f"UPDATE messages SET {', '.join(sets)} WHERE id = ?", (*args, mid))

    def set_leaf(self, cid: str, mid: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE conversations SET leaf = ? WHERE id = ?", (mid, cid))

    def messages(self, cid: str) -> list[MessageRow]:
        """Every message of the conversation, all branches, oldest first."""
        rows = self._rows(
            "SELECT * FROM messages WHERE conversation = ? ORDER BY created, rowid", (cid,)
        )
        out = []
        for r in rows:
            try:
                stats = json.loads(r["stats"])
            except ValueError:
                stats = {}
            out.append(
                MessageRow(
                    r["id"],
                    r["conversation"],
                    r["parent"],
                    r["role"],
                    r["content"],
                    r["status"],
                    stats,
                    r["model"],
                    r["created"],
                    r["updated"],
                )
            )
        return out

    def branch(self, cid: str) -> list[MessageRow]:
        """The branch shown: from the first message to the conversation's leaf, each
        with its alternatives (siblings)."""
        conv = self.conversation(cid)
        if conv is None:
            return []
        rows = self.messages(cid)
        by_id = {m.id: m for m in rows}
        children: dict[str | None, list[str]] = {}
        for m in rows:
            children.setdefault(m.parent, []).append(m.id)
        leaf = conv["leaf"] if conv["leaf"] in by_id else (rows[-1].id if rows else None)
        chain: list[MessageRow] = []
        seen: set[str] = set()
        while leaf is not None and leaf in by_id and leaf not in seen:
            seen.add(leaf)
            m = by_id[leaf]
            m.siblings = children.get(m.parent, [m.id])
            chain.append(m)
            leaf = m.parent
        return chain[::-1]

    def leaf_under(self, cid: str, mid: str) -> str:
        """The newest end of the branch starting at ``mid`` (for flipping alternatives)."""
        rows = self.messages(cid)
        children: dict[str | None, list[str]] = {}
        for m in rows:
            children.setdefault(m.parent, []).append(m.id)
        while children.get(mid):
            mid = children[mid][-1]
        return mid

    # -- documents (articles, agent sessions) -----------------------------------------
    def put_doc(self, ws: str, kind: str, did: str, title: str, body: dict) -> None:
        now = time.time()
        data = json.dumps(body, ensure_ascii=False)
        with self._tx() as c:
            c.execute(
                "INSERT INTO docs (id, workspace, kind, title, body, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "title = excluded.title, body = excluded.body, updated = excluded.updated",
                (did, ws, kind, title, data, now, now),
            )

    def doc(self, did: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM docs WHERE id = ? AND deleted IS NULL", (did,))
        if not rows:
            return None
        out = dict(rows[0])
        try:
            out["body"] = json.loads(out["body"])
        except ValueError:
            return None
        return out

    def docs(self, ws: str, kind: str) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT id, title, created, updated FROM docs WHERE workspace = ? AND kind = ? "
            "AND deleted IS NULL ORDER BY updated DESC",
            (ws, kind),
        )
        return [dict(r) for r in rows]

    def delete_doc(self, did: str) -> None:
        self._mark_deleted("docs", did, time.time())

    def rename_doc(self, did: str, title: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE docs SET title = ? WHERE id = ?", (title.strip(), did))

    def restore_doc(self, did: str) -> None:
        self._mark_deleted("docs", did, None)

    # -- size -------------------------------------------------------------------------
    def size_bytes(self) -> int:
        if self.memory:
            return 0
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error:
                    pass
        return sum(
            Path(str(self.path) + s).stat().st_size
            for s in ("", "-wal")
            if Path(str(self.path) + s).exists()
        )


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def store_path() -> Path:
    return settings.home() / DB_NAME


def get_store() -> Store:
    """The store of the current ``$DEMO_STUDIO_HOME`` (one per process and file; one in
    memory per home with ``$DEMO_STUDIO_STORE=memory``)."""
    path, memory = store_path(), settings.store_in_memory()
    with _stores_lock:
        store = _stores.get(path)
        if store is None or store.memory != memory:
            store = _stores[path] = Store(path, memory=memory)
            if memory:
                store.notices.append(
                    _(
                        "Nothing is saved on this server (DEMO_STUDIO_STORE=memory): your "
                        "work is gone when the app stops."
                    )
                )
        return store
