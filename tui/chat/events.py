"""What the session's workers report: plain values, no Textual.

A worker never changes the session's state; it emits these, and the UI thread
folds each into the session (`ChatSession.apply`) before it draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from llamatui.engines.protocol import MemoryUse, ModelInfo, ReplyStats
from llamatui.tui.config import Profile


@dataclass(frozen=True)
class LoadStarted:
    """The engine is loading a model."""

    name: str
    generation: int = 0
    """Which load the user asked for (`ChatSession.generation`)."""


@dataclass(frozen=True)
class LoadProgress:
    """How far the model has loaded (0 to 1), and what is happening if not only that."""

    name: str
    fraction: float
    note: str = ""


@dataclass(frozen=True)
class ModelLoaded:
    """The engine loaded the model."""

    info: ModelInfo
    profile: Profile
    memory: MemoryUse
    generation: int = 0


@dataclass(frozen=True)
class LoadFailed:
    """The model could not be loaded, or the user cancelled the load."""

    reason: str
    cancelled: bool = False
    generation: int = 0


@dataclass(frozen=True)
class EngineStopped:
    """The engine's process ended on its own (killed, crashed) while it held a model."""

    reason: str
    generation: int = 0


@dataclass(frozen=True)
class PromptSaved:
    """The prompt and its empty reply are in the history."""

    conversation_id: int
    reply_id: int
    prompt_id: int | None = None
    """The user's message (None for another version of a reply)."""


@dataclass(frozen=True)
class TextStreamed:
    """A batch of reply text, as the pacer gathered it."""

    text: str
    n_tokens: int


@dataclass(frozen=True)
class ContextTrimmed:
    """Older turns were left out so the conversation fits the context."""

    dropped: int
    n_ctx: int


@dataclass(frozen=True)
class ReplyEnded:
    """The reply ended: completed, cut or stopped. `text` is all of it; `stats` is
    None when it was stopped before the engine began it."""

    stats: ReplyStats | None
    text: str


@dataclass(frozen=True)
class ReplyFailed:
    """The reply could not be made, or the engine died making it; `text` is what
    came before."""

    reason: str
    engine_died: bool
    text: str
    kept: bool = False
    """Nothing changed: a continuation failed before it began (the reply stays)."""


@dataclass(frozen=True)
class ContextCounted:
    """Tokens the next prompt will take; `exact` is False for an estimate."""

    tokens: int
    exact: bool = True


@dataclass(frozen=True)
class SaveFailed:
    """The history could not be written; the message says what it means."""

    reason: str


LOAD_EVENTS = (LoadStarted, ModelLoaded, LoadFailed, EngineStopped)
"""The events of one load: stale once the user asks for another."""

Event = (
    LoadStarted
    | LoadProgress
    | ModelLoaded
    | LoadFailed
    | EngineStopped
    | PromptSaved
    | TextStreamed
    | ContextTrimmed
    | ReplyEnded
    | ReplyFailed
    | ContextCounted
    | SaveFailed
)
