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
