"""The models on disk: GGUF files (split sets counted once), EXL3 and HF folders,
and old GGML files that nothing runs any more.

Everything is read from file headers with capped readers (engines/gguf.py and the
safetensors header reader in engines/hf.py), never by loading a model; a model that cannot be
used here is listed with the reason: its files are wrong, or no engine that runs
its format can run on this machine (the registry says which and why). Results are
cached on (path, size, mtime), so a rescan reads only what changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from llamatui.engines.atomic import write_atomic
from llamatui.engines.gguf import LEGACY_MAGICS, ModelFileError, gguf_shape, read_header
from llamatui.engines.hf import folder_entry
from llamatui.engines.model_entry import ModelEntry
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import choose_template

__all__ = ["Library", "ModelEntry", "ref_for"]

SPLIT = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
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
    # Whether the installed llama.cpp knows the architecture is asked at each scan
    # (ModelEntry.reason), not cached with the file: an upgrade changes it.
    return entry


def _unreadable(path: Path, folder: Path | None) -> ModelEntry:
    where = folder or path
    name = where.name if folder else (path.stem if path.suffix == ".gguf" else path.name)
    return ModelEntry(
        path=str(where),
        name=name,
        format="hf" if folder else "gguf",
        size_bytes=0,
        files=[str(path)],
        error="cannot be read (a broken link, or no permission)",
    )


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

    def _cached(self, key: str, sig: list[list[Any]] | None) -> ModelEntry | None:
        """The cached entry of an unchanged model; None to read it again (also when
        the cache holds something this version does not understand)."""
        cached = self._cache.get(key)
        if sig is None or not isinstance(cached, dict) or cached.get("sig") != sig:
            return None
        try:
            return ModelEntry.from_json(cached["entry"])
        except (TypeError, KeyError, AttributeError, ValueError):
            return None

    def scan(self, folders: Iterable[Path], also: Iterable[Path] = ()) -> list[ModelEntry]:
        """Every model in these folders (and their subfolders), and the model files
        `also` names (the packaged ones) unless a folder holds them already, by name."""
        files: list[Path] = []
        for folder in folders:
            if not folder.is_dir():
                continue
            for root, dirs, names in os.walk(folder, followlinks=False):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                files += [Path(root) / name for name in names]
        # Folder files stay as they are found (links too: a Hugging Face cache's
        # snapshot links point at blobs whose names say nothing).
        if extra := list(also):  # resolving every link costs: only when there is one
            found = {os.path.realpath(f) for f in files}
            files += [f for f in extra if os.path.realpath(f) not in found]
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
                # A folder's config.json counts when it is there (a folder without
                # one is listed with that reason).
                config = [folder / "config.json"] if folder else []
                sig = _signature(files + [c for c in config if c.exists()])
            except OSError:
                sig = None
            entry = self._cached(key, sig)
            if entry is not None:
                pass
            elif sig is None:  # a broken link, or a file that went away mid-scan
                entry = _unreadable(files[0], folder)
            elif folder is not None:
                entry = folder_entry(folder, files)
            else:
                entry = _gguf_entry(files)
            if sig is not None:
                used[key] = {"sig": sig, "entry": entry.to_json()}
            entries.append(entry)
        self._save_cache(used)
        return sorted(entries, key=lambda e: (not e.usable, e.name.lower()))


def ref_for(path: Path) -> ModelRef:
    """The reference that loads the model at `path`: a folder of safetensors is what
    the library makes of it (EXL3, HF; its own files only, not a scan below it),
    anything else a GGUF file for llama.cpp (whose header check says what is wrong
    with a file that is not one)."""
    files = sorted(path.glob("*.safetensors")) if path.is_dir() else []
    if files:
        return folder_entry(path, files).ref
    return ModelRef("llamacpp", str(path))
