"""Running one reply: the engine streams, the recorder saves, the pacer gathers text
into batches, and a sink receives them. No Textual: the screen's sink posts each
batch as a message; the session's tests collect them in a list.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llamatui.engines.handle import EngineDied, EngineHandle
from llamatui.engines.protocol import Delta, ReplyStats, SamplingParams
from llamatui.engines.templates import ChatMessage
from llamatui.tui.chat.events import (
    Event,
    PromptSaved,
    ReplyEnded,
    ReplyFailed,
    SaveFailed,
    TextStreamed,
)
from llamatui.tui.chat.pacer import Pacer
from llamatui.tui.chat.recorder import ReplyRecorder, meta_of
from llamatui.tui.chat.sanitize import strip_controls
from llamatui.tui.history.records import ReplyMeta
from llamatui.tui.history.status import STATUS_OF_FINISH
from llamatui.tui.history.store import LEAF, Store, StoreError


@dataclass
class ReplyJob:
    """One reply to make: what to send, how to sample, where to save it."""

    messages: list[ChatMessage]
    """The conversation to send, system prompt first, as it was when asked."""
    sampling: SamplingParams
    meta: ReplyMeta
    """What the stored reply says it came from (model, engine, sampling)."""
    prompt: str | None = None
    """The user's new message, to save before the reply starts; None to continue."""
    conversation_id: int | None = None
    """The stored conversation; None until its first message is saved."""
    reply_id: int | None = None
    """The stored reply; known once the prompt is saved (or when continuing)."""
    dropped_before: int = 0
    """Turns already left out of what the model sees, so only new trims are told."""
    continue_text: str | None = None
    """The reply being carried on; None for a new reply."""
    parent: int | None = LEAF
    """Where the new prompt, or a regenerated reply (no prompt, not continuing),
    hangs in the stored conversation: another version or branch; LEAF, at the end."""
    leaf_before: int | None = None
    """The end of the stored path before a regenerated reply was added (shown again
    if the new version ends with no text)."""
    interrupted: bool = False
    """The app is ending unasked (a hang-up): if the reply is cut, it was interrupted."""
    stop: threading.Event = field(default_factory=threading.Event)
    """Set when the user stops this reply (Esc, a switch, a restart); the worker
    checks it at each step, since an engine's own cancel covers only its stream."""

    @property
    def continuing(self) -> bool:
        """Whether this job carries on the last reply."""
        return self.continue_text is not None

    @property
    def regenerating(self) -> bool:
        """Whether this job makes another version of a reply (no new prompt)."""
        return self.prompt is None and not self.continuing


def save_start(
    store: Store,
    job: ReplyJob,
    emit: Callable[[Event], None],
    system: str,
    settings: dict[str, Any],
) -> None:
    """Save what a reply starts from, and tell the ids: a new prompt with its empty
    reply (a new conversation, on its first, with its system prompt and settings),
    or the empty new version of a reply. Nothing to save for a continuation."""
    try:
        if job.prompt is not None:
            cid, pid, rid = store.save_prompt(
                job.conversation_id, job.prompt, job.meta, system,
                parent=job.parent, settings=settings,
            )  # fmt: skip
        elif job.regenerating and job.conversation_id is not None:
            cid, pid = job.conversation_id, None
            conv = store.conversation(cid)
            job.leaf_before = conv.leaf_id if conv is not None else None
            rid = store.add_message(
                cid, "assistant", "", status="streaming", meta=job.meta, parent=job.parent
            )
        else:
            return
    except StoreError as e:
        emit(SaveFailed(f"Your message is not saved: {e}."))
        return
    job.reply_id = rid
    emit(PromptSaved(cid, rid, pid))


def stream_reply(
    handle: EngineHandle,
    job: ReplyJob,
    messages: list[ChatMessage],
    *,
    store: Store | None,
    pacer: Pacer,
    emit: Callable[[Event], None],
    errors: tuple[type[Exception], ...],
) -> None:
    """Stream the reply to `messages`, emitting paced batches, then how it ended.

    Model text loses its control characters here, once, before it is shown or saved.
    Whatever was generated is kept (on screen, in the history) however it ends.
    """
    recorder = ReplyRecorder(store, job.reply_id, time.monotonic())
    if job.continue_text:
        recorder.parts.append(job.continue_text)
    parts: list[str] = []
    n = 0
    stats: ReplyStats | None = None

    def flush() -> None:
        nonlocal n
        if parts:
            emit(TextStreamed("".join(parts), n))
            parts.clear()
            n = 0

    try:
        pacer.start(time.monotonic())
        handle.pace(pacer.interval)  # text gathered in the engine as long as here
        for item in handle.stream(messages, job.sampling, job.continuing):
            if isinstance(item, Delta):
                if job.stop.is_set():
                    handle.cancel()  # again: a stop before the stream began was cleared
                text = strip_controls(item.text)
                parts.append(text)
                n += item.n_tokens
                now = time.monotonic()
                if error := recorder.add(text, now):
                    emit(SaveFailed(error))
                if pacer.due(now):
                    flush()
                    interval = pacer.interval
                    pacer.posted(now)
                    if pacer.interval != interval:
                        handle.pace(pacer.interval)
            else:
                stats = item
        flush()
        if stats is None:
            raise EngineDied("it ended the reply without its figures")
        status = STATUS_OF_FINISH[stats.finish]
        if job.interrupted and stats.finish == "cancelled":
            status = "interrupted"
        if error := recorder.finish(status, meta_of(stats, job.meta)):
            emit(SaveFailed(error))
        emit(ReplyEnded(stats, recorder.text))
    except errors as e:
        flush()
        if error := recorder.finish("interrupted", job.meta):
            emit(SaveFailed(error))
        emit(ReplyFailed(str(e), isinstance(e, EngineDied), recorder.text))
    except Exception:
        # A bug: the screen's worker handler reports it; the stored reply must not
        # stay "streaming".
        flush()
        recorder.finish("interrupted", job.meta)
        raise
