"""The scripted engine set up for UI tests and snapshots, and frozen meters."""

from __future__ import annotations

import itertools
import threading

from llamatui.engines.handle import InProcessHandle
from llamatui.engines.meters import GpuSample, Sample, Sampler
from llamatui.engines.refs import ModelRef
from llamatui.engines.scripted import ScriptedEngine
from llamatui.tui.chat.engines import HandleMaker
from llamatui.tui.settings import Settings

FAKE_REPLY = (
    "Here is a **bold** answer with a list:\n\n- one\n- two\n\n"
    "```python\ndef hello():\n    return 'world'\n```\n"
)
FAKE_MODEL = ModelRef("scripted", "fake-model.Q4_0")


def ticking_clock(step: float = 0.05):
    """A clock that moves `step` seconds each time it is read: fixed reply figures."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


def scripted(
    reply: str = FAKE_REPLY, step: threading.Event | None = None, delay_s: float = 0.0
) -> HandleMaker:
    """Handles on the scripted engine, in the app's process, whatever model is asked."""

    def make(ref: ModelRef) -> InProcessHandle:
        return InProcessHandle(
            "scripted",
            lambda: ScriptedEngine(
                reply, step=step, delay_s=delay_s, name="fake-model.Q4_0", clock=ticking_clock()
            ),
        )

    return make


def fake_settings(**kw) -> Settings:
    """Settings that name the scripted model."""
    return Settings(model=FAKE_MODEL, **kw)


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
