"""Run a local engine in a spawned child process and talk to it over a pipe.

A model that makes llama.cpp `abort()`, a CUDA error or the out-of-memory killer
ends the child, not the app: the client sees the pipe close and raises
`EngineDied` with the reason it can tell. Ending the child on a model switch gives
its RAM and VRAM back for certain. The child's stdout and stderr go to a log file,
so nothing llama.cpp prints reaches the terminal.

Requests are tuples `(op, *args)`; replies are `("ok", value)`,
`("delta", text, n_tokens)`, `("done", stats)` or `("error", kind, *details)`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from llamatui.engines.engine_process import FLUSH_S, MAX_FLUSH_S, PACE_MARGIN_S, serve
from llamatui.engines.gguf import ModelFileError
from llamatui.engines.handle import EngineDied, EngineHandle
from llamatui.engines.protocol import (
    ContextOverflow,
    Delta,
    EngineError,
    LoadOptions,
    MemoryUse,
    ModelInfo,
    Progress,
    ReplyStats,
    SamplingParams,
    Unsupported,
)
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage

# The engine log is moved aside to `.1` when it grows past this at an engine start.
LOG_ROTATE_BYTES = 8 * 1024 * 1024


def prepare() -> None:
    """Start multiprocessing's resource tracker (which the cancel Event needs) now.

    Call before a UI takes over stdout and stderr: the tracker is handed
    `sys.stderr.fileno()` when it starts, and started from inside a Textual app,
    whose stderr is a capture object, it would get an invalid descriptor and no
    engine process could start.
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


def _rotate(log_path: str) -> None:
    """Keep one old engine log: llama.cpp writes a few hundred kB per load."""
    try:
        if os.path.getsize(log_path) > LOG_ROTATE_BYTES:
            os.replace(log_path, log_path + ".1")
    except OSError:
        pass  # no log yet, or /dev/null


def _death_reason(exitcode: int | None, log_path: str) -> str:
    if exitcode is None:
        reason = "it stopped answering"
    elif exitcode < 0:
        sig = signal.Signals(-exitcode)
        if sig == signal.SIGKILL:
            # Nothing is logged on SIGKILL; the OOM killer is the usual sender.
            return "it was killed (SIGKILL); the system may have run out of memory"
        reason = {
            signal.SIGABRT: "llama.cpp aborted",
            signal.SIGSEGV: "it crashed (segmentation fault)",
            signal.SIGTERM: "it was terminated (SIGTERM)",
        }.get(sig, f"it was ended by signal {sig.name}")
    else:
        reason = f"it exited with code {exitcode}"
    last = _last_log_line(log_path)
    if last:
        reason += f"; the engine log ends with: {last}"
    return reason


