"""Chat history in SQLite: one class owns every query (`Database` opens the file
and gives each thread its connection)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from llamatui.tui.history.database import Database
from llamatui.tui.history.database import StoreError as StoreError
from llamatui.tui.history.records import (
    Conversation,
    Message,
    ReplyMeta,
    SearchHit,
    title_from_prompt,
)
from llamatui.tui.history.rows import (
    CONVERSATION_COLUMNS,
    MESSAGE_COLUMNS,
    conversation_of,
    insert_conversation,
    insert_message,
    message_of,
)
from llamatui.tui.history.status import ReplyStatus
from llamatui.tui.history.tree import Deletion, path_to

# A new message's parent when none is named: the end of the conversation's path.
LEAF = -1


class Store(Database):
    """Chat history; safe to share between threads (one connection each)."""

    # Writing ---------------------------------------------------------------------

    def new_conversation(self, title: str, settings: dict[str, Any] | None = None) -> int:
        """Create a conversation; its id."""
        with self._write() as conn:
            return insert_conversation(conn, title, time.time(), settings=settings)

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        *,
        status: ReplyStatus = "complete",
        meta: ReplyMeta | None = None,
        created_at: float | None = None,
        parent: int | None = LEAF,
    ) -> int:
        """Add a message under `parent` (the end of the path by default); it becomes
        the end of the path. Committed when this returns; its id."""
        with self._write() as conn:
            return self._insert(
                conn, conversation_id, role, content, status, meta, parent, created_at
            )

    def save_prompt(
        self,
        conversation_id: int | None,
        prompt: str,
        meta: ReplyMeta,
        system: str = "",
        *,
        parent: int | None = LEAF,
        settings: dict[str, Any] | None = None,
    ) -> tuple[int, int, int]:
        """Commit a prompt (under `parent`, the end of the path by default) and the
        empty reply that is about to stream, in one transaction, creating the
        conversation (titled from the prompt, its `system` prompt first, with its
        `settings`) on its first message; the ids of the conversation, the prompt and
        the reply."""
        with self._write() as conn:
            if conversation_id is None:
                conversation_id = insert_conversation(
                    conn, title_from_prompt(prompt), time.time(), settings=settings
                )
                if system:
                    self._insert(conn, conversation_id, "system", system, "complete", None, None)
            prompt_id = self._insert(
                conn, conversation_id, "user", prompt, "complete", None, parent
            )
            reply = self._insert(
                conn, conversation_id, "assistant", "", "streaming", meta, prompt_id
            )
            return conversation_id, prompt_id, reply

    def _insert(
        self,
        conn: sqlite3.Connection,
        conversation_id: int,
        role: str,
        content: str,
        status: ReplyStatus,
        meta: ReplyMeta | None,
        parent: int | None,
        created_at: float | None = None,
    ) -> int:
        if parent == LEAF:
            parent = self._leaf(conn, conversation_id)
        now = created_at if created_at is not None else time.time()
        return insert_message(conn, conversation_id, role, content, status, meta, now, parent)

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

    def set_leaf(self, conversation_id: int, message_id: int | None) -> None:
        """Show the path that ends at `message_id` (another version or branch)."""
        with self._write() as conn:
            _set_leaf(conn, conversation_id, message_id)

    def edit_version(self, message_id: int, content: str) -> int:
        """Save an edited copy of a message as its new version (the original stays);
        it becomes the end of the path. Its id."""
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                raise StoreError("could not save to the history: that message is gone")
            m = message_of(row)
            # Where it came from stays; the figures were the old text's.
            meta = ReplyMeta(model=m.meta.model, engine=m.meta.engine, sampling=m.meta.sampling)
            return self._insert(
                conn, m.conversation_id, m.role, content, "complete", meta, m.parent_id
            )

    def delete_messages(self, conversation_id: int, gone: Deletion) -> None:
        """Delete messages as `tree.deletion` planned, in one transaction."""
        with self._write() as conn:
            for child, parent in gone.adopt:
                conn.execute("UPDATE messages SET parent_id = ? WHERE id = ?", (parent, child))
            conn.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in gone.ids])
            _set_leaf(conn, conversation_id, gone.leaf)

    def set_settings(self, conversation_id: int, settings: dict[str, Any], system: str) -> None:
        """Keep a conversation's own settings and system prompt (its first message)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE conversations SET settings = ? WHERE id = ?",
                (json.dumps(settings), conversation_id),
            )
            row = conn.execute(
                "SELECT id FROM messages WHERE conversation_id = ? AND role = 'system'"
                " AND parent_id IS NULL ORDER BY id LIMIT 1",
                (conversation_id,),
            ).fetchone()
            if row is not None:
                conn.execute("UPDATE messages SET content = ? WHERE id = ?", (system, row[0]))
            else:  # the new first message (empty too: no prompt, not the model's)
                now, leaf = time.time(), self._leaf(conn, conversation_id)
                first = insert_message(
                    conn, conversation_id, "system", system, "complete", None, now, None
                )
                conn.execute(
                    "UPDATE messages SET parent_id = ? WHERE conversation_id = ?"
                    " AND parent_id IS NULL AND id != ?",
                    (first, conversation_id, first),
                )
                _set_leaf(conn, conversation_id, leaf if leaf is not None else first)

    @staticmethod
    def _leaf(conn: sqlite3.Connection, conversation_id: int) -> int | None:
        row = conn.execute(
            "SELECT leaf_id FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        return row[0] if row else None

    def import_conversation(
        self,
        title: str,
        messages: Sequence[Message],
        *,
        renamed: bool = False,
        settings: dict[str, Any] | None = None,
    ) -> int:
        """Store a whole conversation (from an export, one path) in one transaction;
        its id."""
        now = time.time()
        with self._write() as conn:
            created = min((m.created_at for m in messages), default=now)
            updated = max((m.created_at for m in messages), default=now)
            cid = insert_conversation(conn, title, created, updated, renamed, settings)
            parent = None
            for m in messages:
                parent = insert_message(
                    conn, cid, m.role, m.content, m.status, m.meta, m.created_at, parent
                )
            conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (updated, cid))
            return cid

    # Reading ---------------------------------------------------------------------

    def conversations(self, limit: int = 500) -> list[Conversation]:
        """Conversations, newest first."""
        rows = self._read(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations"
            " ORDER BY updated_at DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [conversation_of(r) for r in rows]

    def conversation(self, conversation_id: int) -> Conversation | None:
        """One conversation, or None."""
        rows = self._read(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
        )
        return conversation_of(rows[0]) if rows else None

    def recent_prompts(self, limit: int = 200) -> list[str]:
        """What the user sent most recently, in every conversation, oldest first."""
        sql = "SELECT content FROM messages WHERE role = 'user' ORDER BY id DESC LIMIT ?"
        return [r[0] for r in reversed(self._read(sql, [limit]))]

    def messages(self, conversation_id: int, *, last: int | None = None) -> list[Message]:
        """A conversation as shown: the path to its leaf, oldest first, each message
        with its version; only the `last` N when given."""
        conv = self.conversation(conversation_id)
        path = path_to(self.tree(conversation_id), conv.leaf_id if conv else None)
        if last is None:
            return path
        return path[-last:] if last > 0 else []

    def tree(self, conversation_id: int) -> list[Message]:
        """Every message of a conversation, each version and branch, in id order."""
        rows = self._read(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        return [message_of(r) for r in rows]

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


def _set_leaf(conn: sqlite3.Connection, conversation_id: int, leaf: int | None) -> None:
    """Make `leaf` the end of the path shown (in the caller's transaction)."""
    conn.execute("UPDATE conversations SET leaf_id = ? WHERE id = ?", (leaf, conversation_id))
