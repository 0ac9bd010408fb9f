"""The bounded GGUF header reader, on the real models and on broken files."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest

from llamatui.engines.gguf import ArrayInfo, ModelFileError, read_header


def write_tiny_gguf(path: Path, *, template: str | None = None) -> Path:
    """A small valid GGUF file with two tensors, written with the gguf package."""
    import gguf

    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_name("tiny")
    w.add_context_length(256)
    if template is not None:
        w.add_chat_template(template)
    w.add_tensor("a", np.ones((4, 8), dtype=np.float32))
    w.add_tensor("b", np.ones((16,), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_default_model_header(smollm2: Path) -> None:
    h = read_header(smollm2)
    assert h.architecture == "llama"
    assert h.chat_template is not None and "<|im_start|>" in h.chat_template
    assert h.get_int("llama.context_length") == 8192
    tokens = h.metadata["tokenizer.ggml.tokens"]
    assert isinstance(tokens, ArrayInfo) and tokens.length == 49152
    assert h.data_offset + h.data_size == h.file_size


def test_gemma_header_has_no_template(gemma3: Path) -> None:
    h = read_header(gemma3)
    assert h.architecture == "gemma3"
    assert h.chat_template is None
    assert h.data_offset + h.data_size <= h.file_size


def test_tiny_written_file(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny.gguf", template="{{ messages }}")
    h = read_header(path)
    assert h.metadata["general.name"] == "tiny"
    assert h.chat_template == "{{ messages }}"
    assert h.tensor_count == 2
    assert h.data_offset + h.data_size <= h.file_size


def test_tiny_file_cut_in_its_tensor_data(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny.gguf")
    data = path.read_bytes()
    path.write_bytes(data[:-40])
    with pytest.raises(ModelFileError, match="truncated: its tensors need"):
        read_header(path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("corrupt", "header is corrupt"),
        ("truncated", "truncated"),
        ("not_gguf", "not a GGUF model file"),
        ("ggml", "old GGJT model file.*must be converted to GGUF"),
        ("empty", "only 0 bytes"),
    ],
)
def test_bad_files_have_their_reason(bad_files: dict[str, Path], name: str, expected: str) -> None:
    with pytest.raises(ModelFileError, match=expected) as info:
        read_header(bad_files[name])
    assert info.value.path == str(bad_files[name])
    assert f"{name}.gguf" in str(info.value)


def test_header_cut_short(tmp_path: Path, smollm2: Path) -> None:
    path = tmp_path / "short.gguf"
    path.write_bytes(smollm2.read_bytes()[:5000])
    with pytest.raises(ModelFileError, match="ends inside its header"):
        read_header(path)


def test_hostile_lengths_are_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "huge.gguf"
    # One metadata key whose string length claims 2**62 bytes.
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**62) + b"x")
    t = time.perf_counter()
    with pytest.raises(ModelFileError, match="claims a length"):
        read_header(path)
    assert time.perf_counter() - t < 1.0
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 2**40))
    with pytest.raises(ModelFileError, match="metadata entries"):
        read_header(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        read_header(tmp_path / "nope.gguf")
    with pytest.raises(ModelFileError, match="folder"):
        read_header(tmp_path)
