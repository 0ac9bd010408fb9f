"""Rows of the history's tables to records and back: the SQL the store repeats."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from llamatui.tui.history.records import Conversation, Message, ReplyMeta
from llamatui.tui.history.status import ReplyStatus

MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, created_at, status, model, engine, sampling,"
    " prompt_tokens, generated_tokens, tokens_per_s, ttft_s, parent_id"
)
CONVERSATION_COLUMNS = "id, title, created_at, updated_at, renamed, leaf_id, settings"


def message_of(r: Sequence[Any]) -> Message:
    """A message from a row of MESSAGE_COLUMNS."""
    return Message(
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
        parent_id=r[13],
    )


def conversation_of(r: Sequence[Any]) -> Conversation:
    """A conversation from a row of CONVERSATION_COLUMNS."""
    settings = json.loads(r[6]) if r[6] else {}
    return Conversation(
        r[0], r[1], r[2], r[3], bool(r[4]), r[5], settings if isinstance(settings, dict) else {}
    )


def insert_message(
    conn: sqlite3.Connection,
    conversation_id: int,
    role: str,
    content: str,
    status: ReplyStatus,
    meta: ReplyMeta | None,
    created_at: float,
    parent_id: int | None,
) -> int:
    """Insert a message at the end of the conversation's path (it becomes the leaf),
    in the caller's transaction; its id."""
    m = meta or ReplyMeta()
    cur = conn.execute(
        f"INSERT INTO messages ({MESSAGE_COLUMNS.removeprefix('id, ')}, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            conversation_id, role, content, created_at, status, m.model, m.engine,
            json.dumps(m.sampling) if m.sampling is not None else None,
            m.prompt_tokens, m.generated_tokens, m.tokens_per_s, m.ttft_s, parent_id,
            created_at,
        ),
    )  # fmt: skip
    new = int(cur.lastrowid or 0)
    conn.execute(
        "UPDATE conversations SET updated_at = ?, leaf_id = ? WHERE id = ?",
        (created_at, new, conversation_id),
    )
    return new


def insert_conversation(
    conn: sqlite3.Connection,
    title: str,
    created: float,
    updated: float = 0,
    renamed: bool = False,
    settings: dict[str, Any] | None = None,
) -> int:
    """Insert a conversation (in the caller's transaction); its id."""
    cur = conn.execute(
        "INSERT INTO conversations (title, created_at, updated_at, renamed, settings)"
        " VALUES (?, ?, ?, ?, ?)",
        (title, created, updated or created, int(renamed), json.dumps(settings or {})),
    )
    return int(cur.lastrowid or 0)
