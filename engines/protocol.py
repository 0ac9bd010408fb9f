"""The engine protocol and the values that cross the engine boundary.

Everything here is plain data (frozen dataclasses of str/int/float) so it pickles
across the pipe between the app and an engine process, and means the same for
every engine: llama.cpp in its own process, exllama on a GPU, a remote server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from threading import Event
from typing import Any, Literal, Protocol

from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage

FinishReason = Literal["stop", "length", "context", "cancelled"]

Progress = Callable[[float, str], None]
"""How a load reports: the fraction loaded (0 to 1), and a note on what is happening
when it is more than reading weights ("compiling exllamav3's CUDA extension, 1:05"),
else ""."""

CTX_MIN = 128
"""The smallest context anyone may ask for, on the command line, in a profile or a dialog."""


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model: the options every engine takes, and the engine's own."""

    n_ctx: int = 4096
    """Context size in tokens; capped at what the model was trained for."""
    chat_format: str | None = None
    """A named chat format to use instead of the model's own template."""
    engine: Mapping[str, Any] = field(default_factory=dict)
    """Options of the engine that runs the model, by the names its registry entry
    declares (llama.cpp: `threads`, `gpu_layers`), already validated."""


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
    stop: tuple[str, ...] = ()
    """Texts that end the reply where they appear; they are not part of it."""


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do for a loaded model; the UI asks and falls back."""

    count_tokens: bool = True
    """Exact prompt token counts with the model's own tokenizer (else an estimate)."""
    continue_reply: bool = True
    """Carry on the last assistant message where it was cut."""
    gpu_offload: bool = False
    """Layers can be put on a GPU (a llama.cpp build with CUDA, exllama)."""


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model is."""

    ref: ModelRef
    name: str
    architecture: str
    n_ctx: int
    n_ctx_train: int
    template: str
    """Where the chat template came from: "model", or a named format."""
    size_bytes: int
    capabilities: Capabilities = field(default_factory=Capabilities)
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
class DeviceMemory:
    """The loaded model's share of one device's memory, in bytes."""

    device: str
    """"cpu" for system RAM, "cuda:N" for a GPU."""
    weights: int = 0
    """The model's tensors."""
    kv_cache: int = 0
    """Keys and values for every context cell."""
    compute: int = 0
    """Compute buffers (reserved, partly touched)."""


@dataclass(frozen=True)
class MemoryUse:
    """Memory of the engine, in bytes: its process and the model's share per device."""

    rss: int
    """Resident memory of the engine's process (0 when it has none of its own)."""
    devices: tuple[DeviceMemory, ...] = ()

    @property
    def weights(self) -> int:
        """The model's tensors, on every device."""
        return sum(d.weights for d in self.devices)

    @property
    def kv_cache(self) -> int:
        """The KV cache, on every device."""
        return sum(d.kv_cache for d in self.devices)

    @property
    def compute(self) -> int:
        """Compute buffers, on every device."""
        return sum(d.compute for d in self.devices)


class Engine(Protocol):
    """An inference engine: one model at a time, one owner (a process or a handle)."""

    name: str

    def load(
        self,
        ref: ModelRef,
        options: LoadOptions,
        progress: Progress | None = None,
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
        """Tokens of the prompt these messages render to (when the engine can)."""

    def unload(self) -> None:
        """Free the model."""

    def memory(self) -> MemoryUse:
        """Memory in use now."""


class EngineError(Exception):
    """An engine failed in a way a user should hear about."""


class ContextOverflow(EngineError):
    """The prompt alone fills the context."""

    def __init__(self, prompt_tokens: int, n_ctx: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx
        super().__init__(
            f"the conversation is {prompt_tokens:,} tokens and the context holds "
            f"{n_ctx:,}: start a new conversation or load with a larger context"
        )


def generation_rate(generated: int, t_first: float, t_end: float) -> float:
    """Tokens per second after the first token (the first waits for the prompt)."""
    return (generated - 1) / (t_end - t_first) if generated > 1 and t_end > t_first else 0.0


class Unsupported(EngineError):
    """The engine lacks a capability that was asked for; the message says which."""


def estimate_tokens(messages: Sequence[ChatMessage]) -> int:
    """A rough prompt size for engines that cannot count: ~4 characters a token,
    plus a few tokens of template per message. Shown as an estimate."""
    return sum(len(m["content"]) // 4 + 4 for m in messages)
