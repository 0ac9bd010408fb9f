"""One model in the library: what its files say, and whether it can run here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from llamatui.engines import registry
from llamatui.engines.estimate import Shape
from llamatui.engines.refs import ModelRef

Format = Literal["gguf", "exl3", "hf", "ggml", "remote"]


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
    model_id: str | None = None
    """The model's id on a server (a remote entry); None for files and folders."""

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
        return ModelRef(spec.kind if spec else self.format, self.path, self.model_id)

    @property
    def reason(self) -> str | None:
        """Why the model cannot be used here (its files, or no engine here), or None."""
        if self.error is not None:
            return self.error
        spec = self.engine
        if spec is None:
            return f"no engine in llamatui runs {self.format.upper()} models"
        why = spec.unavailable()
        if why:
            return f"{spec.label} {why}"
        if spec.architecture_check is not None and self.architecture:
            return spec.architecture_check(self.architecture)
        return None

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
