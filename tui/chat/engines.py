"""How the conversation core reaches an engine: the registry's handles, the default
model, and the errors a user should read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llamatui.engines import registry
from llamatui.engines.gguf import ModelFileError
from llamatui.engines.handle import EngineHandle
from llamatui.engines.models import default_model_path
from llamatui.engines.protocol import EngineError
from llamatui.engines.refs import ModelRef
from llamatui.tui.chat.context import ContextFull

# What loading or generating can raise that a user should read.
USER_ERRORS: tuple[type[Exception], ...] = (
    EngineError,
    ModelFileError,
    FileNotFoundError,
    ContextFull,
)


HandleMaker = Callable[[ModelRef], EngineHandle]
"""Makes the handle for a model's engine."""


class Busy(Exception):
    """The session cannot do that now; the message says why and what to do."""


class Stopped(Exception):
    """The user stopped the reply before it began (Esc, a switch, a restart)."""


STOPPED_OR_USER_ERRORS: tuple[type[Exception], ...] = (Stopped, *USER_ERRORS)


def default_model() -> ModelRef:
    """The bundled default model, on llama.cpp (FileNotFoundError when absent)."""
    return ModelRef("llamacpp", str(default_model_path()))


def registry_handle(ref: ModelRef, log_path: Path | None) -> EngineHandle:
    """The registry's handle for the model's engine, if that engine can run here.

    Raises:
        EngineError: no such engine, or it cannot run on this machine (and why).
    """
    spec = registry.get(ref.engine)
    why = spec.unavailable()
    if why is not None:
        raise EngineError(f"{ref.name} runs on {spec.label}, which {why}")
    return spec.make_handle(log_path)


# Told after the engine ended while it was needed, or on its own.
RESTART_HINT = (
    "\nYour conversation is kept. Send a message or press Ctrl+R to start the engine again."
)
