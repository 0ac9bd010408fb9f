"""The model library on real files: the two models, tiny GGUFs, split sets,
exllama folders, and a corpus of broken and hostile files."""

from __future__ import annotations

import json
import shutil
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from engine_refs import gguf

from llamatui.engines import registry
from llamatui.engines.library import Library, ModelEntry


def tiny_gguf(
    path: Path,
    *,
    arch: str = "llama",
    ftype: int = 7,
    template: str | None = None,
    split: tuple[int, int] | None = None,
    tensors: int = 2,
) -> Path:
    import gguf

    w = gguf.GGUFWriter(str(path), arch=arch)
    w.add_name(path.stem)
    w.add_context_length(4096)
    w.add_block_count(2)
    w.add_embedding_length(64)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_file_type(ftype)
    if template:
        w.add_chat_template(template)
    if split:
        w.add_uint16("split.no", split[0] - 1)
        w.add_uint16("split.count", split[1])
    for i in range(tensors):
        w.add_tensor(f"t{i}", np.ones((8, 16), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    header = {k: {"dtype": "F16", "shape": v, "data_offsets": [0, 0]} for k, v in shapes.items()}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def by_name(entries: list[ModelEntry]) -> dict[str, ModelEntry]:
    return {e.name: e for e in entries}


@pytest.fixture
def models(tmp_path: Path, smollm2: Path, gemma3: Path) -> Path:
    root = tmp_path / "models"
    root.mkdir()
    (root / smollm2.name).symlink_to(smollm2)
    (root / gemma3.name).symlink_to(gemma3)
    tiny_gguf(root / "tiny-q8.gguf", template="{{ messages }}")
    tiny_gguf(root / "tiny-phi.gguf", arch="phi3", ftype=15)
    split = root / "split"
    split.mkdir()
    for n in (1, 2, 3):
        tiny_gguf(split / f"big-{n:05d}-of-00003.gguf", split=(n, 3))
    for n in (1, 3):
        tiny_gguf(split / f"holey-{n:05d}-of-00003.gguf", split=(n, 3))
    exl3 = root / "Llama-3.2-1B-exl3-4.0bpw"
    exl3.mkdir()
    (exl3 / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "max_position_embeddings": 131072, "num_hidden_layers": 16,
        "num_attention_heads": 32, "num_key_value_heads": 8, "hidden_size": 2048,
        "vocab_size": 128256, "quantization_config": {"quant_method": "exl3", "bits": 4.0},
    }))  # fmt: skip
    safetensors(exl3 / "model.safetensors", {"a": [2048, 2048], "b": [128256, 2048]})
    (exl3 / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{x}}"}))
    hf = root / "Qwen2.5-0.5B-Instruct"
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
        "max_position_embeddings": 32768, "num_hidden_layers": 24,
        "num_attention_heads": 14, "num_key_value_heads": 2, "hidden_size": 896,
        "vocab_size": 151936, "torch_dtype": "bfloat16",
    }))  # fmt: skip
    safetensors(hf / "model-00001-of-00002.safetensors", {"x": [896, 896]})
    safetensors(hf / "model-00002-of-00002.safetensors", {"y": [151936, 896]})
    return root


def test_library_lists_every_kind(models: Path) -> None:
    got = by_name(Library().scan([models]))
    smol = got["SmolLM2-135M-Instruct.Q4_1"]
    assert smol.engine is not None and smol.engine.label == "llama.cpp"
    assert (smol.format, smol.ref, smol.architecture) == ("gguf", gguf(smol.path), "llama")
    assert smol.parameters == 134_515_008 and smol.quantization == "Q4_1"
    assert smol.context_length == 8192 and smol.template == "model" and smol.usable
    gemma = got["gemma-3-270m-q4_k_m"]
    assert (gemma.architecture, gemma.quantization, gemma.template) == ("gemma3", "Q4_K_M", "gemma")
    assert gemma.parameters and 260e6 < gemma.parameters < 280e6
    assert got["tiny-q8"].quantization == "Q8_0" and got["tiny-q8"].template == "model"
    assert got["tiny-phi"].quantization == "Q4_K_M" and got["tiny-phi"].template == "phi-3"
    big = got["big"]
    assert big.usable and len(big.files) == 3 and big.parameters == 3 * 2 * 128
    holey = got["holey"]
    assert holey.error == "split set is missing part 2 of 3"
    exl3 = got["Llama-3.2-1B-exl3-4.0bpw"]
    assert (exl3.format, exl3.ref.engine, exl3.quantization) == ("exl3", "exllama", "EXL3 4.0bpw")
    assert exl3.parameters == 2048 * 2048 + 128256 * 2048 and exl3.template == "model"
    assert exl3.shape is not None and exl3.context_length == 131072
    assert exl3.shape.key_length == 64 and exl3.shape.n_head_kv == 8
    hf = got["Qwen2.5-0.5B-Instruct"]
    assert (hf.format, hf.quantization, hf.template) == ("hf", "BF16", "chatml")
    assert hf.parameters == 896 * 896 + 151936 * 896
    # The folders are fine; whether they are usable is the exllama engine's to say.
    exllama = registry.get("exllama").unavailable()
    assert exl3.error is None and hf.error is None
    assert exl3.reason == hf.reason == (f"exllama {exllama}" if exllama else None)
    unusable = {e.name for e in Library().scan([models]) if not e.usable}
    assert unusable == {"holey"} | ({exl3.name, hf.name} if exllama else set())


