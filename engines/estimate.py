"""How much memory a model needs at a context size, before loading it.

RAM for the llama.cpp engine = the weights (the tensor data in the file, memory
mapped and all touched) + the KV cache (f16 keys and values for every layer and
context cell) + the engine process itself. The process term was measured here
(Python, llama-cpp-python and llama.cpp's vocabulary tables): about 63 MiB plus
~150 bytes per vocabulary entry; llama.cpp reserves a compute buffer of
n_ubatch x n_vocab x 4 bytes, but generation touches little of it, so it is not
counted. Against the resident memory of the engine process after loading and one
reply, this is within a few percent for SmolLM2-135M and Gemma 3 270M at 2,048 and
8,192 tokens (tests/test_estimate.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MIB = 1024 * 1024
PROCESS_BASE = 63 * MIB
PER_VOCAB_ENTRY = 152
F16 = 2

Fit = Literal["fits", "tight", "will not fit", "unknown"]


@dataclass(frozen=True)
class Shape:
    """What the estimate needs to know about a model."""

    weights: int
    """Bytes of tensor data."""
    n_layer: int | None = None
    n_head_kv: int | None = None
    key_length: int | None = None
    value_length: int | None = None
    n_vocab: int | None = None
    context_length: int | None = None


def kv_cache_bytes(shape: Shape, n_ctx: int) -> int:
    """f16 keys and values for every layer and context cell (0 if unknown)."""
    if not (shape.n_layer and shape.n_head_kv and shape.key_length and shape.value_length):
        return 0
    per_cell = shape.n_head_kv * (shape.key_length + shape.value_length) * F16
    return shape.n_layer * n_ctx * per_cell


def effective_ctx(shape: Shape, n_ctx: int) -> int:
    """The context the engine will use: capped at the trained one, at least 256."""
    if shape.context_length:
        n_ctx = min(n_ctx, shape.context_length)
    return max(n_ctx, 256)


def ram_needed(shape: Shape, n_ctx: int) -> int:
    """Bytes of RAM the llama.cpp engine process will hold with this model."""
    ctx = effective_ctx(shape, n_ctx)
    process = PROCESS_BASE + PER_VOCAB_ENTRY * (shape.n_vocab or 0)
    return shape.weights + kv_cache_bytes(shape, ctx) + process


def ram_and_vram(shape: Shape, n_ctx: int, gpu_layers: int) -> tuple[int, int]:
    """llama.cpp with `gpu_layers` offloaded: RAM and VRAM, split by layers.

    Each offloaded layer takes its share of the weights and its KV cache to the GPU;
    the process, the embeddings and what is left stay in RAM. A CUDA context's own
    VRAM (a few hundred MiB) is not counted here.
    """
    total = ram_needed(shape, n_ctx)
    layers = shape.n_layer or 0
    if gpu_layers <= 0 or layers <= 0:
        return total, 0
    share = min(gpu_layers, layers) / layers
    ctx = effective_ctx(shape, n_ctx)
    vram = int((shape.weights + kv_cache_bytes(shape, ctx)) * share)
    return total - vram, vram


# exllamav3 allocates its cache in pages of 256 tokens.
EXLLAMA_CTX_STEP = 256
# Bits per cached key or value element, by cache precision.
CACHE_BITS = {"fp16": 16, "q8": 8, "q6": 6, "q4": 4}
# A quantized cache also keeps an fp16 scale per 32 values: half a bit each.
CACHE_SCALE_BITS = 0.5
# What exllamav3's engine process holds beyond weights and cache (CUDA context, the
# extension's buffers, logits), and the 0.5 GiB its automatic split leaves free on
# each GPU. Measured against NVML on an H200 (driver 580, torch 2.11, exllamav3 1.6.5,
# scripts/gpu_check.sh, 2026-11-27): 719 MiB beyond weights and cache for an FP16
# model, 713 for EXL3; rounded up, as other cards' contexts differ.
EXLLAMA_OVERHEAD = 768 * MIB + 512 * MIB


def exllama_ctx(shape: Shape, n_ctx: int) -> int:
    """The context exllamav3 will use: capped at the trained one, rounded up to 256."""
    if shape.context_length:
        n_ctx = min(n_ctx, shape.context_length)
    step = EXLLAMA_CTX_STEP
    return max(step, -(-n_ctx // step) * step)


def vram_needed(shape: Shape, n_ctx: int, cache: str = "fp16") -> int:
    """Bytes of VRAM exllamav3 will hold with this model: the weights as they are on
    disk (EXL3 or FP16), the cache at its precision, and the overhead."""
    ctx = exllama_ctx(shape, n_ctx)
    return shape.weights + cache_bytes(shape, ctx, cache) + EXLLAMA_OVERHEAD


def cache_bytes(shape: Shape, ctx: int, cache: str = "fp16") -> int:
    """exllamav3's KV cache at a precision (a quantized one with its scales)."""
    bits = CACHE_BITS.get(cache, 16)
    bits_per_value = bits if bits == 16 else bits + CACHE_SCALE_BITS
    return int(kv_cache_bytes(shape, ctx) * bits_per_value / 16)


def fit(needed: int, available: int) -> Fit:
    """Whether `needed` bytes fit in `available`, with room for everything else."""
    if available <= 0:
        return "unknown"
    if needed <= available * 0.8:
        return "fits"
    if needed <= available:
        return "tight"
    return "will not fit"
