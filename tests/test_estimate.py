"""The RAM estimate against what the engine process really holds."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from engine_refs import gguf

from llamatui.engines.estimate import Shape, fit, kv_cache_bytes, ram_needed
from llamatui.engines.host import ProcessHandle
from llamatui.engines.library import Library
from llamatui.engines.protocol import LoadOptions, SamplingParams


@pytest.mark.parametrize("model", ["smollm2", "gemma3"])
@pytest.mark.parametrize("n_ctx", [2048, 8192])
def test_estimate_within_15_percent_of_resident_memory(
    request: pytest.FixtureRequest, tmp_path: Path, model: str, n_ctx: int
) -> None:
    path: Path = request.getfixturevalue(model)
    [entry] = Library().scan_files([path])
    estimate = ram_needed(entry.shape, n_ctx)
    client = ProcessHandle(log_path=tmp_path / "engine.log")
    try:
        client.load(gguf(path), LoadOptions(n_ctx=n_ctx, engine={"threads": 2}))
        list(
            client.stream(
                [{"role": "user", "content": "Write a poem."}], SamplingParams(max_tokens=64)
            )
        )
        assert client.pid is not None
        rss = psutil.Process(client.pid).memory_info().rss
    finally:
        client.close()
    assert abs(estimate - rss) / rss < 0.15, (estimate / 2**20, rss / 2**20)


def test_kv_cache_and_fit() -> None:
    shape = Shape(weights=100, n_layer=30, n_head_kv=3, key_length=64, value_length=64)
    assert kv_cache_bytes(shape, 2048) == 30 * 2048 * 3 * 128 * 2
    assert kv_cache_bytes(Shape(weights=1), 2048) == 0
    assert fit(70, 100) == "fits" and fit(90, 100) == "tight" and fit(120, 100) == "will not fit"
    assert fit(1, 0) == "unknown"


def test_vram_for_an_exllama_folder_and_layers_offloaded(tmp_path) -> None:
    from tiny_hf_model import build  # scripts/ (conftest puts it on the path)

    from llamatui.engines.estimate import (
        EXLLAMA_OVERHEAD,
        exllama_ctx,
        ram_and_vram,
        vram_needed,
    )

    folder = build(tmp_path / "tiny-exl3", exl3_config=True)
    [entry] = Library().scan([tmp_path])
    assert entry.format == "exl3" and entry.quantization == "EXL3 4.0bpw h6"
    assert entry.architecture == "LlamaForCausalLM" and entry.template == "model"
    shape = entry.shape
    assert shape is not None and shape.n_layer == 2 and shape.n_head_kv == 2
    assert shape.weights == (folder / "model.safetensors").stat().st_size
    assert exllama_ctx(shape, 1000) == 1024 and exllama_ctx(shape, 100_000) == 2048
    fp16 = vram_needed(shape, 1000)
    # 2 layers x 1,024 cells x 2 KV heads x (16 + 16) x 2 bytes, the weights, overhead.
    assert fp16 == shape.weights + 2 * 1024 * 2 * 32 * 2 + EXLLAMA_OVERHEAD
    q4 = vram_needed(shape, 1000, cache="q4")
    # 4 bits and a half-bit scale per value: 4.5/16 of the fp16 cache.
    fp16_cache = fp16 - EXLLAMA_OVERHEAD - shape.weights
    assert q4 - EXLLAMA_OVERHEAD - shape.weights == int(fp16_cache * 4.5 / 16)
    # llama.cpp offloading half the layers moves half the weights and cache to VRAM.
    ram, vram = ram_and_vram(shape, 1000, gpu_layers=1)
    assert vram > 0 and ram + vram == ram_needed(shape, 1000)
    assert ram_and_vram(shape, 1000, gpu_layers=0) == (ram_needed(shape, 1000), 0)
