"""What the history holds: conversations, messages and the figures of each reply."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from llamatui.tui.history.status import ReplyStatus


@dataclass
class ReplyMeta:
    """Where a reply came from and how it went."""

    model: str | None = None
    """The model's reference (`ModelRef` as text; a bare GGUF path in replies saved
    before references existed)."""
    engine: str | None = None
    """The engine's kind ("llamacpp"; "llama.cpp" in replies saved before the registry)."""
    sampling: dict[str, Any] | None = None
    prompt_tokens: int | None = None
    generated_tokens: int | None = None
    tokens_per_s: float | None = None
    ttft_s: float | None = None


@dataclass
class Message:
    """One stored message."""

    id: int
    conversation_id: int
    role: str
    content: str
    created_at: float
    status: ReplyStatus = "complete"
    meta: ReplyMeta = field(default_factory=ReplyMeta)
    parent_id: int | None = None
    """The message this one answers or follows; None for the first."""
    version: tuple[int, int] = (1, 1)
    """Which of its versions this is, and how many there are (regenerated replies,
    edited messages: those with the same parent and role), on a path read from the
    store."""


@dataclass
class Conversation:
    """One stored conversation (without its messages)."""

    id: int
    title: str
    created_at: float
    updated_at: float
    renamed: bool = False
    leaf_id: int | None = None
    """The last message of the path shown (versions and branches chosen)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The conversation's own settings (`ChatSettings` as data)."""


@dataclass
class SearchHit:
    """A message that matched a search, with a snippet around the match."""

    conversation_id: int
    conversation_title: str
    message_id: int
    role: str
    snippet: str


def title_from_prompt(prompt: str, limit: int = 60) -> str:
    """A one-line title from the first prompt of a conversation."""
    line = " ".join(prompt.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def reply_meta_dict(meta: ReplyMeta) -> dict[str, Any]:
    """A reply's figures as plain data, without the empty ones."""
    return {k: v for k, v in asdict(meta).items() if v is not None}
