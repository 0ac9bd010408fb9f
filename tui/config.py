"""The TOML config file: read with tomllib into a validated, frozen object, written
with tomli-w atomically.

A config that does not parse or has a wrong value is never used in part and never
written over: the app runs on defaults and says what is wrong, where.

```toml
model_dirs = ["~/models", "/data/gguf"]
context_policy = "trim"                # or "refuse", when a chat outgrows the context

[models."SmolLM2-135M-Instruct.Q4_1"]   # per-model profile, by model name
ctx = 8192
chat_format = "chatml"                 # instead of the model's own template
preset = "precise"                     # balanced | precise | creative | greedy
system_prompt = "You are terse."

[models."SmolLM2-135M-Instruct.Q4_1".llamacpp]   # the engine's own options
threads = 4
gpu_layers = 0

[[remotes]]                            # an OpenAI-compatible server
name = "gpu-box"
url = "http://localhost:8080/v1"
api_key_env = "GPU_BOX_KEY"            # or api_key_file = "~/.config/llamatui/gpu-box.key"
model = "qwen3-32b"                    # the model --remote uses when none is named
```

Each engine's options are declared in the engine registry and checked against it.
`threads` and `gpu_layers` at the top of a profile (as configs before engine tables
wrote them) are read as llama.cpp's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from llamatui.engines import registry
from llamatui.engines.atomic import write_atomic
from llamatui.engines.options import OptionError, validate_options
from llamatui.engines.protocol import CTX_MIN, SamplingParams
from llamatui.engines.remote import RemoteServer, base_url
from llamatui.engines.templates import NAMED_FORMATS
from llamatui.tui.chat.context import POLICIES, Policy
from llamatui.tui.paths import default_model_dirs

PRESETS: dict[str, SamplingParams] = {
    "balanced": SamplingParams(),
    "precise": SamplingParams(temperature=0.2, top_k=20, top_p=0.9, min_p=0.1),
    "creative": SamplingParams(temperature=1.0, top_k=0, top_p=0.98, min_p=0.02),
    "greedy": SamplingParams(temperature=0.0),
}


class ConfigError(Exception):
    """The config file is wrong; the message says where and how."""


# Profile settings before engine tables: they were llama.cpp's.
LEGACY_ENGINE_KEYS = {"threads": "llamacpp", "gpu_layers": "llamacpp"}


@dataclass(frozen=True)
class Profile:
    """How to run one model; None leaves the global setting."""

    ctx: int | None = None
    """Context size in tokens."""
    chat_format: str | None = None
    """A named chat format to use instead of the model's own template."""
    preset: str | None = None
    """The sampling preset: balanced, precise, creative or greedy."""
    system_prompt: str | None = None
    """A system prompt for conversations with this model."""
    engines: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each engine's own options, by engine kind (`[models.NAME.llamacpp]`)."""

    def options_for(self, kind: str) -> dict[str, Any]:
        """The options this profile sets for one engine."""
        return dict(self.engines.get(kind, {}))


COMMON_KEYS = ("ctx", "chat_format", "preset", "system_prompt")


@dataclass(frozen=True)
class Config:
    """Settings from config.toml."""

    model_dirs: tuple[Path, ...] = field(default_factory=lambda: tuple(default_model_dirs()))
    """Folders the model library scans (`model_dirs = ["~/models", ...]`)."""
    profiles: dict[str, Profile] = field(default_factory=dict)
    """Per-model profiles, by model name (ModelRef.name: the file name without .gguf,
    the folder's name, the model id on a server)."""
    context_policy: Policy = "trim"
    """When a conversation outgrows the context: "trim" the oldest turns, or "refuse"."""
    remotes: tuple[RemoteServer, ...] = ()
    """OpenAI-compatible servers whose models the library lists (`[[remotes]]`)."""


