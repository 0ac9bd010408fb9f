"""The models on disk: GGUF files (split sets counted once), EXL3 and HF folders,
and old GGML files that nothing runs any more.

Everything is read from file headers with capped readers (engines/gguf.py and the
safetensors header reader here), never by loading a model; a model that cannot be
used here is listed with the reason: its files are wrong, or no engine that runs
its format can run on this machine (the registry says which and why). Results are
cached on (path, size, mtime), so a rescan reads only what changed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import struct
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from llamatui.engines import registry
from llamatui.engines.atomic import write_atomic
from llamatui.engines.estimate import Shape
from llamatui.engines.gguf import LEGACY_MAGICS, ModelFileError, gguf_shape, read_header
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ARCHITECTURE_FORMATS, DEFAULT_FORMAT, choose_template

SPLIT = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
MAX_CONFIG = 4 * 1024 * 1024
CACHE_VERSION = 2

# llama.cpp's LLAMA_FTYPE values, as quantization names.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4",
}  # fmt: skip


@lru_cache(maxsize=1)
def _llama_binary() -> bytes | None:
    """The installed libllama, to look architecture names up in (None if absent).

    llama.cpp has no API that lists its architectures, but their names are strings in
    the library; reading it (~12 MB, once) tells whether this build knows one,
    without importing llama_cpp in the app.
    """
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    files = {p.resolve() for p in lib.glob("libllama*")} if lib.is_dir() else set()
    try:
        return b"".join(p.read_bytes() for p in sorted(files)) or None
    except OSError:
        return None


def known_architecture(arch: str) -> bool | None:
    """Whether the installed llama.cpp knows `arch`; None when it cannot be told."""
    binary = _llama_binary()
    if binary is None:
        return None
    # Linkers merge string tails ("qwen2" may live at the end of a longer name),
    # so match the name and its terminator, not the byte before it.
    return arch.encode() + b"\x00" in binary


Format = Literal["gguf", "exl3", "hf", "ggml"]


@dataclass
class ModelEntry:
    """One model in the library, usable or not."""

    path: str
    """The GGUF file (the first of a split set), the model folder, or the GGML file."""
    name: str
    format: Format
    size_bytes: int
    files: list[str] = field(default_factory=list)
    architecture: str | None = None
    parameters: int | None = None
    quantization: str | None = None
    template: str | None = None
    """"model" when the model carries its own chat template, else the fallback's name."""
    shape: Shape | None = None
    """What the memory estimate needs (weights, layers, heads, vocabulary, context)."""
    error: str | None = None
    """What is wrong with the model's files; None when they are fine."""
    warning: str | None = None

    @property
    def context_length(self) -> int | None:
        """The context the model was trained for."""
        return self.shape.context_length if self.shape else None

    @property
    def engine(self) -> registry.EngineSpec | None:
        """The engine that runs this format, or None when none does."""
        return registry.for_format(self.format)

    @property
    def ref(self) -> ModelRef:
        """The reference that loads this model."""
        spec = self.engine
        return ModelRef(spec.kind if spec else self.format, self.path)

    @property
    def reason(self) -> str | None:
        """Why the model cannot be used here (its files, or no engine here), or None."""
        if self.error is not None:
            return self.error
        spec = self.engine
        if spec is None:
            return f"no engine in llamatui runs {self.format.upper()} models"
        why = spec.unavailable()
        return f"{spec.label} {why}" if why else None

    @property
    def usable(self) -> bool:
        """Whether the model can be loaded on this machine."""
        return self.reason is None

    def to_json(self) -> dict[str, Any]:
        """Every field, for the cache and `llamatui models --json`."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelEntry:
        """The entry `to_json` wrote."""
        shape = data.get("shape")
        return cls(**(data | {"shape": Shape(**shape) if shape else None}))


def _gguf_entry(files: list[Path]) -> ModelEntry:
    first = files[0]
    size = sum(f.stat().st_size for f in files)
    m = SPLIT.match(first.name)
    name = m.group("stem") if m else first.stem
    entry = ModelEntry(path=str(first), name=name, format="gguf", size_bytes=size)
    entry.files = [str(f) for f in files]
    try:
        headers = [read_header(f) for f in files]
    except ModelFileError as e:
        entry.error = e.reason if len(files) == 1 else f"{Path(e.path).name}: {e.reason}"
        return entry
    h = headers[0]
    arch = h.architecture
    entry.architecture = arch
    entry.parameters = sum(x.parameters for x in headers)
    ftype = h.get_int("general.file_type")
    entry.quantization = FILE_TYPES.get(ftype, f"type {ftype}") if ftype is not None else None
    # The tensor data of every part of a split set.
    entry.shape = replace(gguf_shape(h), weights=sum(x.data_size for x in headers))
    entry.template = choose_template(h.chat_template, arch).name
    if arch == "unknown":
        entry.error = "the file does not say its architecture (general.architecture)"
    elif known_architecture(arch) is False:
        entry.error = (
            f"architecture {arch!r} is unknown to this llama.cpp "
            "(a newer llama-cpp-python may support it)"
        )
    return entry


def _is_ggml(path: Path) -> bool:
    """Whether a .bin file is a pre-GGUF llama.cpp model (other .bin files, PyTorch
    weights among them, are not models the library lists)."""
    try:
        with path.open("rb") as f:
            return f.read(4) in LEGACY_MAGICS
    except OSError:
        return False


def _ggml_entry(path: Path) -> ModelEntry:
    """An old GGML file: listed where the user looks, with what to do about it."""
    entry = ModelEntry(
        path=str(path), name=path.stem, format="ggml", size_bytes=path.stat().st_size
    )
    entry.files = [str(path)]
    try:
        read_header(path)
    except ModelFileError as e:
        entry.error = e.reason
    return entry


def _split_sets(paths: list[Path]) -> tuple[list[list[Path]], list[ModelEntry]]:
    """Group split GGUF files; incomplete sets come back as unusable entries."""
    groups: dict[tuple[Path, str, int], dict[int, Path]] = {}
    for p in paths:
        m = SPLIT.match(p.name)
        if m:
            key = (p.parent, m.group("stem"), int(m.group("count")))
            groups.setdefault(key, {})[int(m.group("no"))] = p
    sets: list[list[Path]] = []
    broken: list[ModelEntry] = []
    for (_parent, stem, count), parts in groups.items():
        missing = [n for n in range(1, count + 1) if n not in parts]
        ordered = [parts[n] for n in sorted(parts)]
        if missing:
            first = ordered[0]
            broken.append(
                ModelEntry(
                    path=str(first),
                    name=stem,
                    format="gguf",
                    size_bytes=sum(p.stat().st_size for p in ordered),
                    files=[str(p) for p in ordered],
                    error=f"split set is missing part {missing[0]} of {count}",
                )
            )
        else:
            sets.append(ordered)
    return sets, broken


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


def _folder_entry(folder: Path, safetensors: list[Path]) -> ModelEntry:
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
        entry.quantization = f"EXL3 {float(bits):.1f}bpw" if bits is not None else "EXL3"
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


def _signature(paths: Iterable[Path]) -> list[list[Any]]:
    out = []
    for p in paths:
        st = p.stat()
        out.append([str(p), st.st_size, st.st_mtime_ns])
    return out


class Library:
    """Scans model folders; remembers what it read, keyed on path, size and mtime."""

    def __init__(self, cache_path: Path | None = None) -> None:
        self.cache_path = cache_path
        self._cache: dict[str, Any] = self._load_cache()

    def _load_cache(self) -> dict[str, Any]:
        if self.cache_path is None:
            return {}
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def _save_cache(self, used: dict[str, Any]) -> None:
        if self.cache_path is None:
            return
        # A cache we cannot write is only slower next time.
        with contextlib.suppress(OSError):
            write_atomic(self.cache_path, json.dumps({"version": CACHE_VERSION, "entries": used}))
        self._cache = used

    def scan(self, folders: Iterable[Path]) -> list[ModelEntry]:
        """Every model in these folders (and their subfolders), by name."""
        files: list[Path] = []
        for folder in folders:
            if not folder.is_dir():
                continue
            for root, dirs, names in os.walk(folder, followlinks=False):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                files += [Path(root) / name for name in names]
        return self.scan_files(files)

    def scan_files(self, paths: Iterable[Path]) -> list[ModelEntry]:
        """The models these files make up: GGUF files, split sets, safetensors folders."""
        gguf: list[Path] = []
        ggml: list[Path] = []
        st_folders: dict[Path, list[Path]] = {}
        for p in paths:
            name = p.name.lower()
            if name.endswith(".gguf"):
                gguf.append(p)
            elif name.endswith(".safetensors"):
                st_folders.setdefault(p.parent, []).append(p)
            elif name.endswith(".bin") and _is_ggml(p):
                ggml.append(p)
        singles = [p for p in gguf if not SPLIT.match(p.name)]
        sets, broken = _split_sets(gguf)
        entries = list(broken) + [_ggml_entry(p) for p in ggml]
        used: dict[str, Any] = {}
        units: list[tuple[str, list[Path], Any]] = [(str(p), [p], None) for p in singles]
        units += [(str(s[0]), s, None) for s in sets]
        units += [(str(d), sorted(fs), d) for d, fs in st_folders.items()]
        for key, files, folder in units:
            try:
                sig = _signature(files + ([folder / "config.json"] if folder else []))
            except OSError:
                sig = None
            cached = self._cache.get(key)
            if sig is not None and cached and cached.get("sig") == sig:
                entry = ModelEntry.from_json(cached["entry"])
            elif folder is not None:
                entry = _folder_entry(folder, files)
            else:
                entry = _gguf_entry(files)
            if sig is not None:
                used[key] = {"sig": sig, "entry": entry.to_json()}
            entries.append(entry)
        self._save_cache(used)
        return sorted(entries, key=lambda e: (not e.usable, e.name.lower()))
