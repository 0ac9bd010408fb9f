"""A bounded reader for GGUF file headers.

It answers "is this a usable GGUF file, and what is in it?" without loading the model
and without trusting any length in the file: every count and string length is capped,
so a hostile or broken file costs at most a few megabytes and a few milliseconds.

The `gguf` package's `GGUFReader` memory-maps the whole file and decodes every array
(a 256k-entry vocabulary included); a chat app needs a fast yes/no with a reason, so
this small reader is written here instead.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from llamatui.engines.estimate import Shape

GGUF_MAGIC = b"GGUF"

# Magic numbers of the pre-GGUF formats, as they appear on disk (little-endian).
LEGACY_MAGICS = {
    b"lmgg": "GGML",
    b"fmgg": "GGMF",
    b"tjgg": "GGJT",
    b"algg": "GGLA",
}

MAX_STRING = 16 * 1024 * 1024
MAX_ARRAY = 16 * 1024 * 1024
MAX_KV = 65_536
MAX_TENSORS = 1_000_000
MAX_DIMS = 8
# Arrays longer than this are summarised by their length instead of being kept.
KEEP_ARRAY = 64

# (block size, bytes per block) of each ggml tensor type, from ggml's type traits.
GGML_TYPE_SIZES: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
    8: (32, 34), 9: (32, 40), 10: (256, 84), 11: (256, 110), 12: (256, 144),
    13: (256, 176), 14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74),
    18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8),
    29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17),
    40: (64, 36), 41: (128, 18),
}  # fmt: skip

_SCALARS: dict[int, str] = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip
_STRING = 8
_ARRAY = 9


class ModelFileError(Exception):
    """A model file that cannot be used, with a reason a person understands."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(path).name}: {reason}")


@dataclass(frozen=True)
class ArrayInfo:
    """A long metadata array, kept as its element type and length only."""

    type: int
    length: int


@dataclass
class GGUFHeader:
    """What a GGUF header says about its model."""

    path: Path
    version: int
    metadata: dict[str, object] = field(default_factory=dict)
    tensor_count: int = 0
    parameters: int = 0
    """Elements in all tensors: the parameter count."""
    data_offset: int = 0
    data_size: int = 0
    file_size: int = 0

    @property
    def architecture(self) -> str:
        """The `general.architecture` value, or "unknown"."""
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else "unknown"

    @property
    def chat_template(self) -> str | None:
        """The model's own chat template, when the file has one."""
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value.strip() else None

    def get_int(self, key: str) -> int | None:
        """An integer metadata value, or None when absent or of another type."""
        value = self.metadata.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Truncated(Exception):
    pass


