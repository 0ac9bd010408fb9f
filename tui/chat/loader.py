"""The engine a session talks to: its handle, the model it holds, and loading it.

Worker threads load through it, one at a time (a lock); the UI thread only asks it
to end a load under way (`kill_load`) or to stop a reply (`cancel`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from llamatui.engines.handle import EngineHandle
from llamatui.engines.protocol import EngineError, LoadOptions, ModelInfo, Progress
from llamatui.engines.refs import ModelRef
from llamatui.tui.chat import events as ev
from llamatui.tui.chat.engines import USER_ERRORS, HandleMaker, Stopped
from llamatui.tui.chat.recent import remember
from llamatui.tui.config import Profile


class Loader:
    """Loads models into engines, making a handle for each engine kind it meets."""

    def __init__(
        self,
        make_handle: HandleMaker,
        emit: Callable[[ev.Event], None],
        recent_path: Path | None = None,
    ) -> None:
        self.make_handle = make_handle
        self.emit = emit
        self.recent_path = recent_path
        self.handle: EngineHandle | None = None
        self.loaded: ModelInfo | None = None
        """The model the engine holds (written under the lock)."""
        self.loading = False
        """A worker is inside `handle.load` now (so Esc ends the engine)."""
        self.cancelled = -1
        """The generation whose load the user cancelled."""
        self._failed: tuple[ModelRef, int, str] | None = None
        """The last failed load: a reply does not try the same one again until the
        user asks for another (a restart or a switch is a new generation)."""
        self._lock = threading.Lock()
        self._watched: int | None = None
        """The engine process a thread waits on (`_watch`), to tell when it ends."""

    @property
    def alive(self) -> bool:
        """Whether the engine is up."""
        return self.handle is not None and self.handle.alive

    def ensure(
        self,
        ref: ModelRef,
        profile: Profile,
        options: LoadOptions,
        gen: int,
        stop: threading.Event | None = None,
    ) -> ModelInfo:
        """The loaded model: `ref` loaded now unless the engine holds it already.

        Raises:
            Stopped: `stop` was set while this waited for another load.
            EngineError, ModelFileError: the load failed, with the reason.
        """
        with self._lock:
            if stop is not None and stop.is_set():
                raise Stopped
            handle, loaded = self.handle, self.loaded
            if handle is not None and handle.alive and loaded is not None and loaded.ref == ref:
                return loaded
            if self._failed is not None and self._failed[:2] == (ref, gen):
                raise EngineError(self._failed[2])
            self.loaded = None
            if handle is None or handle.kind != ref.engine:
                if handle is not None:
                    handle.close()
                handle = self.handle = self.make_handle(ref)
            self.emit(ev.LoadStarted(ref.name, gen))
            self.loading = True
            try:
                info = handle.load(ref, options, self._progress(ref.name))
            except USER_ERRORS as e:
                if self.cancelled != gen:
                    self._failed = (ref, gen, str(e))
                raise
            finally:
                self.loading = False
            if self.recent_path is not None:
                remember(self.recent_path, ref)
            self.loaded = info
            self.emit(ev.ModelLoaded(info, profile, handle.memory(), gen))
            if handle.pid is not None and handle.pid != self._watched:
                self._watched = handle.pid
                watch = threading.Thread(target=self._watch, args=(handle, gen), daemon=True)
                watch.start()
            return info

    def _watch(self, handle: EngineHandle, gen: int) -> None:
        """Tell the session when the engine ends on its own while idle (killed, out of
        memory), which it would otherwise find out only at the next message."""
        reason = handle.wait_ended()
        if reason is not None and handle is self.handle:
            self.emit(ev.EngineStopped(reason, gen))

    def _progress(self, name: str) -> Progress:
        last = [0.0]

        def progress(fraction: float, note: str = "") -> None:
            now = time.monotonic()
            if now - last[0] >= 0.1 or fraction >= 1.0:  # 10 updates a second at most
                last[0] = now
                self.emit(ev.LoadProgress(name, fraction, note))

        return progress

    def reset(self) -> None:
        """End the engine (after any load under way), so the next load starts it anew."""
        with self._lock:
            if self.handle is not None:
                self.handle.close()
            self.loaded = None

    def kill_load(self, gen: int, *, cancelled: bool) -> bool:
        """End the engine if a load is under way (the one sure way to stop llama.cpp
        mid-load); whether one was. `cancelled` marks it the user's cancel."""
        if not self.loading or self.handle is None:
            return False
        if cancelled:
            self.cancelled = gen
        self.handle.kill()
        return True

    def cancel(self) -> None:
        """Ask the reply streaming now to stop."""
        if self.handle is not None:
            self.handle.cancel()

    def close(self) -> None:
        """End the engine; its memory comes back."""
        if self.handle is not None:
            self.handle.close()
