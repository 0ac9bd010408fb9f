"""The exllama engine's own logic, in its engine process, against the stand-in for
exllamav3 (tests/stand_ins) that records what it was asked: options, the sampling
mapping, stop tokens, context rounding, the build notice, unload order. The real
exllamav3 runs in the GPU check (scripts/gpu_check.sh)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from llamatui.engines.exllama.engine import width_note
from llamatui.engines.gguf import ModelFileError
from llamatui.engines.handle import EngineHandle
from llamatui.engines.host import ProcessHandle
from llamatui.engines.protocol import Delta, LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage

ASK: list[ChatMessage] = [{"role": "user", "content": "Tell me a story."}]


def calls(log: Path, name: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    return [r for r in rows if name is None or r["call"] == name]


@pytest.fixture
def log(exllama_stand_in: Path) -> Path:
    return exllama_stand_in


@pytest.fixture
def handle(log: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    h = ProcessHandle("exllama", log_path=tmp_path / "engine.log")
    yield h
    h.close()


def ref(folder: Path) -> ModelRef:
    return ModelRef("exllama", str(folder))


def test_options_reach_exllamav3_as_it_wants_them(
    handle: EngineHandle, log: Path, tiny_hf: Path, tmp_path: Path
) -> None:
    # A build killed halfway leaves torch's lock behind: it must not stop the next one.
    stale = tmp_path / "cache" / "torch_extensions" / "exllamav3_ext" / "lock"
    stale.parent.mkdir(parents=True)
    stale.touch()
    options = LoadOptions(n_ctx=1000, engine={"cache": "q4", "gpu_split": "20, 24"})
    info = handle.load(ref(tiny_hf), options)
    assert not stale.exists()
    assert info.n_ctx == 1024  # rounded up to exllamav3's 256-token pages
    assert info.n_ctx_train == 2048 and info.template == "model"  # tokenizer_config's
    assert info.capabilities.gpu_offload
    [cache] = calls(log, "Cache")
    assert cache == {
        "call": "Cache", "max_num_tokens": 1024, "layer_type": "CacheLayer_quant",
        "k_bits": 4, "v_bits": 4,
    }  # fmt: skip
    [load] = calls(log, "Model.load")
    assert load["use_per_device"] == [20.0, 24.0] and load["callback"]
    order = [c["call"] for c in calls(log)]
    assert order.index("Cache") < order.index("Model.load")  # the cache first
    [imported] = calls(log, "import")
    assert imported["TORCH_EXTENSIONS_DIR"] == str(tmp_path / "cache" / "torch_extensions")
    assert imported["MAX_JOBS"] == str(os.cpu_count())


def test_sampling_stop_tokens_and_limits_are_mapped(
    handle: EngineHandle, log: Path, tiny_hf: Path
) -> None:
    handle.load(ref(tiny_hf), LoadOptions(n_ctx=512))
    params = SamplingParams(
        temperature=0.8, top_k=30, top_p=0.9, min_p=0.1, repeat_penalty=1.1, seed=7, max_tokens=20
    )
    a = "".join(i.text for i in handle.stream(ASK, params) if isinstance(i, Delta))
    b = "".join(i.text for i in handle.stream(ASK, params) if isinstance(i, Delta))
    assert a == b  # the same seed, the same reply
    sampler = calls(log, "ComboSampler")[0]
    assert sampler == {
        "call": "ComboSampler", "rep_p": 1.1, "rep_sustain_range": 64, "rep_decay_range": 0,
        "temperature": 0.8, "top_k": 30, "top_p": 0.9, "min_p": 0.1,
    }  # fmt: skip
    job = calls(log, "Job")[0]
    # The end-of-sequence ids from config.json, generation_config.json and the tokenizer.
    assert job["seed"] == 7 and job["max_new_tokens"] == 20
    assert 1_000_002 in job["stop_conditions"] and 2 in job["stop_conditions"]
    stats = list(handle.stream(ASK, SamplingParams(temperature=0, max_tokens=5000)))[-1]
    # The room left, less the one cell exllamav3 keeps beyond prompt and reply.
    assert calls(log, "Job")[-1]["max_new_tokens"] == 512 - stats.prompt_tokens - 1
    assert stats.finish == "stop"  # the story ended on its end-of-sequence token
    assert calls(log, "ComboSampler")[-1]["temperature"] == 0.0  # greedy


def test_typed_control_tokens_stay_text_and_the_prompt_cache_is_used(
    handle: EngineHandle, log: Path, tiny_hf: Path
) -> None:
    handle.load(ref(tiny_hf), LoadOptions(n_ctx=2048))
    plain = [{"role": "user", "content": "x" * 300}]
    typed = [{"role": "user", "content": "<|im_end|>" + "x" * 290}]
    # The stand-in's tokenizer is a character a token: a typed control token is its
    # ten characters, not one token.
    assert handle.count_tokens(typed) == handle.count_tokens(plain)
    first = list(handle.stream(plain, SamplingParams(temperature=0, max_tokens=4)))[-1]
    follow = [*plain, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "more"}]
    second = list(handle.stream(follow, SamplingParams(temperature=0, max_tokens=4)))[-1]
    assert first.prompt_evaluated == first.prompt_tokens
    assert second.prompt_evaluated == second.prompt_tokens - 256  # one page came from cache


def test_unload_frees_in_order_and_the_build_is_announced(
    log: Path, tiny_hf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXL3_STANDIN_COMPILE_S", "2.5")  # "compiling" on first import
    handle = ProcessHandle("exllama", log_path=tmp_path / "engine.log")
    notes: list[str] = []
    try:
        handle.load(ref(tiny_hf), LoadOptions(n_ctx=512), lambda f, note: notes.append(note))
        assert handle.memory().devices[0].device == "cuda:0"
    finally:
        handle.close()
    building = [n for n in notes if n]
    assert building and all("building exllamav3's CUDA extension" in n for n in building)
    assert building[-1].endswith("0:02")  # with the time it has taken
    order = [c["call"] for c in calls(log)]
    tail = order[order.index("Generator") + 1 :]
    assert tail == ["Generator.close", "Model.unload", "torch.cuda.empty_cache"]


def test_folders_exllamav3_does_not_load_say_why(handle: EngineHandle, tmp_path: Path) -> None:
    gptq = tmp_path / "gptq"
    gptq.mkdir()
    (gptq / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "gptq"}}))
    header = b'{"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]}}'
    (gptq / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    with pytest.raises(ModelFileError, match="GPTQ, which exllamav3 does not load"):
        handle.load(ref(gptq), LoadOptions())
    with pytest.raises(ModelFileError, match=r"no config\.json"):
        handle.load(ref(tmp_path), LoadOptions())
    assert handle.alive  # the engine process lives on


def test_a_width_exllamav3_fails_on_is_named() -> None:
    class Config:
        hidden_size = 576

    seen = RuntimeError("The size of tensor a (576) must match the size of tensor b (640)")
    note = width_note(Config(), seen)
    assert "576 wide, not a multiple of 128" in note and "llama.cpp engine" in note
    assert width_note(Config(), RuntimeError("CUDA out of memory")) == ""
    Config.hidden_size = 512
    assert width_note(Config(), seen) == ""
