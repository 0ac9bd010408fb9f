"""What one run of the app was asked to do (the command line and the config)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.remote import RemoteServer, base_url
from llamatui.tui.chat.context import Policy
from llamatui.tui.chat.sampling import BUILTIN_PRESETS
from llamatui.tui.config import Profile
from llamatui.tui.paths import default_model_dirs


@dataclass(frozen=True)
class Settings:
    """The model to chat with and how."""

    model: ModelRef | None = None
    """The model to start with; None means the default model."""
    load: LoadOptions = field(default_factory=LoadOptions)
    """Context size and chat format for loading, whatever the engine."""
    engine_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Engine options from the command line, by engine kind (`--threads` is llama.cpp's)."""
    sampling: SamplingParams = field(default_factory=SamplingParams)
    """Sampling settings for every reply."""
    system_prompt: str | None = None
    """A system message sent before the conversation, when set."""
    model_dirs: tuple[Path, ...] = ()
    """Folders the model library scans; empty means the defaults."""
    context_policy: Policy = "trim"
    """When a conversation outgrows the context: "trim" old turns or "refuse"."""
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    """Per-model profiles from the config file, by model name."""
    remotes: tuple[RemoteServer, ...] = ()
    """OpenAI-compatible servers from the config (`[[remotes]]`)."""
    keymap: Mapping[str, str] = field(default_factory=dict)
    """Keys by binding id, from the config's [keymap]."""
    presets: Mapping[str, SamplingParams] = field(default_factory=lambda: dict(BUILTIN_PRESETS))
    """Sampling presets by name: the built-in ones and the config's [presets]."""

    def server_options(self, ref: ModelRef) -> dict[str, str]:
        """Where the API key of a remote model's server is, when the config names that
        server ([[remotes]]); nothing for other models."""
        if ref.engine != "remote":
            return {}
        url = base_url(ref.location)
        server = next((r for r in self.remotes if r.url == url), None)
        return server.key_options() if server is not None else {}

    def load_options(self, ref: ModelRef, profile: Profile) -> LoadOptions:
        """The command line's options under the model's profile, for its engine."""
        base = self.load
        engine = dict(self.engine_options.get(ref.engine, {}))
        engine.update(self.server_options(ref))
        engine.update(profile.options_for(ref.engine))
        return LoadOptions(
            n_ctx=profile.ctx or base.n_ctx,
            chat_format=profile.chat_format or base.chat_format,
            engine=engine,
        )

    def library_folders(self) -> list[Path]:
        """Where the model library looks: --models-dir or the config's, else the defaults."""
        return list(self.model_dirs) or default_model_dirs()
