"""What one run of the app was asked to do (from the command line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from llamatui.engines.base import LoadOptions, SamplingParams
from llamatui.tui.context import Policy


@dataclass(frozen=True)
class Settings:
    """The model to chat with and how."""

    model_path: Path | None = None
    """The GGUF file; None means the default model."""
    load: LoadOptions = field(default_factory=LoadOptions)
    """Context size, threads and chat format for loading."""
    sampling: SamplingParams = field(default_factory=SamplingParams)
    """Sampling settings for every reply."""
    system_prompt: str | None = None
    """A system message sent before the conversation, when set."""
    model_dirs: tuple[Path, ...] = ()
    """Folders the model library scans; empty means the defaults."""
    context_policy: Policy = "trim"
    """When a conversation outgrows the context: "trim" old turns or "refuse"."""
