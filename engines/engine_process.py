"""The engine process's side of the pipe: answer the app's requests with one engine.

`ProcessHandle` (engines/host.py) starts this in a spawned child and talks to it.
Requests are tuples `(op, *args)`; replies are `("ok", value)`, `("progress",
fraction, note)`, `("delta", text, n_tokens)`, `("done", stats)` or
`("error", kind, *details)`.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from llamatui.engines import registry
from llamatui.engines.gguf import ModelFileError
from llamatui.engines.protocol import (
    ContextOverflow,
    Delta,
    Engine,
    EngineError,
    Progress,
    SamplingParams,
    Unsupported,
)
from llamatui.engines.templates import ChatMessage, TemplateError

# The child sends what it has at most this often by default: the UI posts text at
# most every 100 ms anyway, and each message wakes the app's process (one per token:
# ~1% of a core; measured in the generation worker, 0.33% of a core at 50 ms, 0.27%
# at 100). The app asks for its own pace (ProcessHandle.pace), up to MAX_FLUSH_S.
FLUSH_S = 0.1
MAX_FLUSH_S = 0.24
PACE_MARGIN_S = 0.02


def _redirect_output(log_path: str) -> None:
    """Point fds 1 and 2 at the log file, before llama.cpp can print anything."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def serve(conn: Connection, cancel: Any, kind: str, log_path: str, pace: Any = None) -> None:
    """The engine process: answer requests until the pipe closes."""
    _redirect_output(log_path)
    # Ctrl+C in the terminal goes to the whole process group; the app decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a hang-up: the app ends it in order
    engine = registry.get(kind).make_engine()
    while True:
        try:
            op, *args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if op == "stream":
                _stream(conn, engine, cancel, pace, *args)
            elif op == "load":
                ref, options = args
                conn.send(("ok", engine.load(ref, options, _progress_sender(conn))))
            elif op == "count_tokens":
                conn.send(("ok", engine.count_tokens(*args)))
            elif op == "memory":
                conn.send(("ok", engine.memory()))
            elif op == "shutdown":
                engine.unload()
                conn.send(("ok", None))
                return
            else:
                conn.send(("error", "engine", f"unknown request {op!r}"))
        except (BrokenPipeError, EOFError):
            return
        except ModelFileError as e:
            conn.send(("error", "model_file", e.path, e.reason))
        except Unsupported as e:
            conn.send(("error", "unsupported", str(e)))
        except ContextOverflow as e:
            conn.send(("error", "context", e.prompt_tokens, e.n_ctx))
        except (EngineError, TemplateError) as e:
            conn.send(("error", "engine", str(e)))
        except Exception as e:  # anything else is a bug: log it, keep serving
            traceback.print_exc()
            sys.stderr.flush()
            conn.send(("error", "engine", f"{type(e).__name__}: {e}"))


def _progress_sender(conn: Connection) -> Progress:
    """Send load progress to the app, in steps of at least 2% (a note at once)."""
    last = [-1.0]

    def send(fraction: float, note: str = "") -> None:
        if note or fraction - last[0] >= 0.02 or fraction >= 1.0:
            last[0] = fraction
            conn.send(("progress", fraction, note))

    return send


def _stream(
    conn: Connection,
    engine: Engine,
    cancel: Any,
    pace: Any,
    messages: Sequence[ChatMessage],
    params: SamplingParams,
    continue_last: bool = False,
) -> None:
    """Stream a reply to the app, gathering deltas for `pace.value` seconds (the
    app's pace, shared memory: it may change while the reply streams)."""
    parts: list[str] = []
    n = 0
    last = 0.0
    try:
        for item in engine.stream(messages, params, cancel, continue_last):
            if isinstance(item, Delta):
                parts.append(item.text)
                n += item.n_tokens
                now = time.perf_counter()
                if now - last >= (pace.value if pace is not None else FLUSH_S):
                    conn.send(("delta", "".join(parts), n))
                    parts.clear()
                    n = 0
                    last = now
            else:
                if parts:
                    conn.send(("delta", "".join(parts), n))
                    parts.clear()
                conn.send(("done", item))
    finally:
        # An engine that fails mid-reply: what it generated still reaches the app
        # before the error does.
        if parts:
            conn.send(("delta", "".join(parts), n))
