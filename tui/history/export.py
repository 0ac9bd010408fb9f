"""Conversations out to Markdown and JSON, and JSON back in."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

from llamatui.engines.refs import ModelRef
from llamatui.tui.history.records import Conversation, Message, ReplyMeta, reply_meta_dict
from llamatui.tui.history.status import STATUSES
from llamatui.tui.history.store import Store

FORMAT = "llamatui.conversation"
FORMAT_VERSION = 1
ROLES = {"system", "user", "assistant"}


class ExportFormatError(ValueError):
    """A file that is not a conversation export, with what is wrong."""


class AlreadyImported(Exception):
    """The conversation in an export is in the history already."""

    def __init__(self, conversation_id: int) -> None:
        super().__init__(f"already in the history as conversation {conversation_id}")
        self.conversation_id = conversation_id


def to_markdown(conv: Conversation, messages: list[Message]) -> str:
    """A conversation as a Markdown document: the path shown (each message that has
    other versions says which it is), and the conversation's own settings."""
    out = [f"# {conv.title}", ""]
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(conv.created_at))
    out += [f"*{created}, {len(messages)} messages*", ""]
    if conv.settings:
        shown = ", ".join(f"{k}: {v}" for k, v in conv.settings.items())
        out += [f"*Settings: {shown}*", ""]
    for m in messages:
        if m.role == "system" and not m.content:  # a system prompt taken away (F4)
            continue
        out.append(f"## {m.role.capitalize()}")
        out.append("")
        if m.version[1] > 1:
            out += [f"*version {m.version[0]} of {m.version[1]}*", ""]
        out.append(m.content)
        out.append("")
        if m.role == "assistant":
            figures = reply_meta_dict(m.meta)
            if "model" in figures:
                figures["model"] = ModelRef.parse(figures["model"]).name
            notes = [f"{k}: {v}" for k, v in figures.items() if k != "sampling"]
            if m.status != "complete":
                notes.insert(0, m.status)
            if notes:
                out += [f"> {' · '.join(str(n) for n in notes)}", ""]
    return "\n".join(out).rstrip() + "\n"


def to_json(conv: Conversation, messages: list[Message]) -> str:
    """A conversation as JSON, with every field, to import again (the path shown;
    each message says which of its versions it is)."""
    data = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "title": conv.title,
        "renamed": conv.renamed,
        "created_at": conv.created_at,
        "settings": conv.settings,
        "messages": [
            {
                "role": m.role,
                "content": m.content,
                "created_at": m.created_at,
                "status": m.status,
                "meta": reply_meta_dict(m.meta),
                "version": list(m.version),
            }
            for m in messages
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


def import_json(store: Store, text: str, *, again: bool = False) -> int:
    """Store the conversation in an export; its new id.

    Raises:
        ExportFormatError: the text is not a llamatui conversation export.
        AlreadyImported: the same conversation (title, and every message's role,
            text and time) is in the history already, and `again` is not set.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ExportFormatError(f"not JSON: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ExportFormatError("not a llamatui conversation export")
    raw = data.get("messages")
    if not isinstance(raw, list):
        raise ExportFormatError("the export has no message list")
    fields = set(asdict(ReplyMeta()))
    messages = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise ExportFormatError(f"message {i + 1} has no valid role")
        if not isinstance(m.get("content"), str):
            raise ExportFormatError(f"message {i + 1} has no text")
        meta: dict[str, Any] = m.get("meta") or {}
        status = m.get("status", "complete")
        messages.append(
            Message(
                id=0,
                conversation_id=0,
                role=m["role"],
                content=m["content"],
                created_at=float(m.get("created_at") or time.time()),
                status=status if status in STATUSES else "complete",
                meta=ReplyMeta(**{k: v for k, v in meta.items() if k in fields}),
            )
        )
    title = data.get("title")
    title = title if isinstance(title, str) and title else "Imported conversation"
    if not again and (same := _same_conversation(store, title, messages)) is not None:
        raise AlreadyImported(same)
    settings = data.get("settings")
    return store.import_conversation(
        title,
        messages,
        renamed=bool(data.get("renamed")),
        settings=settings if isinstance(settings, dict) else None,
    )


def _same_conversation(store: Store, title: str, messages: list[Message]) -> int | None:
    """A stored conversation with this title and these messages, if there is one."""

    def key(ms: list[Message]) -> list[tuple[str, str, int]]:
        return [(m.role, m.content, round(m.created_at)) for m in ms]

    wanted = key(messages)
    for conv in store.conversations(limit=100_000):
        if conv.title == title and key(store.messages(conv.id)) == wanted:
            return conv.id
    return None
