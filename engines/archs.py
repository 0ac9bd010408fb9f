"""Which model architectures the installed llama.cpp knows, without importing it."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path


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


@lru_cache(maxsize=256)
def known_architecture(arch: str) -> bool | None:
    """Whether the installed llama.cpp knows `arch`; None when it cannot be told.
    (Once per name and process: an unknown one searches all 12 MB, and the library
    screen asks again as rows are drawn.)"""
    binary = _llama_binary()
    if binary is None:
        return None
    # Linkers merge string tails ("qwen2" may live at the end of a longer name),
    # so match the name and its terminator, not the byte before it.
    return arch.encode() + b"\x00" in binary


def llamacpp_architecture_check(arch: str) -> str | None:
    """Why the installed llama.cpp cannot run a model of this architecture, or None."""
    if known_architecture(arch) is False:
        return (
            f"architecture {arch!r} is unknown to this llama.cpp "
            "(a newer llama-cpp-python may support it)"
        )
    return None