class _Reader:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    def take(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise _Truncated
        return data

    def unpack(self, fmt: str) -> object:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def u32(self) -> int:
        value: int = struct.unpack("<I", self.take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack("<Q", self.take(8))[0]
        return value

    def string(self, what: str) -> str:
        n = self.u64()
        if n > MAX_STRING:
            raise ValueError(f"{what} claims a length of {n:,} bytes")
        return self.take(n).decode("utf-8", errors="replace")

    def skip_string(self, what: str) -> None:
        n = self.u64()
        if n > MAX_STRING:
            raise ValueError(f"{what} claims a length of {n:,} bytes")
        self.f.seek(n, 1)

    def value(self, vtype: int, key: str) -> object:
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string(f"metadata value {key!r}")
        if vtype == _ARRAY:
            etype = self.u32()
            n = self.u64()
            if n > MAX_ARRAY:
                raise ValueError(f"metadata array {key!r} claims {n:,} elements")
            if n <= KEEP_ARRAY:
                return [self.value(etype, key) for _ in range(n)]
            self.skip_array(etype, n, key)
            return ArrayInfo(etype, n)
        raise ValueError(f"metadata {key!r} has an unknown value type {vtype}")

    def skip_array(self, etype: int, n: int, key: str) -> None:
        if etype in _SCALARS:
            self.f.seek(struct.calcsize(_SCALARS[etype]) * n, 1)
        elif etype == _STRING:
            self._skip_strings(n, key)
        else:
            raise ValueError(f"metadata array {key!r} has element type {etype}")

    def _skip_strings(self, n: int, key: str) -> None:
        """Skip n length-prefixed strings, walking a buffer rather than seeking each."""
        buf = b""
        pos = 0
        unpack = struct.unpack_from
        for _ in range(n):
            if len(buf) - pos < 8:
                buf = buf[pos:] + self.f.read(1 << 20)
                pos = 0
                if len(buf) < 8:
                    raise _Truncated
            (length,) = unpack("<Q", buf, pos)
            if length > MAX_STRING:
                raise ValueError(f"metadata array {key!r} claims a length of {length:,} bytes")
            pos += 8 + length
            if pos > len(buf):
                # The string runs past the buffer: seek past its rest.
                self.f.seek(pos - len(buf), 1)
                buf = b""
                pos = 0
        # Hand back what was read ahead.
        self.f.seek(pos - len(buf), 1)


def read_header(path: str | Path) -> GGUFHeader:
    """Read and check a GGUF file's header.

    Raises:
        ModelFileError: the file is missing, not GGUF, a legacy GGML file, corrupt,
            or shorter than its header says.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        f = p.open("rb")
    except FileNotFoundError:
        raise ModelFileError(p, "the file does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(p, "this is a folder, not a GGUF file") from None
    except OSError as e:
        raise ModelFileError(p, f"cannot be read ({e.strerror})") from None
    with f:
        magic = f.read(4)
        if magic in LEGACY_MAGICS:
            raise ModelFileError(
                p,
                f"this is an old {LEGACY_MAGICS[magic]} model file, which llama.cpp no "
                "longer reads: it must be converted to GGUF (llama.cpp's "
                "convert_llama_ggml_to_gguf.py), or download a GGUF version of the model",
            )
        if magic != GGUF_MAGIC:
            if len(magic) < 4:
                raise ModelFileError(p, f"the file is only {size} bytes: not a GGUF file")
            raise ModelFileError(p, "not a GGUF model file (it does not start with 'GGUF')")
        try:
            return _read_body(p, _Reader(f), size)
        except _Truncated:
            raise ModelFileError(
                p, "the file is truncated: it ends inside its header (incomplete download?)"
            ) from None
        except (ValueError, UnicodeDecodeError, struct.error) as e:
            raise ModelFileError(p, f"the GGUF header is corrupt: {e}") from None


def _read_body(p: Path, r: _Reader, size: int) -> GGUFHeader:
    version = r.u32()
    if version not in (2, 3):
        raise ValueError(f"unsupported GGUF version {version}")
    n_tensors = r.u64()
    n_kv = r.u64()
    if n_tensors > MAX_TENSORS:
        raise ValueError(f"it claims {n_tensors:,} tensors")
    if n_kv > MAX_KV:
        raise ValueError(f"it claims {n_kv:,} metadata entries")
    header = GGUFHeader(path=p, version=version, tensor_count=n_tensors, file_size=size)
    for _ in range(n_kv):
        key = r.string("a metadata key")
        header.metadata[key] = r.value(r.u32(), key)
    end = 0
    for _ in range(n_tensors):
        name = r.string("a tensor name")
        n_dims = r.u32()
        if n_dims > MAX_DIMS:
            raise ValueError(f"tensor {name!r} claims {n_dims} dimensions")
        n_elements = 1
        for _ in range(n_dims):
            n_elements *= r.u64()
        ttype = r.u32()
        offset = r.u64()
        header.parameters += n_elements
        block, nbytes = GGML_TYPE_SIZES.get(ttype, (0, 0))
        tensor_end = offset + (n_elements // block * nbytes if block else 0)
        end = max(end, tensor_end)
    align = header.get_int("general.alignment") or 32
    pos = r.f.tell()
    header.data_offset = pos + (-pos % align)
    header.data_size = end
    if header.data_offset + end > size:
        missing = header.data_offset + end - size
        raise _TruncatedData(p, missing, header.data_offset + end, size)
    return header


class _TruncatedData(ModelFileError):
    def __init__(self, p: Path, missing: int, expected: int, size: int) -> None:
        super().__init__(
            p,
            f"the file is truncated: its tensors need {expected:,} bytes but the file "
            f"has {size:,} ({missing:,} missing; incomplete download?)",
        )


def _int(h: GGUFHeader, key: str) -> int | None:
    return h.get_int(f"{h.architecture}.{key}")


def gguf_shape(h: GGUFHeader) -> Shape:
    """What the memory estimate needs, from a GGUF header (one file's tensor data)."""
    n_head = _int(h, "attention.head_count")
    n_embd = _int(h, "embedding_length")
    head_dim = n_embd // n_head if n_embd and n_head else None
    tokens = h.metadata.get("tokenizer.ggml.tokens")
    return Shape(
        weights=h.data_size,
        n_layer=_int(h, "block_count"),
        n_head_kv=_int(h, "attention.head_count_kv") or n_head,
        key_length=_int(h, "attention.key_length") or head_dim,
        value_length=_int(h, "attention.value_length") or head_dim,
        n_vocab=tokens.length if isinstance(tokens, ArrayInfo) else _int(h, "vocab_size"),
        context_length=_int(h, "context_length"),
    )
