"""The values that cross the engine seam: references, options, stop strings, memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llamatui.engines import registry
from llamatui.engines.library import ref_for
from llamatui.engines.options import OptionError, validate_options
from llamatui.engines.protocol import Delta, DeviceMemory, MemoryUse
from llamatui.engines.refs import ModelRef
from llamatui.engines.stops import StopMatcher
from llamatui.tui.widgets.meters import _model_lines


@pytest.mark.parametrize(
    "ref",
    [
        ModelRef("llamacpp", "/models/Qwen3-8B-Q4_K_M.gguf"),
        ModelRef("exllama", "/models/Llama-3.1-8B-exl3-4.0bpw"),
        ModelRef("remote", "http://gpu-box:8080/v1", "qwen3-32b"),
        ModelRef("llamacpp", "/odd/na#me 100%.gguf"),
        ModelRef("remote", "https://h/v1", "org/model#2"),
    ],
)
def test_a_reference_reads_back_as_it_was_written(ref: ModelRef) -> None:
    assert ModelRef.parse(str(ref)) == ref


def test_reference_names_and_old_bare_paths() -> None:
    assert ModelRef("llamacpp", "/m/SmolLM2.Q4_1.gguf").name == "SmolLM2.Q4_1"
    assert ModelRef("exllama", "/m/Llama-exl3/").name == "Llama-exl3"
    assert ModelRef("remote", "http://h/v1", "qwen3").name == "qwen3"
    # Replies and recent lists written before references: a GGUF path, run by llama.cpp.
    assert ModelRef.parse("/m/x.gguf") == ModelRef("llamacpp", "/m/x.gguf")
    assert ModelRef.parse("C:\\models\\x.gguf") == ModelRef("llamacpp", "C:\\models\\x.gguf")


def test_model_paths_become_references(tmp_path: Path) -> None:
    assert ref_for(tmp_path / "x.gguf") == ModelRef("llamacpp", str(tmp_path / "x.gguf"))
    folder = tmp_path / "Llama-exl3"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"quantization_config": {"quant_method": "exl3", "bits": 4}})
    )
    header = b'{"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]}}'
    (folder / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    assert ref_for(folder) == ModelRef("exllama", str(folder))


def test_options_are_checked_against_what_the_engine_declares() -> None:
    specs = registry.get("llamacpp").options
    assert validate_options(specs, {"threads": 4, "gpu_layers": 0}) == {
        "threads": 4,
        "gpu_layers": 0,
    }
    with pytest.raises(OptionError, match="threads must be 1 or more"):
        validate_options(specs, {"threads": 0})
    with pytest.raises(OptionError, match="threads must be a whole number"):
        validate_options(specs, {"threads": "four"})
    with pytest.raises(
        OptionError, match=r"unknown option 'n_threads' \(known: threads, gpu_layers\)"
    ):
        validate_options(specs, {"n_threads": 2})
    threads = specs[0]
    assert threads.parse(" 3 ") == 3 and threads.parse("") is None
    with pytest.raises(OptionError, match="is not a whole number"):
        threads.parse("3.5")


def test_engines_that_cannot_run_here_say_why() -> None:
    kinds = {s.kind for s in registry.available()}
    assert {"llamacpp", "scripted"} <= kinds and "exllama" not in kinds
    assert registry.for_format("gguf") is registry.get("llamacpp")
    assert registry.for_format("exl3") is registry.get("exllama") is registry.for_format("hf")
    assert registry.for_format("ggml") is None
    with pytest.raises(Exception, match="unknown engine 'nope'"):
        registry.get("nope")


@pytest.mark.parametrize(
    ("pieces", "shown", "stopped"),
    [
        (["Hello", " wor", "ld. ", "STOP", " more"], "Hello world. ", True),
        (["Hel", "lo S", "TO", "P!"], "Hello ", True),  # split across pieces
        (["a S", "T", "x", "y"], "a STxy", False),  # a false start is shown after all
        (["no stop here"], "no stop here", False),
        (["<|im", "_end|>tail"], "", True),
    ],
)
def test_stop_strings_hold_back_only_what_could_start_one(
    pieces: list[str], shown: str, stopped: bool
) -> None:
    m = StopMatcher(["STOP", "<|im_end|>"])
    out = "".join(m.feed(p) for p in pieces) + m.flush()
    assert out == shown and m.stopped is stopped


def test_held_back_tokens_count_with_the_next_text_shown() -> None:
    m = StopMatcher(["STOP"])
    deltas = [m.take(p) for p in ("Hello ", "ST", "O", "ne", " end")]
    shown = [d for d in deltas if d is not None]
    # "ST" and "O" could start STOP: held, then shown with "ne", counted there.
    assert [(d.text, d.n_tokens) for d in shown] == [("Hello ", 1), ("STOne", 3), (" end", 1)]
    assert m.rest() is None  # nothing held, nothing uncounted
    m = StopMatcher(["STOP"])
    assert m.take("a S", 2) == Delta("a ", 2)
    last = m.rest(n_tokens=1)  # the reply ended: the held "S" and one more token
    assert last == Delta("S", 1)
    m = StopMatcher(["STOP"])
    assert m.take("x STOP y") == Delta("x ", 1) and m.stopped
    assert m.rest() is None


def test_memory_per_device_adds_up_and_shows_a_line_per_device() -> None:
    one = MemoryUse(rss=10, devices=(DeviceMemory("cpu", 100, 20, 5),))
    assert (one.weights, one.kv_cache, one.compute) == (100, 20, 5)
    assert len(_model_lines(one)) == 1 and _model_lines(one)[0].startswith("  model:")
    split = MemoryUse(
        rss=10,
        devices=(DeviceMemory("cuda:0", 2**30, 2**29), DeviceMemory("cuda:1", 2**30, 2**29)),
    )
    assert split.weights == 2**31
    lines = _model_lines(split)
    assert [ln.split(":")[0].strip() for ln in lines] == ["model on cuda", "model on cuda"]
    assert "cuda:1" in lines[1] and "weights 1.0G" in lines[1]
    one_gpu = MemoryUse(rss=10, devices=(DeviceMemory("cuda:0", 2**30, 2**28),))
    assert _model_lines(one_gpu) == [
        "  model on cuda:0: weights 1.0G · KV cache 256M · compute 0M reserved"
    ]
