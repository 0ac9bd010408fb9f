"""Every engine llamatui knows: how to make it, what it can do, the options it
takes, which model formats it runs, and whether it can run on this machine.

"Which engine runs this format" and "can it run here" are answered here and
nowhere else; the library, the CLI, the app and the tests ask.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from llamatui.engines.archs import llamacpp_architecture_check
from llamatui.engines.estimate import CACHE_BITS
from llamatui.engines.options import OptionSpec
from llamatui.engines.protocol import Engine, EngineError

if TYPE_CHECKING:
    from llamatui.engines.handle import EngineHandle


@dataclass(frozen=True)
class EngineSpec:
    """One engine, as the registry knows it (nothing imported until it is made)."""

    kind: str
    """Its key: in model references, profiles (`[models.NAME.KIND]`) and the history."""
    label: str
    """What the user reads: "llama.cpp"."""
    formats: tuple[str, ...]
    """Model formats it runs, as the library names them ("gguf", "exl3", "hf")."""
    options: tuple[OptionSpec, ...] = ()
    """Its own load options, beyond the context size and chat format."""
    engine_class: str | None = None
    """"module:Class" of the engine; None while llamatui has no such engine yet."""
    own_process: bool = True
    """Whether it runs in a process of its own (local engines) or in the app's."""
    check: Callable[[], str | None] = field(default=lambda: None)
    """Why it cannot run here, or None when it can."""
    listed: bool = True
    """Whether users see it (the scripted engine is for tests)."""
    architecture_check: Callable[[str], str | None] | None = None
    """Why it cannot run a model of this architecture here, or None when it can."""

    def unavailable(self) -> str | None:
        """Why this engine cannot run here, or None when it can."""
        why = _checked(self.kind)
        if why is None and self.engine_class is None:
            return "is not in this version of llamatui"
        return why

    def make_engine(self) -> Engine:
        """A new engine object (imports its module: call in the engine's process)."""
        if self.engine_class is None:
            raise EngineError(f"the {self.label} engine is not in this version of llamatui")
        module, _, name = self.engine_class.partition(":")
        engine: Engine = getattr(importlib.import_module(module), name)()
        return engine

    def make_handle(self, log_path: str | Path | None = None) -> EngineHandle:
        """The handle the app talks to: a process of its own, or in-process."""
        from llamatui.engines.handle import InProcessHandle
        from llamatui.engines.host import ProcessHandle

        if self.own_process:
            return ProcessHandle(self.kind, log_path=log_path)
        return InProcessHandle(self.kind, self.make_engine)


def _needs_module(module: str, install: str) -> Callable[[], str | None]:
    def check() -> str | None:
        if importlib.util.find_spec(module) is None:
            return f"needs {install}"
        return None

    return check


def _exllama_check() -> str | None:
    """exllamav3 compiles CUDA code on first import: never import it to find out."""
    reason = "needs an NVIDIA GPU with CUDA and `pip install 'llamatui[gpu]'`"
    if importlib.util.find_spec("exllamav3") is None or importlib.util.find_spec("torch") is None:
        return reason
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
            majors = [
                pynvml.nvmlDeviceGetCudaComputeCapability(pynvml.nvmlDeviceGetHandleByIndex(i))[0]
                for i in range(count)
            ]
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no driver, no library: NVML raises its own error types
        return reason
    if not majors:
        return reason
    if min(majors) < 8:  # the automatic split uses every GPU it sees
        return (
            "needs NVIDIA GPUs of the Ampere generation (RTX 30xx, A100) or newer; "
            "CUDA_VISIBLE_DEVICES can leave older ones out"
        )
    if not _extension_can_be_had():
        return "needs the CUDA toolkit (nvcc) to build exllamav3's extension the first time"
    return None


def _extension_can_be_had() -> bool:
    """exllamav3's extension is prebuilt, built already, or nvcc can build it."""
    import shutil

    from llamatui.engines.exllama.build import extension_built

    cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    nvcc_home = cuda_home is not None and (Path(cuda_home) / "bin" / "nvcc").exists()
    return extension_built() or shutil.which("nvcc") is not None or nvcc_home


LLAMACPP_OPTIONS = (
    OptionSpec(
        "threads",
        "CPU threads",
        int,
        "CPU threads for generation (default: one per physical core)",
        minimum=1,
        placeholder="one per core",
    ),
    OptionSpec(
        "gpu_layers",
        "GPU layers",
        int,
        "layers to offload to the GPU (a llama.cpp build with CUDA)",
        minimum=0,
        placeholder="0",
        needs_gpu=True,
    ),
)

EXLLAMA_OPTIONS = (
    OptionSpec(
        "cache",
        "Cache precision",
        str,
        "the KV cache: fp16, or quantized to q8, q6 or q4 (less VRAM, more context)",
        choices=tuple(CACHE_BITS),
        placeholder="fp16",
    ),
    OptionSpec(
        "gpu_split",
        "GPU split",
        str,
        "GB of VRAM to use on each GPU, in order (default: split automatically)",
        placeholder="automatic",
        pattern=r"\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*",
        example='"20,24" (GB on GPU 0 and GPU 1)',
    ),
)

REGISTRY: dict[str, EngineSpec] = {
    spec.kind: spec
    for spec in (
        EngineSpec(
            kind="llamacpp",
            label="llama.cpp",
            formats=("gguf",),
            options=LLAMACPP_OPTIONS,
            engine_class="llamatui.engines.llamacpp:LlamaCppEngine",
            check=_needs_module("llama_cpp", "llama-cpp-python (`pip install llama-cpp-python`)"),
            architecture_check=llamacpp_architecture_check,
        ),
        EngineSpec(
            kind="exllama",
            label="exllama",
            formats=("exl3", "hf"),
            options=EXLLAMA_OPTIONS,
            engine_class="llamatui.engines.exllama:ExllamaEngine",
            check=_exllama_check,
        ),
        EngineSpec(
            kind="remote",
            label="remote",
            formats=("remote",),
            # No per-model options: a server's API key is the server's ([[remotes]]).
            engine_class="llamatui.engines.remote.engine:RemoteEngine",
            own_process=False,
            check=_needs_module("httpx", "httpx (`pip install httpx`)"),
        ),
        EngineSpec(
            kind="scripted",
            label="scripted",
            formats=(),
            engine_class="llamatui.engines.scripted:ScriptedEngine",
            own_process=False,
            listed=False,
        ),
    )
}


@cache
def _checked(kind: str) -> str | None:
    """An engine's check, once per run: it may look for a GPU."""
    return REGISTRY[kind].check()


def get(kind: str) -> EngineSpec:
    """The engine of this kind.

    Raises:
        EngineError: no engine has this kind.
    """
    spec = REGISTRY.get(kind)
    if spec is None:
        raise EngineError(f"unknown engine {kind!r} (known: {', '.join(REGISTRY)})")
    return spec


def for_format(fmt: str) -> EngineSpec | None:
    """The engine that runs models of this format, or None when none does."""
    return next((s for s in REGISTRY.values() if fmt in s.formats), None)


def prepare() -> None:
    """Ready this process to start engine processes later; call before a UI starts."""
    from llamatui.engines.host import prepare as prepare_processes

    prepare_processes()


def available() -> list[EngineSpec]:
    """The engines that can run on this machine (the contract suite runs each)."""
    return [s for s in REGISTRY.values() if s.unavailable() is None]
