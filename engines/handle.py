"""The one handle the UI talks to, whatever runs the model behind it.

A local engine runs in a process of its own (`engines.host.ProcessHandle`); an
engine that needs no process of its own (a remote server's client, the scripted
engine of the tests) runs in `InProcessHandle`. Both are safe to call from worker
threads: a lock makes each request atomic.
"""

from __future__ import annotations

import enum
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from llamatui.engines.gguf import ModelFileError
from llamatui.engines.protocol import (
    Delta,
    Engine,
    EngineError,
    LoadOptions,
    MemoryUse,
    ModelInfo,
    Progress,
    ReplyStats,
    SamplingParams,
)
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage, TemplateError

log = logging.getLogger(__name__)
CLOSE_WAIT_S = 3.0


@contextmanager
def _engine_errors(kind: str) -> Iterator[None]:
    """What an in-process engine raises, as the errors a process handle raises: a
    bug in it must not escape as something the UI does not expect."""
    try:
        yield
    except (EngineError, ModelFileError):
        raise
    except TemplateError as e:
        raise EngineError(str(e)) from e
    except Exception as e:
        log.exception("the %s engine failed", kind)
        raise EngineError(f"the {kind} engine failed: {type(e).__name__}: {e}") from e


class EngineState(enum.Enum):
    """What the engine is doing, as the status line shows it."""

    IDLE = "idle"
    """Nothing is loaded (before the first load, or after a cancelled one)."""
    LOADING = "loading"
    READY = "ready"
    GENERATING = "generating"
    STOPPED = "stopped"
    """The engine ended (killed, crashed); the next message starts it again."""
    FAILED = "failed"
    """The model could not be loaded."""


class EngineDied(EngineError):
    """The engine ended while it was needed."""

    def __init__(self, reason: str, exitcode: int | None = None) -> None:
        self.reason = reason
        self.exitcode = exitcode
        super().__init__(f"the engine stopped: {reason}")


class EngineHandle(ABC):
    """The app's handle on one engine."""

    kind: str
    """The engine's kind in the registry."""

    @property
    def pid(self) -> int | None:
        """The engine's own process, whose memory the meters show; None when the
        engine has no process of its own."""
        return None

    @property
    @abstractmethod
    def alive(self) -> bool:
        """Whether the engine is up (a model may or may not be loaded)."""

    def wait_ended(self) -> str | None:
        """Block until the engine's process ends on its own (killed, crashed); why it
        did. None at once where there is no process to watch, and None when it was
        ended on purpose (closed, a load cancelled)."""
        return None

    @abstractmethod
    def load(
        self,
        ref: ModelRef,
        options: LoadOptions,
        progress: Progress | None = None,
    ) -> ModelInfo:
        """Load a model, starting the engine if needed.

        Raises:
            ModelFileError: the model's file is wrong, with the reason.
            EngineError: the engine could not load it (EngineDied when it ended).
        """

    def pace(self, interval_s: float) -> None:
        """Deltas are shown this often: an engine in a process of its own may
        gather them that long before sending (each message it sends wakes the
        app). Others ignore it."""
        return None

    @abstractmethod
    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        continue_last: bool = False,
    ) -> Iterator[Delta | ReplyStats]:
        """Generate a reply: deltas, then one ReplyStats.

        Raises:
            EngineDied: the engine ended; deltas already yielded stand.
            EngineError: the engine could not generate.
        """

    @abstractmethod
    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the prompt these messages render to.

        Raises:
            Unsupported: the engine cannot count (see ModelInfo.capabilities).
        """

    @abstractmethod
    def memory(self) -> MemoryUse:
        """The engine's memory now."""

    @abstractmethod
    def cancel(self) -> None:
        """Ask the running reply to stop; the engine checks before every token."""

    @abstractmethod
    def kill(self) -> None:
        """End the engine now, whatever it is doing (a load being cancelled); a call
        blocked on it raises EngineDied."""

    @abstractmethod
    def close(self) -> None:
        """End the engine and free the model's memory."""


class InProcessHandle(EngineHandle):
    """An engine that runs in the app's process, called from worker threads."""

    def __init__(self, kind: str, make: Callable[[], Engine]) -> None:
        self.kind = kind
        self._make = make
        self._engine: Engine | None = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._killed = False

    @property
    def alive(self) -> bool:
        return self._engine is not None and not self._killed

    def _require(self) -> Engine:
        if self._engine is None or self._killed:
            raise EngineDied("it is not running")
        return self._engine

    def load(
        self,
        ref: ModelRef,
        options: LoadOptions,
        progress: Progress | None = None,
    ) -> ModelInfo:
        with self._lock:
            self._killed = False
            with _engine_errors(self.kind):
                engine = self._engine = self._engine or self._make()
                info = engine.load(ref, options, progress)
                if self._killed:  # the load was cancelled while it ran
                    engine.unload()
                    raise EngineDied("it was stopped while loading")
            return info

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        continue_last: bool = False,
    ) -> Iterator[Delta | ReplyStats]:
        with self._lock:
            engine = self._require()
            self._cancel.clear()
            try:
                with _engine_errors(self.kind):
                    for item in engine.stream(messages, params, self._cancel, continue_last):
                        if self._killed:
                            raise EngineDied("it was ended while it was generating")
                        yield item
            finally:
                # A consumer that stops early stops the engine too.
                self._cancel.set()

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        with self._lock, _engine_errors(self.kind):
            return self._require().count_tokens(messages)

    def memory(self) -> MemoryUse:
        with self._lock, _engine_errors(self.kind):
            return self._require().memory()

    def cancel(self) -> None:
        self._cancel.set()

    def kill(self) -> None:
        self._killed = True
        self._cancel.set()

    def close(self) -> None:
        self._cancel.set()
        # A load cannot be interrupted in-process: past the wait, leave it to finish
        # on its own (its result is dropped) rather than hold the app's exit.
        locked = self._lock.acquire(timeout=CLOSE_WAIT_S)
        try:
            engine, self._engine = self._engine, None
            if engine is not None and locked:
                try:
                    engine.unload()
                except Exception as e:
                    log.warning("unloading %s: %s", self.kind, e)
            self._killed = not locked
        finally:
            if locked:
                self._lock.release()
