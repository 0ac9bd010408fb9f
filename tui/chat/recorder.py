"""Saving a reply while it streams: a checkpoint at least once a second, then its end.

Used by the generation worker thread (the store gives each thread its own
connection). A failed save (a full disk, a locked database) is reported once and
saving stops for that reply; the reply itself goes on, on screen.
"""

from __future__ import annotations

from collections.abc import Callable

from llamatui.engines.protocol import ReplyStats
from llamatui.tui.history.records import ReplyMeta
from llamatui.tui.history.status import ReplyStatus
from llamatui.tui.history.store import Store, StoreError

CHECKPOINT_S = 1.0


class ReplyRecorder:
    """Keeps a stored reply in step with the text streamed so far."""

    def __init__(self, store: Store | None, message_id: int | None, start: float) -> None:
        self.store = store if message_id is not None else None
        self.message_id = message_id or 0
        self.parts: list[str] = []
        self._last = start

    @property
    def text(self) -> str:
        """The reply so far."""
        return "".join(self.parts)

    def add(self, text: str, now: float) -> str | None:
        """Add streamed text; checkpoint when one is due. An error message, once."""
        self.parts.append(text)
        if self.store is None or now - self._last < CHECKPOINT_S:
            return None
        self._last = now
        return self._save(lambda s: s.checkpoint_reply(self.message_id, self.text))

    def finish(self, status: ReplyStatus, meta: ReplyMeta) -> str | None:
        """Save the final text, how the reply ended and its figures."""
        return self._save(lambda s: s.finish_reply(self.message_id, self.text, status, meta))

    def _save(self, write: Callable[[Store], None]) -> str | None:
        if self.store is None:
            return None
        try:
            write(self.store)
        except StoreError as e:
            self.store = None
            return f"This reply is no longer being saved: {e}. It stays on screen."
        return None


def meta_of(stats: ReplyStats | None, base: ReplyMeta) -> ReplyMeta:
    """The reply's figures added to what was known when it started."""
    if stats is None:
        return base
    return ReplyMeta(
        model=base.model,
        engine=base.engine,
        sampling=base.sampling,
        prompt_tokens=stats.prompt_tokens,
        generated_tokens=stats.generated_tokens,
        tokens_per_s=round(stats.tokens_per_s, 2),
        ttft_s=round(stats.ttft_s, 4),
    )
