"""A deterministic stand-in for the engine process, for UI snapshots only."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from llamatui.engines.base import (
    Delta,
    LoadOptions,
    MemoryUse,
    ModelInfo,
    ReplyStats,
    SamplingParams,
)
from llamatui.engines.host import EngineClient
from llamatui.engines.meters import GpuSample, Sample, Sampler
from llamatui.engines.templates import ChatMessage

FAKE_REPLY = (
    "Here is a **bold** answer with a list:\n\n- one\n- two\n\n"
    "```python\ndef hello():\n    return 'world'\n```\n"
)


class FakeClient(EngineClient):
    """Replies with fixed text, word by word; no process, no model."""

    def __init__(self, reply: str = FAKE_REPLY, step: threading.Event | None = None) -> None:
        super().__init__("fake")
        self.reply = reply
        self.step = step
        """When set, each word waits for this event (the test releases it)."""
        self._running = False

    @property
    def alive(self) -> bool:
        return self._running

    def start(self) -> None:
        self._running = True

    def load(self, path: str | Path, options: LoadOptions, progress=None) -> ModelInfo:
        self._running = True
        return ModelInfo(
            path=str(path),
            name="fake-model.Q4_0",
            architecture="llama",
            n_ctx=options.n_ctx,
            n_ctx_train=8192,
            n_threads=2,
            template="model",
            size_bytes=1000,
        )

    def stream(
        self, messages: Sequence[ChatMessage], params: SamplingParams, continue_last: bool = False
    ) -> Iterator[Delta | ReplyStats]:
        self._cancel.clear()
        words = self.reply.split(" ")
        finish = "stop"
        n = 0
        for i, word in enumerate(words):
            if self.step is not None:
                self.step.wait(5)
            if self._cancel.is_set():
                finish = "cancelled"
                break
            n += 1
            yield Delta(word if i == 0 else " " + word, 1)
        yield ReplyStats(
            finish=finish,  # type: ignore[arg-type]
            prompt_tokens=42,
            prompt_evaluated=42,
            generated_tokens=n,
            ttft_s=0.05,
            tokens_per_s=123.4,
            context_used=42 + n,
            n_ctx=4096,
        )

    def supports_gpu_offload(self) -> bool:
        return False

    def memory(self) -> MemoryUse:
        return MemoryUse(
            rss=300 * 2**20, weights=90 * 2**20, kv_cache=45 * 2**20, compute=100 * 2**20
        )

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages)

    def close(self, timeout: float = 3.0) -> None:
        self._running = False


class FixedSampler(Sampler):
    """Meters frozen for snapshots: the same figures every time."""

    def __init__(self, gpus: tuple[GpuSample, ...] = ()) -> None:
        self.fixed_gpus = gpus

    def sample(self, engine_pid: int | None) -> Sample:
        return Sample(
            ram_used=6 * 2**30,
            ram_total=24 * 2**30,
            cpu_percent=42.0,
            engine_rss=300 * 2**20,
            gpus=self.fixed_gpus,
            gpu_note=None if self.fixed_gpus else "no GPU",
        )


TWO_GPUS = (
    GpuSample(0, "NVIDIA RTX 4090", 9 * 2**30, 24 * 2**30, 87, 71),
    GpuSample(1, "NVIDIA RTX 3090", 2 * 2**30, 24 * 2**30, 12, 45),
)
