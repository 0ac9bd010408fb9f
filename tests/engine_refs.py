"""Model references for the test models."""

from __future__ import annotations

from pathlib import Path

from llamatui.engines.refs import ModelRef


def gguf(path: Path | str) -> ModelRef:
    """A GGUF file on llama.cpp."""
    return ModelRef("llamacpp", str(path))
