"""The parts of the llama.cpp engine that speak llama.cpp's C API through ctypes:
the sampler chain, the load progress callback, and the compute buffer sizes that
llama.cpp only logs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from llamatui.engines.protocol import Progress, SamplingParams


def default_threads() -> int:
    """One thread per physical core: more only fight over the same FPUs."""
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


@contextmanager
def progress_reported(lc: Any, progress: Progress | None) -> Iterator[None]:
    """Hand llama.cpp a progress callback while a model loads.

    `Llama()` takes no progress callback, so the default model parameters it starts
    from get one. The ctypes callback must outlive the load, so it lives here.
    """
    callback = lc.llama_progress_callback(lambda p, _: _report(progress, p))
    default_params = lc.llama_model_default_params

    def params_with_progress() -> Any:
        params = default_params()
        params.progress_callback = callback
        return params

    lc.llama_model_default_params = params_with_progress
    try:
        yield
    finally:
        lc.llama_model_default_params = default_params


def _report(progress: Progress | None, fraction: float) -> bool:
    if progress is not None:
        progress(fraction, "")
    return True  # go on loading


class UnusedFormatter:
    """Stands in for llama-cpp-python's template formatter, which we never use.

    llama-cpp-python compiles every template in the file as it loads, and a
    template with a syntax error would fail the load. Templates are ours to render
    (sandboxed, budgeted, with a fallback).
    """

    def __init__(self, **_: Any) -> None:
        pass

    def to_chat_handler(self) -> None:
        return None


_COMPUTE_LINE = re.compile(rb"compute buffer size\s*=\s*([\d.]+) MiB")


def compute_buffers_logged() -> int:
    """The compute buffers llama.cpp just reported, read back from our own log.

    llama.cpp has no call that returns them; it logs them at load, and this
    process's stderr is the engine log file. 0 when it cannot be read.
    """
    try:
        path = os.readlink("/proc/self/fd/2")
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 65536))
            tail = f.read()
    except OSError:
        return 0
    # The last load's lines: after its final "llama_context:" constructor line.
    start = tail.rfind(b"llama_context: constructing")
    sizes = _COMPUTE_LINE.findall(tail[start if start >= 0 else 0 :])
    return int(sum(float(x) for x in sizes) * 1024 * 1024)


def sampler_chain(lc: Any, params: SamplingParams) -> Any:
    """llama.cpp's own sampler chain for these settings."""
    chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
    add = lc.llama_sampler_chain_add
    if params.repeat_penalty != 1.0:
        add(chain, lc.llama_sampler_init_penalties(64, params.repeat_penalty, 0.0, 0.0))
    if params.temperature <= 0:
        add(chain, lc.llama_sampler_init_greedy())
        return chain
    if params.top_k > 0:
        add(chain, lc.llama_sampler_init_top_k(params.top_k))
    if params.top_p < 1.0:
        add(chain, lc.llama_sampler_init_top_p(params.top_p, 1))
    if params.min_p > 0:
        add(chain, lc.llama_sampler_init_min_p(params.min_p, 1))
    add(chain, lc.llama_sampler_init_temp(params.temperature))
    seed = params.seed if params.seed is not None else 0xFFFFFFFF  # LLAMA_DEFAULT_SEED
    add(chain, lc.llama_sampler_init_dist(seed))
    return chain
