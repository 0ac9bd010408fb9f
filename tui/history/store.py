"""Chat history in SQLite: one class owns every query.

WAL mode with a busy timeout, so two copies of the app can write at once; every
write is a `BEGIN IMMEDIATE` transaction, so a writer waits for the lock up front
instead of failing halfway. The schema is migrated in `PRAGMA user_version` steps.
The file and its WAL/SHM files are private (0600). A database that fails
`PRAGMA quick_check` at open is moved aside, never deleted.

Connections are per thread (sqlite3 objects must stay in the thread that made
them): the UI thread and the generation worker each get their own.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llamatui.tui.history.files import move_aside, private_file, private_sidecars
from llamatui.tui.history.records import (
    Conversation,
    Message,
    ReplyMeta,
    SearchHit,
    title_from_prompt,
)
from llamatui.tui.history.schema import MIGRATIONS, SCHEMA_VERSION
from llamatui.tui.history.status import ReplyStatus

# A reply still marked "streaming" whose last checkpoint is older than this was
# left by an app that died: checkpoints come at least once a second.
STALE_STREAM_S = 10.0


class StoreError(Exception):
    """History could not be read or saved; the message says why, in words."""


def _explain(e: sqlite3.Error) -> str:
    text = str(e)
    if "disk is full" in text or "database or disk is full" in text:
        return "the disk is full"
    if "locked" in text or "busy" in text:
        return "another copy of llamatui held the history database too long"
    if "readonly" in text or "read-only" in text:
        return "the history database is read-only"
    return text


class Store:
    """Chat history; safe to share between threads (one connection each)."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.moved_aside: Path | None = None
        """Where a corrupt database was moved at open, if one was."""
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._open_checked()

    # Opening ---------------------------------------------------------------------

    def _open_checked(self) -> None:
        ok = False
        try:
            private_file(self.path)
            conn = self._conn()
            ok = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except sqlite3.DatabaseError:
            ok = False
        if not ok:
            self.close()
            self.moved_aside = move_aside(self.path)
            private_file(self.path)
        self._migrate(self._conn())
        private_sidecars(self.path)
        self._mark_stale_streams()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # Each connection is used by the thread that made it; close() may run
            # on another thread once those are done, hence check_same_thread=False.
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=0, check_same_thread=False
            )
            try:
                conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
                conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode: a crash of the app loses nothing, a power cut
                # may lose the last commits, and commits do not wait for fsync.
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error:
                conn.close()
                raise
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A `BEGIN IMMEDIATE` transaction; sqlite errors become StoreError."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"could not save to the history: {_explain(e)}") from e

    def _migrate(self, conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        while version < target:
            # executescript commits first; wrap each step so it applies whole.
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[version]}\n"
                f"PRAGMA user_version = {version + 1};\nCOMMIT;"
            )
            version += 1

    def _mark_stale_streams(self) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE messages SET status = 'interrupted' "
                "WHERE status = 'streaming' AND updated_at < ?",
                (time.time() - STALE_STREAM_S,),
            )

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # Writing ---------------------------------------------------------------------

    def new_conversation(self, title: str) -> int:
        """Create a conversation; its id."""
        with self._write() as conn:
            return _conversation(conn, title, time.time())

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        *,
        status: ReplyStatus = "complete",
        meta: ReplyMeta | None = None,
        created_at: float | None = None,
    ) -> int:
        """Append a message (committed when this returns); its id."""
        with self._write() as conn:
            return self._insert(conn, conversation_id, role, content, status, meta, created_at)

    def save_prompt(
        self, conversation_id: int | None, prompt: str, meta: ReplyMeta, system: str = ""
    ) -> tuple[int, int]:
        """Commit a prompt and the empty reply that is about to stream, in one
        transaction, creating the conversation (titled from the prompt, its `system`
        prompt first) on its first message; the conversation's id and the reply's."""
        with self._write() as conn:
            if conversation_id is None:
                conversation_id = _conversation(conn, title_from_prompt(prompt), time.time())
                if system:
                    self._insert(conn, conversation_id, "system", system, "complete", None, None)
            self._insert(conn, conversation_id, "user", prompt, "complete", None, None)
            reply = self._insert(conn, conversation_id, "assistant", "", "streaming", meta, None)
            return conversation_id, reply

    def _insert(
        self,
        conn: sqlite3.Connection,
        conversation_id: int,
        role: str,
        content: str,
        status: ReplyStatus,
        meta: ReplyMeta | None,
        created_at: float | None,
    ) -> int:
        now = created_at if created_at is not None else time.time()
        m = meta or ReplyMeta()
        cur = conn.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at, updated_at,"
            " status, model, engine, sampling, prompt_tokens, generated_tokens,"
            " tokens_per_s, ttft_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                conversation_id,
                role,
                content,
                now,
                now,
                status,
                m.model,
                m.engine,
                json.dumps(m.sampling) if m.sampling is not None else None,
                m.prompt_tokens,
                m.generated_tokens,
                m.tokens_per_s,
                m.ttft_s,
            ),
        )
        conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
        return int(cur.lastrowid or 0)

    def checkpoint_reply(self, message_id: int, content: str) -> None:
        """Save the text of a reply that is still streaming."""
        with self._write() as conn:
            conn.execute(
                "UPDATE messages SET content = ?, updated_at = ? WHERE id = ?",
                (content, time.time(), message_id),
            )

    def finish_reply(
        self, message_id: int, content: str, status: ReplyStatus, meta: ReplyMeta
    ) -> None:
        """Save a reply's final text, how it ended, and its figures."""
        with self._write() as conn:
            conn.execute(
                "UPDATE messages SET content = ?, status = ?, updated_at = ?,"
                " prompt_tokens = ?, generated_tokens = ?, tokens_per_s = ?, ttft_s = ?"
                " WHERE id = ?",
                (
                    content,
                    status,
                    time.time(),
                    meta.prompt_tokens,
                    meta.generated_tokens,
                    meta.tokens_per_s,
                    meta.ttft_s,
                    message_id,
                ),
            )

    def rename(self, conversation_id: int, title: str) -> None:
        """Give a conversation a title of the user's."""
        with self._write() as conn:
            conn.execute(
                "UPDATE conversations SET title = ?, renamed = 1 WHERE id = ?",
                (title, conversation_id),
            )

    def delete(self, conversation_id: int) -> None:
        """Delete a conversation and its messages."""
        with self._write() as conn:
            conn.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def import_conversation(
        self, title: str, messages: Sequence[Message], *, renamed: bool = False
    ) -> int:
        """Store a whole conversation (from an export) in one transaction; its id."""
        now = time.time()
        with self._write() as conn:
            created = min((m.created_at for m in messages), default=now)
            updated = max((m.created_at for m in messages), default=now)
            cid = _conversation(conn, title, created, updated, renamed)
            for m in messages:
                x = m.meta
                conn.execute(
                    "INSERT INTO messages (conversation_id, role, content, created_at,"
                    " updated_at, status, model, engine, sampling, prompt_tokens,"
                    " generated_tokens, tokens_per_s, ttft_s)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        cid, m.role, m.content, m.created_at, m.created_at, m.status,
                        x.model, x.engine,
                        json.dumps(x.sampling) if x.sampling is not None else None,
                        x.prompt_tokens, x.generated_tokens, x.tokens_per_s, x.ttft_s,
                    ),
                )  # fmt: skip
            return cid

    # Reading ---------------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise StoreError(f"could not read the history: {_explain(e)}") from e

    def conversations(self, limit: int = 500) -> list[Conversation]:
        """Conversations, newest first."""
        rows = self._read(
            "SELECT id, title, created_at, updated_at, renamed FROM conversations"
            " ORDER BY updated_at DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [Conversation(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def conversation(self, conversation_id: int) -> Conversation | None:
        """One conversation, or None."""
        rows = self._read(
            "SELECT id, title, created_at, updated_at, renamed FROM conversations WHERE id = ?",
            (conversation_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return Conversation(r[0], r[1], r[2], r[3], bool(r[4]))

    def recent_prompts(self, limit: int = 200) -> list[str]:
        """What the user sent most recently, in every conversation, oldest first."""
        sql = "SELECT content FROM messages WHERE role = 'user' ORDER BY id DESC LIMIT ?"
        return [r[0] for r in reversed(self._read(sql, [limit]))]

    def messages(self, conversation_id: int, *, last: int | None = None) -> list[Message]:
        """A conversation's messages, oldest first; only the `last` N when given."""
        sql = (
            "SELECT id, conversation_id, role, content, created_at, status, model, engine,"
            " sampling, prompt_tokens, generated_tokens, tokens_per_s, ttft_s"
            " FROM messages WHERE conversation_id = ? ORDER BY id DESC"
        )
        params: list[Any] = [conversation_id]
        if last is not None:
            sql += " LIMIT ?"
            params.append(last)
        rows = self._read(sql, params)
        rows.reverse()
        return [
            Message(
                id=r[0],
                conversation_id=r[1],
                role=r[2],
                content=r[3],
                created_at=r[4],
                status=r[5],
                meta=ReplyMeta(
                    model=r[6],
                    engine=r[7],
                    sampling=json.loads(r[8]) if r[8] else None,
                    prompt_tokens=r[9],
                    generated_tokens=r[10],
                    tokens_per_s=r[11],
                    ttft_s=r[12],
                ),
            )
            for r in rows
        ]

    def message_count(self, conversation_id: int) -> int:
        """How many messages a conversation has."""
        return int(
            self._read(
                "SELECT count(*) FROM messages WHERE conversation_id = ?", (conversation_id,)
            )[0][0]
        )

    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        """Messages matching every word of `text`, best first."""
        words = [w.replace('"', '""') for w in text.split()]
        if not words:
            return []
        # Each word as a quoted prefix term: user text is never FTS5 syntax.
        query = " ".join(f'"{w}"*' for w in words)
        rows = self._read(
            "SELECT m.conversation_id, c.title, m.id, m.role,"
            " snippet(messages_fts, 0, '«', '»', '…', 12)"
            " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
            " JOIN conversations c ON c.id = m.conversation_id"
            " WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?",
            (query, limit),
        )
        return [SearchHit(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def quick_check(self) -> bool:
        """Whether SQLite finds the database sound."""
        return bool(self._read("PRAGMA quick_check")[0][0] == "ok")


def _conversation(
    conn: sqlite3.Connection, title: str, created: float, updated: float = 0, renamed: bool = False
) -> int:
    """Insert a conversation (in the caller's transaction); its id."""
    cur = conn.execute(
        "INSERT INTO conversations (title, created_at, updated_at, renamed) VALUES (?, ?, ?, ?)",
        (title, created, updated or created, int(renamed)),
    )
    return int(cur.lastrowid or 0)