def load_config(path: Path) -> Config:
    """The config in `path`, or the defaults when there is no file.

    Raises:
        ConfigError: the file cannot be read, does not parse, or has a wrong value.
    """
    return _validate(path, _read(path))


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot be read ({e})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def _validate(path: Path, data: dict[str, Any]) -> Config:
    known = ("model_dirs", "models", "context_policy", "remotes")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(known)})")
    config = Config()
    dirs = data.get("model_dirs")
    if dirs is not None:
        if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
            raise ConfigError(f'{path}: model_dirs must be a list of folders, like ["~/models"]')
        config = replace(config, model_dirs=tuple(Path(d).expanduser() for d in dirs))
    policy = data.get("context_policy")
    if policy is not None:
        if policy not in POLICIES:
            raise ConfigError(f"{path}: context_policy must be one of {', '.join(POLICIES)}")
        config = replace(config, context_policy=policy)
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise ConfigError(f"{path}: [models] must be a table of per-model profiles")
    profiles = {name: _profile(path, name, table) for name, table in models.items()}
    remotes = data.get("remotes", [])
    if not isinstance(remotes, list):
        raise ConfigError(f"{path}: remotes must be [[remotes]] tables")
    servers = tuple(_remote(path, i, table) for i, table in enumerate(remotes))
    return replace(config, profiles=profiles, remotes=servers)


REMOTE_KEYS = ("name", "url", "api_key_env", "api_key_file", "model")


def _remote(path: Path, i: int, table: Any) -> RemoteServer:
    where = f"{path}: [[remotes]] #{i + 1}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    for key, value in table.items():
        if key not in REMOTE_KEYS:
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(REMOTE_KEYS)})")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: {key} must be text")
    url = table.get("url", "")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f'{where}: url must be the server\'s base URL, like "http://host:8080/v1"'
        )
    url = base_url(url)
    if "api_key_env" in table and "api_key_file" in table:
        raise ConfigError(f"{where}: give api_key_env or api_key_file, not both")
    return RemoteServer(
        name=table.get("name") or url,
        url=url,
        api_key_env=table.get("api_key_env"),
        api_key_file=table.get("api_key_file"),
        model=table.get("model"),
    )


def _profile(path: Path, name: str, table: Any) -> Profile:
    where = f'{path}: [models."{name}"]'
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    engines: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        if key in LEGACY_ENGINE_KEYS:
            kind, value = LEGACY_ENGINE_KEYS[key], {key: value}
        elif key in registry.REGISTRY:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key} must be a table of {key} options")
            kind = key
        else:
            kind = ""
        if kind:
            both = sorted(set(engines.get(kind, {})) & set(value))
            if both:
                raise ConfigError(
                    f"{where}: {both[0]} is set twice, at the top and in .{kind}: keep one"
                )
            engines.setdefault(kind, {}).update(value)
        if not kind and key not in COMMON_KEYS:
            known = ", ".join(
                [*COMMON_KEYS, *(s.kind for s in registry.REGISTRY.values() if s.listed)]
            )
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {known})")
    for kind, values in engines.items():
        try:
            engines[kind] = validate_options(registry.get(kind).options, values)
        except OptionError as e:
            raise ConfigError(f"{where}.{kind}: {e}") from None
    ctx = table.get("ctx")
    if ctx is not None and (isinstance(ctx, bool) or not isinstance(ctx, int) or ctx < CTX_MIN):
        raise ConfigError(f"{where}: ctx must be a whole number, {CTX_MIN} or more")
    fmt = table.get("chat_format")
    if fmt is not None and fmt not in NAMED_FORMATS:
        raise ConfigError(f"{where}: chat_format must be one of {', '.join(sorted(NAMED_FORMATS))}")
    preset = table.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"{where}: preset must be one of {', '.join(PRESETS)}")
    prompt = table.get("system_prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise ConfigError(f"{where}: system_prompt must be text")
    common = {k: table[k] for k in COMMON_KEYS if k in table}
    return Profile(**common, engines={k: v for k, v in engines.items() if v})


def _profile_table(profile: Profile) -> dict[str, Any]:
    table: dict[str, Any] = {
        k: getattr(profile, k) for k in COMMON_KEYS if getattr(profile, k) is not None
    }
    for kind, values in profile.engines.items():
        values = {k: v for k, v in values.items() if v is not None}
        if values:
            table[kind] = values
    return table


def save_profile(path: Path, name: str, profile: Profile) -> Config:
    """Store a model's profile in the config file, keeping everything else in it;
    the config as it is now.

    Raises:
        ConfigError: the file does not parse (it is not written over) or cannot be
            written.
    """
    data = _read(path)
    _validate(path, data)  # never rewrite a file that is wrong
    table = _profile_table(profile)
    models = data.setdefault("models", {})
    if table:
        models[name] = table
    else:
        models.pop(name, None)
    config = _validate(path, data)  # what is written must read back
    try:
        write_atomic(path, tomli_w.dumps(data))
    except OSError as e:
        raise ConfigError(f"{path}: cannot be written ({e.strerror})") from None
    return config
