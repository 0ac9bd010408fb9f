"""The worker side of a chat session: the methods that block on the engine or the
disk. They change nothing the UI reads: they report through `emit`, and the UI
thread folds each event in with `ChatSession.apply` before drawing it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from llamatui.engines.handle import EngineDied
from llamatui.engines.protocol import ModelInfo, estimate_tokens
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage
from llamatui.tui.chat import events as ev
from llamatui.tui.chat.context import fit_context, reply_room
from llamatui.tui.chat.engines import STOPPED_OR_USER_ERRORS, USER_ERRORS, Stopped
from llamatui.tui.chat.loader import Loader
from llamatui.tui.chat.pacer import Pacer
from llamatui.tui.chat.reply import ReplyJob, save_start, stream_reply
from llamatui.tui.chat.sampling import ChatSettings
from llamatui.tui.config import Profile
from llamatui.tui.history.status import ReplyStatus
from llamatui.tui.history.store import Store, StoreError
from llamatui.tui.settings import Settings


class SessionWorkers:
    """What a session's workers run (`ChatSession` holds the state they read)."""

    settings: Settings
    store: Store | None
    emit: Callable[[ev.Event], None]
    profiles: dict[str, Profile]
    loader: Loader
    generation: int
    system: str | None
    chat: ChatSettings
    _pacer: Pacer

    def model_ref(self) -> ModelRef:
        raise NotImplementedError

    def load(self, restart: bool = False) -> None:
        """Start the engine (again, when restart) and load the model."""
        gen = self.generation
        try:
            if restart:
                self.loader.reset()
            self.ensure_loaded(gen)
        except USER_ERRORS as e:
            self.emit(ev.LoadFailed(str(e), self.loader.cancelled == gen, generation=gen))

    def ensure_loaded(self, gen: int, stop: threading.Event | None = None) -> ModelInfo:
        """Load the model the user asked for, with its profile, unless it is loaded."""
        ref = self.model_ref()
        profile = self.profiles.get(ref.name, Profile())
        return self.loader.ensure(ref, profile, self.settings.load_options(ref, profile), gen, stop)

    def run_reply(self, job: ReplyJob) -> None:
        """Save the prompt, load if needed, fit the context, and stream the reply."""
        gen = self.generation
        if self.store is not None:
            save_start(self.store, job, self.emit, self.system or "", self.chat.to_data())
        try:
            info = self.ensure_loaded(gen, job.stop)
            if job.stop.is_set():
                raise Stopped
            handle = self.loader.handle
            assert handle is not None
            room = reply_room(info.n_ctx, job.sampling.max_tokens)
            fitted = fit_context(
                job.messages,
                self._counter(info),
                info.n_ctx,
                room,
                self.settings.context_policy,
                continuing=job.continuing,
            )
        except STOPPED_OR_USER_ERRORS as e:
            stopped = isinstance(e, Stopped) or job.stop.is_set()
            if not job.continuing and job.reply_id is not None and self.store is not None:
                try:  # nothing was generated: the stored reply says why it is empty
                    status: ReplyStatus = "stopped" if stopped else "interrupted"
                    self.store.finish_reply(job.reply_id, "", status, job.meta)
                except StoreError as se:
                    self.emit(ev.SaveFailed(f"The history could not be updated: {se}."))
            text = job.continue_text or ""
            if stopped:
                self.emit(ev.ReplyEnded(None, text))
            else:
                died = isinstance(e, EngineDied)  # kept: a continuation that sent nothing
                self.emit(ev.ReplyFailed(str(e), died, text, kept=job.continuing))
            return
        if fitted.dropped > job.dropped_before:
            self.emit(ev.ContextTrimmed(fitted.dropped, info.n_ctx))
        stream_reply(
            handle,
            job,
            fitted.messages,
            store=self.store,
            pacer=self._pacer,
            emit=self.emit,
            errors=USER_ERRORS,
        )

    def _counter(self, info: ModelInfo) -> Callable[[list[ChatMessage]], int]:
        """The engine's own count where it has one, else an estimate."""
        handle = self.loader.handle
        if info.capabilities.count_tokens and handle is not None:
            return handle.count_tokens
        return estimate_tokens

    def count(self, messages: list[ChatMessage]) -> None:
        """Count what the next prompt will take (an engine round trip)."""
        if (info := self.loader.loaded) is None:
            return
        try:
            tokens = self._counter(info)(messages)
        except USER_ERRORS as e:  # a loading engine gives no count: the next will do
            if isinstance(e, EngineDied):  # found dead here: told (the watch cannot be)
                self.emit(ev.EngineStopped(e.reason, self.generation))
            return
        self.emit(ev.ContextCounted(tokens, exact=info.capabilities.count_tokens))

    def close(self) -> None:
        """End the engine; its memory comes back."""
        self.loader.close()