def test_broken_and_hostile_files_are_listed_with_reasons(tmp_path: Path, smollm2: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    real = smollm2.read_bytes()
    (bad / "truncated.gguf").write_bytes(real[: len(real) // 3])
    (bad / "html.gguf").write_text("<html>404</html>")
    (bad / "old.gguf").write_bytes(b"tjgg" + b"\x01\x00\x00\x00" * 50)
    (bad / "huge-lengths.gguf").write_bytes(
        b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + struct.pack("<Q", 2**60)
    )
    (bad / "huge-kv-count.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 2**62))
    (bad / "llama-7b.ggmlv3.q4_0.bin").write_bytes(b"tjgg" + b"\x03\x00\x00\x00" * 50)
    (bad / "pytorch_model.bin").write_bytes(b"PK\x03\x04" + bytes(64))  # not a model we list
    tiny_gguf(bad / "strange-arch.gguf", arch="brand_new_arch")
    nocfg = bad / "weights-only"
    nocfg.mkdir()
    safetensors(nocfg / "model.safetensors", {"a": [2, 2]})
    badst = bad / "bad-safetensors"
    badst.mkdir()
    (badst / "config.json").write_text("{}")
    (badst / "model.safetensors").write_bytes(struct.pack("<Q", 2**50))
    gptq = bad / "gptq-model"
    gptq.mkdir()
    (gptq / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "gptq"}}))
    safetensors(gptq / "model.safetensors", {"a": [2, 2]})

    t = time.perf_counter()
    got = by_name(Library().scan([bad]))
    assert time.perf_counter() - t < 5
    assert "truncated" in (got["truncated"].error or "")
    assert "not a GGUF model file" in (got["html"].error or "")
    assert "must be converted to GGUF" in (got["old"].error or "")
    assert "claims a length" in (got["huge-lengths"].error or "")
    assert "metadata entries" in (got["huge-kv-count"].error or "")
    assert got["strange-arch"].error is None  # the file is sound: this llama.cpp is not
    assert "architecture 'brand_new_arch' is unknown" in (got["strange-arch"].reason or "")
    assert got["weights-only"].error == "a safetensors folder without config.json"
    assert "header" in (got["bad-safetensors"].error or "")
    assert "GPTQ, which exllamav3 does not load" in (got["gptq-model"].error or "")
    ggml = got["llama-7b.ggmlv3.q4_0"]
    assert ggml.format == "ggml" and ggml.engine is None and not ggml.usable
    assert "old GGJT model file" in (ggml.reason or "") and "convert" in (ggml.reason or "")
    assert "pytorch_model" not in got


def test_warm_scan_reads_only_what_changed(tmp_path: Path, models: Path) -> None:
    cache = tmp_path / "cache.json"
    first = Library(cache).scan([models])
    lib = Library(cache)
    t = time.perf_counter()
    again = lib.scan([models])
    assert time.perf_counter() - t < 0.5
    assert [e.__dict__ for e in again] == [e.__dict__ for e in first]
    tiny_gguf(models / "tiny-q8.gguf", ftype=2)  # rewritten: re-read
    assert by_name(Library(cache).scan([models]))["tiny-q8"].quantization == "Q4_0"
    shutil.rmtree(models / "split")
    assert "big" not in by_name(Library(cache).scan([models]))


def test_broken_links_and_odd_cache_entries_do_not_stop_a_scan(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    tiny_gguf(models / "fine.gguf")
    (models / "gone.gguf").symlink_to(tmp_path / "nowhere.gguf")
    cache = tmp_path / "library.json"
    Library(cache).scan([models])
    data = json.loads(cache.read_text())
    [key] = [k for k in data["entries"] if k.endswith("fine.gguf")]
    data["entries"][key]["entry"]["shape"] = {"weights": 1, "from_the_future": 2}
    cache.write_text(json.dumps(data))
    got = by_name(Library(cache).scan([models]))
    assert got["fine"].usable and got["fine"].shape is not None
    assert got["fine"].shape.weights > 1  # read again, not taken from the odd entry
    assert "cannot be read" in (got["gone"].error or "")


def test_packaged_models_are_listed_once_and_folder_links_keep_their_names(
    tmp_path: Path, smollm2: Path
) -> None:
    # A Hugging Face cache: the snapshot's name is a link to a blob named by its hash.
    hub = tmp_path / "hub"
    (hub / "blobs").mkdir(parents=True)
    blob = hub / "blobs" / "9f2c1e"
    shutil.copy(smollm2, blob)
    (hub / "snapshots" / "main").mkdir(parents=True)
    (hub / "snapshots" / "main" / "tiny.gguf").symlink_to(blob)
    lib = Library(tmp_path / "cache.json")
    [entry] = lib.scan([hub])
    assert entry.name == "tiny" and Path(entry.path).parent.name == "main"
    names = sorted(e.name for e in lib.scan([hub], [smollm2]))
    assert names == sorted(["tiny", smollm2.stem])  # another file: both
    linked = tmp_path / "models"
    linked.mkdir()
    (linked / smollm2.name).symlink_to(smollm2)
    [same] = lib.scan([linked], [smollm2])  # the packaged one, in a folder too: once
    assert same.path == str(linked / smollm2.name)
