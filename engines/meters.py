"""Hardware meters: system RAM, the engine's resident memory, CPU use, and each
NVIDIA GPU's memory, utilisation and temperature (NVML through nvidia-ml-py, never
torch). No Textual here: the app samples from a worker thread and posts the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import psutil


@dataclass(frozen=True)
class GpuSample:
    """One GPU at one moment."""

    index: int
    name: str
    vram_used: int
    vram_total: int
    utilization: int
    """Percent of time the GPU was busy over the last sample period."""
    temperature: int
    """Degrees Celsius."""


@dataclass(frozen=True)
class Sample:
    """Everything the meters show, at one moment."""

    ram_used: int
    ram_total: int
    cpu_percent: float
    """All cores, 0-100."""
    engine_rss: int | None
    """The engine process's resident memory; None when it is not running."""
    gpus: tuple[GpuSample, ...] = ()
    gpu_note: str | None = None
    """Why there are no GPU meters ("no GPU"), when there are none."""


class Gpus(Protocol):
    """What the sampler needs from NVML (a fake one in tests)."""

    def read(self) -> tuple[GpuSample, ...]:
        """Every GPU now."""


class Nvml:
    """NVIDIA GPUs through NVML, or none: a machine without the driver says so once."""

    def __init__(self) -> None:
        self.note: str | None = None
        self._handles: list[object] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception:  # no library, no driver, no device: all mean "no GPU"
            self._handles = []
        if not self._handles:
            self.note = "no GPU"

    def read(self) -> tuple[GpuSample, ...]:
        """Every GPU now (a GPU that stops answering is left out)."""
        if not self._handles:
            return ()
        import pynvml

        out = []
        for i, h in enumerate(self._handles):
            try:
                mem = pynvml.nvmlDeviceGetMemoryInfo(h)
                util = pynvml.nvmlDeviceGetUtilizationRates(h)
                temp = pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)
                name = pynvml.nvmlDeviceGetName(h)
            except pynvml.NVMLError:
                continue
            out.append(
                GpuSample(
                    index=i,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    vram_used=int(mem.used),
                    vram_total=int(mem.total),
                    utilization=int(util.gpu),
                    temperature=int(temp),
                )
            )
        return tuple(out)


class Sampler:
    """Takes samples; one instance per sampling thread."""

    def __init__(self, gpus: Gpus | None = None) -> None:
        self.gpus: Gpus = gpus if gpus is not None else Nvml()
        self._proc: psutil.Process | None = None
        psutil.cpu_percent(None)  # the first call starts the measuring interval

    def sample(self, engine_pid: int | None) -> Sample:
        """The figures now; CPU use is since the previous sample."""
        vm = psutil.virtual_memory()
        rss = None
        if engine_pid is not None:
            try:
                if self._proc is None or self._proc.pid != engine_pid:
                    self._proc = psutil.Process(engine_pid)
                rss = self._proc.memory_info().rss
            except psutil.Error:
                self._proc = None
        gpus = self.gpus.read()
        note = getattr(self.gpus, "note", None) if not gpus else None
        return Sample(
            ram_used=vm.total - vm.available,
            ram_total=vm.total,
            cpu_percent=psutil.cpu_percent(None),
            engine_rss=rss,
            gpus=gpus,
            gpu_note=note,
        )