def _last_log_line(log_path: str) -> str:
    try:
        with open(log_path, "rb") as f:
            f.seek(max(0, os.path.getsize(log_path) - 4096))
            lines = f.read().decode("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    last = lines[-1].strip() if lines else ""
    return "".join(ch for ch in last if ch.isprintable())[:200]


class ProcessHandle(EngineHandle):
    """The app's handle on one engine process. Safe to call from worker threads.

    One handle serves one process at a time; a lock makes each request/reply
    exchange atomic.
    """

    def __init__(self, kind: str = "llamacpp", log_path: str | Path | None = None) -> None:
        self.kind = kind
        self.log_path = str(log_path) if log_path else os.devnull
        self._ctx = mp.get_context("spawn")
        self._cancel = self._ctx.Event()
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None
        self._ending = False
        """The process is being ended on purpose (close, kill)."""
        self._pace = self._ctx.Value("d", FLUSH_S, lock=False)
        """How long the engine process gathers deltas before sending them: shared
        with it, so that a reply follows the app's pace as it changes."""

    def pace(self, interval_s: float) -> None:
        # A little over the app's interval (text that came a few milliseconds short
        # of it would wait for the next: twice the interval between posts), never
        # over MAX_FLUSH_S. Esc's stop and the reply's end are not held: a cancel
        # ends the stream, and what is gathered goes with its end.
        self._pace.value = min(max(FLUSH_S, interval_s + PACE_MARGIN_S), MAX_FLUSH_S)

    @property
    def pid(self) -> int | None:
        """The engine process id, while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        """Whether the engine process is running."""
        return self._proc is not None and self._proc.is_alive()

    def start(self) -> None:
        """Start the engine process (a no-op when it runs)."""
        if self.alive:
            return
        self._discard()
        _rotate(self.log_path)
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=serve,
            args=(child, self._cancel, self.kind, self.log_path, self._pace),
            name=f"llamatui-engine ({self.kind})",
            daemon=True,
        )
        try:
            proc.start()
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self._proc, self._conn, self._ending = proc, parent, False

    def wait_ended(self) -> str | None:
        proc = self._proc
        if proc is None:
            return None
        # The process's sentinel, not join(): others may be joining it at the same time.
        wait([proc.sentinel])
        # A request under way finds the death itself (and reaps the process); close()
        # and kill() mark theirs. Either way, it is not for this to tell.
        with self._lock:
            if self._ending or proc is not self._proc:
                return None
            proc.join(timeout=2)
            return _death_reason(proc.exitcode, self.log_path)

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None:
            self._proc.join(timeout=0)
        self._conn = None
        self._proc = None

    def _died(self) -> EngineDied:
        proc = self._proc
        exitcode = None
        if proc is not None:
            proc.join(timeout=2)
            exitcode = proc.exitcode
        self._discard()
        return EngineDied(_death_reason(exitcode, self.log_path), exitcode)

    def _send(self, request: tuple[Any, ...]) -> None:
        if self._conn is None:
            raise EngineDied("it is not running", None)
        try:
            self._conn.send(request)
        except (OSError, EOFError):
            raise self._died() from None

    def _recv(self) -> tuple[Any, ...]:
        assert self._conn is not None
        try:
            reply: tuple[Any, ...] = self._conn.recv()
        except (OSError, EOFError):
            raise self._died() from None
        if reply[0] == "error":
            if reply[1] == "model_file":
                raise ModelFileError(reply[2], reply[3])
            if reply[1] == "unsupported":
                raise Unsupported(reply[2])
            if reply[1] == "context":
                raise ContextOverflow(reply[2], reply[3])
            raise EngineError(reply[2])
        return reply

    def _call(self, op: str, *args: Any) -> Any:
        with self._lock:
            self._send((op, *args))
            return self._recv()[1]

    def load(
        self,
        ref: ModelRef,
        options: LoadOptions,
        progress: Progress | None = None,
    ) -> ModelInfo:
        """Load a model in the engine process, starting it if needed.

        Args:
            progress: called with the fraction loaded (0 to 1) and a note as the load goes.
        """
        self.start()
        with self._lock:
            self._send(("load", ref, options))
            while True:
                reply = self._recv()
                if reply[0] == "progress":
                    if progress is not None:
                        progress(reply[1], reply[2])
                    continue
                info: ModelInfo = reply[1]
                return info

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the prompt these messages render to."""
        n: int = self._call("count_tokens", list(messages))
        return n

    def memory(self) -> MemoryUse:
        """Memory of the engine process."""
        use: MemoryUse = self._call("memory")
        return use

    def cancel(self) -> None:
        """Ask the running reply to stop; the engine checks before every token."""
        self._cancel.set()

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        continue_last: bool = False,
    ) -> Iterator[Delta | ReplyStats]:
        """Generate a reply: deltas, then one ReplyStats.

        Raises:
            EngineDied: the engine process ended; deltas already yielded stand.
            EngineError: the engine could not generate.
        """
        with self._lock:
            self._cancel.clear()
            self._send(("stream", list(messages), params, continue_last))
            finished = False
            try:
                while True:
                    reply = self._recv()
                    if reply[0] == "delta":
                        yield Delta(reply[1], reply[2])
                    else:
                        finished = True
                        yield reply[1]
                        return
            except EngineError:
                finished = True
                raise
            finally:
                if not finished:
                    # The consumer stopped early: stop the engine and drain the
                    # stream so the next request starts in step.
                    self._cancel.set()
                    while self._conn is not None and self._recv()[0] == "delta":
                        pass

    def kill(self) -> None:
        """End the engine process now, whatever it is doing (a load being cancelled).

        A call blocked on the engine then raises EngineDied.
        """
        proc = self._proc
        if proc is not None and proc.is_alive():
            self._ending = True
            proc.kill()

    def close(self, timeout: float = 3.0) -> None:
        """End the engine process, politely first; its memory is freed."""
        proc, conn = self._proc, self._conn
        if proc is None:
            return
        self._ending = True
        self._cancel.set()
        if conn is not None and proc.is_alive() and self._lock.acquire(timeout=timeout):
            try:
                conn.send(("shutdown",))
                if conn.poll(timeout):
                    conn.recv()
            except (OSError, EOFError):
                pass
            finally:
                self._lock.release()
        proc.join(timeout=timeout)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=timeout)
        self._discard()
