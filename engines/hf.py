"""Model folders in the Hugging Face layout (`config.json` and `*.safetensors`):
EXL3 quantized for exllama, or unquantized. Read from their JSON headers, capped,
never by loading the weights."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from llamatui.engines.estimate import Shape
from llamatui.engines.model_entry import ModelEntry
from llamatui.engines.templates import ARCHITECTURE_FORMATS, DEFAULT_FORMAT

MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
MAX_CONFIG = 4 * 1024 * 1024


def _safetensors_parameters(path: Path) -> int:
    with path.open("rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path.name} is too short to be safetensors")
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_SAFETENSORS_HEADER:
            raise ValueError(f"{path.name} claims a {n:,}-byte header")
        header = json.loads(f.read(n))
    total = 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        count = 1
        for d in info.get("shape", []):
            count *= int(d)
        total += count
    return total


def folder_entry(folder: Path, safetensors: list[Path]) -> ModelEntry:
    size = sum(p.stat().st_size for p in safetensors)
    entry = ModelEntry(path=str(folder), name=folder.name, format="hf", size_bytes=size)
    entry.files = [str(p) for p in safetensors]
    config_path = folder / "config.json"
    if not config_path.is_file():
        entry.error = "a safetensors folder without config.json"
        return entry
    try:
        if config_path.stat().st_size > MAX_CONFIG:
            raise ValueError("config.json is too large")
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError("config.json is not an object")
        entry.parameters = sum(_safetensors_parameters(p) for p in safetensors)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        entry.error = f"cannot read the model's files: {e}"
        return entry
    # Multimodal configs keep the language model's shape under text_config.
    nested = config.get("text_config")
    text: dict[str, Any] = nested if isinstance(nested, dict) else config
    archs = config.get("architectures")
    entry.architecture = (
        str(archs[0]) if isinstance(archs, list) and archs else str(config.get("model_type"))
    )
    n_head = text.get("num_attention_heads")
    hidden = text.get("hidden_size")
    head_dim = text.get("head_dim") or (hidden // n_head if hidden and n_head else None)
    entry.shape = Shape(
        weights=size,
        n_layer=text.get("num_hidden_layers"),
        n_head_kv=text.get("num_key_value_heads") or n_head,
        key_length=head_dim,
        value_length=head_dim,
        n_vocab=text.get("vocab_size"),
        context_length=text.get("max_position_embeddings"),
    )
    quant = config.get("quantization_config")
    if isinstance(quant, dict) and str(quant.get("quant_method", "")).lower() == "exl3":
        entry.format = "exl3"
        bits = quant.get("bits")
        head = quant.get("head_bits")
        entry.quantization = f"EXL3 {float(bits):.1f}bpw" if bits is not None else "EXL3"
        if head is not None:
            entry.quantization += f" h{head}"  # the output layer's bits
    elif isinstance(quant, dict):
        method = str(quant.get("quant_method"))
        entry.error = (
            f"quantized with {method.upper()}, which exllamav3 does not load: "
            "use an EXL3 or a GGUF version of the same model"
        )
    else:
        dtype = str(config.get("torch_dtype") or config.get("dtype") or "float16")
        entry.quantization = {"bfloat16": "BF16", "float16": "FP16", "float32": "FP32"}.get(
            dtype, dtype.upper()
        )
    own = (folder / "chat_template.jinja").is_file() or _tokenizer_has_template(folder)
    model_type = str(config.get("model_type", ""))
    entry.template = "model" if own else ARCHITECTURE_FORMATS.get(model_type, DEFAULT_FORMAT)
    return entry


def _tokenizer_has_template(folder: Path) -> bool:
    path = folder / "tokenizer_config.json"
    try:
        if not path.is_file() or path.stat().st_size > MAX_CONFIG:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and bool(data.get("chat_template"))
