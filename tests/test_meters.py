"""The meters' sampler on this machine, without NVML, and with a fake two-GPU NVML."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import psutil
import pytest
from engine_refs import gguf

from llamatui.engines.host import ProcessHandle
from llamatui.engines.meters import GpuSample, Nvml, Sampler
from llamatui.engines.protocol import LoadOptions


class TwoGpus:
    note = None

    def read(self) -> tuple[GpuSample, ...]:
        return (
            GpuSample(0, "NVIDIA RTX 4090", 9 * 2**30, 24 * 2**30, 87, 71),
            GpuSample(1, "NVIDIA RTX 3090", 2 * 2**30, 24 * 2**30, 12, 45),
        )


def proc_rss(pid: int) -> int:
    """Resident memory from /proc, not psutil."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_sample_is_sane_on_this_machine(smollm2: Path, tmp_path: Path) -> None:
    client = ProcessHandle(log_path=tmp_path / "e.log")
    try:
        client.load(gguf(smollm2), LoadOptions(n_ctx=512, engine={"threads": 2}))
        sampler = Sampler()
        s = sampler.sample(client.pid)
        assert s.ram_total == psutil.virtual_memory().total
        assert 0 < s.ram_used < s.ram_total
        assert 0.0 <= s.cpu_percent <= 100.0
        assert client.pid is not None and s.engine_rss is not None
        assert abs(s.engine_rss - proc_rss(client.pid)) / proc_rss(client.pid) < 0.10
    finally:
        client.close()
    assert sampler.sample(None).engine_rss is None


class NoDriver(types.ModuleType):
    """pynvml on a machine without the NVIDIA driver: nvmlInit fails."""

    class NVMLError(Exception):
        pass

    def __init__(self) -> None:
        super().__init__("pynvml")

    def nvmlInit(self) -> None:
        raise self.NVMLError("NVML Shared Library Not Found")


def test_no_nvml_means_no_gpu_said_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", NoDriver())
    nvml = Nvml()
    assert nvml.read() == ()
    assert nvml.note == "no GPU"
    s = Sampler(nvml).sample(os.getpid())
    assert s.gpus == () and s.gpu_note == "no GPU"


def test_this_machine_is_read_as_it_is() -> None:
    """With or without a driver: GPUs with sane figures, or "no GPU" said once."""
    nvml = Nvml()
    gpus = nvml.read()
    if gpus:
        assert nvml.note is None
        assert all(g.vram_total > 0 and 0 <= g.vram_used <= g.vram_total for g in gpus)
        assert all(0 <= g.utilization <= 100 for g in gpus)
    else:
        assert nvml.note == "no GPU"


def test_fake_two_gpus() -> None:
    s = Sampler(TwoGpus()).sample(None)
    assert [g.name for g in s.gpus] == ["NVIDIA RTX 4090", "NVIDIA RTX 3090"]
    assert s.gpu_note is None
