"""A model reference: which engine runs a model, and where the model is.

The library, the recent list, the palette, profiles and every stored reply carry
one of these, so which engine and format a model needs is never lost on the way.
As text it reads `engine:location` or, for a model on a server,
`engine:location#model-id` (`llamacpp:/models/x.gguf`,
`remote:http://gpu-box:8080/v1#qwen3-32b`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

# An engine kind is a short identifier; anything else before a colon is part of a
# path ("C:\\models" on Windows) or a legacy plain path.
_KIND = re.compile(r"^(?P<kind>[a-z][a-z0-9_]{1,19}):(?P<rest>.*)$", re.DOTALL)
LEGACY_KIND = "llamacpp"
"""Replies saved before references existed name a GGUF path: llama.cpp ran them."""


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("#", "%23")


def _unescape(text: str) -> str:
    return text.replace("%23", "#").replace("%25", "%")


@dataclass(frozen=True)
class ModelRef:
    """Which engine runs a model, and where the model is."""

    engine: str
    """The engine's kind in the registry: "llamacpp", "exllama", "remote"..."""
    location: str
    """A GGUF file, a model folder, or a server's base URL."""
    model: str | None = None
    """The model's id on a server; None for files and folders."""

    @property
    def name(self) -> str:
        """What the user recognises: the file name without .gguf, the folder's
        name, or the model id on a server."""
        if self.model:
            return self.model
        path = PurePath(self.location)
        return path.stem if path.suffix.lower() == ".gguf" else path.name

    def __str__(self) -> str:
        text = f"{self.engine}:{_escape(self.location)}"
        return f"{text}#{_escape(self.model)}" if self.model is not None else text

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """The reference written by `str()`; a bare path is a llama.cpp model (the
        way replies and the recent list named models before references)."""
        m = _KIND.match(text)
        if m is None:
            return cls(LEGACY_KIND, text)
        rest = m.group("rest")
        location, sep, model = rest.partition("#")
        return cls(m.group("kind"), _unescape(location), _unescape(model) if sep else None)
