"""The engine protocol and the values that cross the engine boundary.

Everything here is plain data (dataclasses of str/int/float) so it pickles across
the pipe between the app and the engine process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Event
from typing import Literal, Protocol

from llamatui.engines.templates import ChatMessage

FinishReason = Literal["stop", "length", "context", "cancelled"]


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model."""

    n_ctx: int = 4096
    """Context size in tokens; capped at what the model was trained for."""
    n_threads: int | None = None
    """CPU threads for generation; None means one per physical core."""
    n_gpu_layers: int = 0
    chat_format: str | None = None
    """A named chat format to use instead of the model's own template."""


@dataclass(frozen=True)
class SamplingParams:
    """How to pick each next token. Temperature 0 means greedy."""

    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    max_tokens: int = 1024
    seed: int | None = None


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model is."""

    path: str
    name: str
    architecture: str
    n_ctx: int
    n_ctx_train: int
    n_threads: int
    template: str
    """Where the chat template came from: "model", or a named format."""
    size_bytes: int
    notice: str | None = None
    """Something the user should know about this model (a template that failed)."""


@dataclass(frozen=True)
class Delta:
    """New reply text and how many tokens it holds."""

    text: str
    n_tokens: int


@dataclass(frozen=True)
class ReplyStats:
    """The figures of one finished reply."""

    finish: FinishReason
    prompt_tokens: int
    """Tokens in the whole prompt."""
    prompt_evaluated: int
    """Prompt tokens decoded for this reply (the rest came from the cache)."""
    generated_tokens: int
    ttft_s: float
    """Seconds from the request to the first reply token."""
    tokens_per_s: float
    """Generation speed after the first token."""
    context_used: int
    n_ctx: int


@dataclass(frozen=True)
class MemoryUse:
    """Memory of the engine process, in bytes."""

    rss: int
    """Resident memory of the whole engine process."""
    weights: int
    """The model's tensors."""
    kv_cache: int = 0
    """Keys and values for every context cell."""
    compute: int = 0
    """Compute buffers as llama.cpp reported them at load (reserved, partly touched)."""


class Engine(Protocol):
    """An inference engine that one process owns."""

    name: str

    def load(
        self,
        path: str | Path,
        options: LoadOptions,
        progress: Callable[[float], None] | None = None,
    ) -> ModelInfo:
        """Load a model, reporting the fraction loaded; raises ModelFileError or
        EngineError with a reason."""

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        cancel: Event,
        continue_last: bool = False,
    ) -> Iterator[Delta | ReplyStats]:
        """Generate a reply (or, with continue_last, more of the last assistant
        message): deltas, then one ReplyStats. Checks `cancel` per token."""

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the prompt these messages render to."""

    def unload(self) -> None:
        """Free the model."""

    def memory(self) -> MemoryUse:
        """Memory in use now."""

    def supports_gpu_offload(self) -> bool:
        """Whether models can be (partly) loaded onto a GPU."""


class EngineError(Exception):
    """An engine failed in a way a user should hear about."""
