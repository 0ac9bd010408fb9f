"""The TOML config file: read with tomllib into a validated, frozen object, written
with tomli-w atomically.

A config is never written over while it is wrong. The app starts on every good
setting in it and lists every wrong one at once, each with its line; one that does
not parse runs the defaults.

```toml
model_dirs = ["~/models", "/data/gguf"]
context_policy = "trim"                # or "refuse", when a chat outgrows the context
mouse = false                          # leave the mouse to the terminal (selection)

[keymap]                               # keys by binding id (F1 lists them)
"chat.toggle_conversations" = "f2,ctrl+e"

[models."SmolLM2-135M-Instruct.Q4_1"]   # per-model profile, by model name
ctx = 8192
chat_format = "chatml"                 # instead of the model's own template
preset = "precise"                     # balanced | precise | creative | greedy | yours
system_prompt = "You are terse."

[presets.code]                         # a sampling preset of your own
temperature = 0.1
top_k = 10
stop = ["\n```\n"]

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

import re
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
from llamatui.tui.chat.sampling import BUILTIN_PRESETS, check_table
from llamatui.tui.paths import default_model_dirs


class ConfigError(Exception):
    """The config file is wrong; the message says where and how."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key
        """The setting that is wrong, where one is."""


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
    """The sampling preset: balanced, precise, creative, greedy, or one of the user's."""
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
    keymap: dict[str, str] = field(default_factory=dict)
    """Keys by binding id (`[keymap]`, `"chat.new_chat" = "ctrl+n"`), the app's own
    for the rest."""
    mouse: bool = True
    """False leaves the mouse to the terminal (its own text selection)."""
    presets: dict[str, SamplingParams] = field(default_factory=dict)
    """The user's own sampling presets (`[presets.NAME]`), beside the built-in ones."""


def load_config(path: Path) -> Config:
    """The config in `path`, or the defaults when there is no file; strict.

    Raises:
        ConfigError: the file cannot be read, does not parse, or has a wrong value
            (every one, a line each).
    """
    config, problems = read_config(path)
    if problems:
        raise ConfigError("\n".join(problems))
    return config


def read_config(path: Path) -> tuple[Config, list[str]]:
    """The config in `path` with every good setting applied, and every problem, a
    line each with where it is (the app starts on what is good and lists the rest).

    Raises:
        ConfigError: the file cannot be read or is not TOML: nothing in it applies.
    """
    text = _text(path)
    data = _parse(path, text)
    problems = Problems(path, text)
    return _validate(problems, data), problems.found


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot be read ({e})") from None


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def _read(path: Path) -> dict[str, Any]:
    return _parse(path, _text(path))


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"^\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.-]+)\s*=")


class Problems:
    """What is wrong with a config, each told with the line it is on."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.found: list[str] = []
        self._lines: dict[tuple[str, str], int] = {}
        table = ""
        arrays: dict[str, int] = {}
        for n, line in enumerate(text.splitlines(), 1):
            if header := _HEADER.match(line):
                table = header.group(1).replace('"', "").replace("'", "")
                if line.lstrip().startswith("[["):  # the Nth [[table]]: "table#N"
                    arrays[table] = arrays.get(table, 0) + 1
                    table = f"{table}#{arrays[table]}"
                self._lines.setdefault((table, ""), n)
            elif key := _KEY.match(line):
                self._lines.setdefault((table, key.group(1).strip("\"'")), n)

    def add(self, where: str, message: str, *, table: str = "", key: str = "") -> None:
        """Note one problem: `where` names it for the user, `table` and `key` find it."""
        line = self._lines.get((table, key)) or self._lines.get((table, ""))
        at = f"{self.path}, line {line}" if line else str(self.path)
        self.found.append(f"{at}: {where}{message}")


def _validate(problems: Problems, data: dict[str, Any]) -> Config:
    known = ("model_dirs", "models", "context_policy", "remotes", "keymap", "mouse", "presets")
    config = Config()
    for key in sorted(set(data) - set(known)):
        problems.add("", f"unknown setting {key!r} (known: {', '.join(known)})", key=key)
    dirs = data.get("model_dirs")
    if dirs is not None:
        if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
            problems.add(
                "", 'model_dirs must be a list of folders, like ["~/models"]', key="model_dirs"
            )
        else:
            config = replace(config, model_dirs=tuple(Path(d).expanduser() for d in dirs))
    policy = data.get("context_policy")
    if policy is not None and policy not in POLICIES:
        problems.add(
            "", f"context_policy must be one of {', '.join(POLICIES)}", key="context_policy"
        )
    elif policy is not None:
        config = replace(config, context_policy=policy)
    mouse = data.get("mouse")
    if mouse is not None and not isinstance(mouse, bool):
        problems.add("", "mouse must be true or false", key="mouse")
    elif mouse is not None:
        config = replace(config, mouse=mouse)
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in keymap.items()
    ):
        problems.add(
            "",
            '[keymap] must map key ids to keys, like "chat.new_chat" = "ctrl+n"',
            table="keymap",
            key="keymap",
        )
    else:
        config = replace(config, keymap=dict(keymap))
    models = data.get("models", {})
    if not isinstance(models, dict):
        problems.add("", "[models] must be a table of per-model profiles", key="models")
        models = {}
    presets = _presets(problems, data.get("presets", {}))
    names = [*BUILTIN_PRESETS, *presets]
    profiles = {name: _profile(problems, name, table, names) for name, table in models.items()}
    remotes = data.get("remotes", [])
    if not isinstance(remotes, list):
        problems.add("", "remotes must be [[remotes]] tables", key="remotes")
        remotes = []
    servers = []
    for i, table in enumerate(remotes):
        try:
            servers.append(_remote(i, table))
        except ConfigError as e:  # a server with a wrong setting is left out whole
            problems.add(f"[[remotes]] #{i + 1}: ", str(e), table=f"remotes#{i + 1}", key=e.key)
    return replace(config, profiles=profiles, remotes=tuple(servers), presets=presets)


def _presets(problems: Problems, tables: Any) -> dict[str, SamplingParams]:
    """The user's presets: each over the defaults, with its good settings."""
    if not isinstance(tables, dict):
        problems.add("", "[presets] must be a table of named presets", key="presets")
        return {}
    presets = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            problems.add(f'[presets."{name}"]: ', "must be a table", table=f"presets.{name}")
            continue
        good, bad = check_table(table)
        for key, message in bad:
            problems.add(f'[presets."{name}"]: ', message, table=f"presets.{name}", key=key)
        presets[name] = replace(BUILTIN_PRESETS["balanced"], **good)
    return presets


REMOTE_KEYS = ("name", "url", "api_key_env", "api_key_file", "model")


def _remote(i: int, table: Any) -> RemoteServer:
    if not isinstance(table, dict):
        raise ConfigError("must be a table")
    for key, value in table.items():
        if key not in REMOTE_KEYS:
            raise ConfigError(f"unknown setting {key!r} (known: {', '.join(REMOTE_KEYS)})", key)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key} must be text", key)
    url = table.get("url", "")
    if not url.startswith(("http://", "https://")):
        raise ConfigError('url must be the server\'s base URL, like "http://host:8080/v1"', "url")
    url = base_url(url)
    if "api_key_env" in table and "api_key_file" in table:
        raise ConfigError("give api_key_env or api_key_file, not both", "api_key_file")
    return RemoteServer(
        name=table.get("name") or url,
        url=url,
        api_key_env=table.get("api_key_env"),
        api_key_file=table.get("api_key_file"),
        model=table.get("model"),
    )


def _profile(problems: Problems, name: str, table: Any, presets: list[str]) -> Profile:
    """A model's profile: its good settings; each wrong one told and left out."""
    where = f'[models."{name}"]'
    section = f"models.{name}"

    def bad(message: str, key: str = "", sub: str = "") -> None:
        problems.add(f"{where}{sub}: ", message, table=section + sub, key=key)

    if not isinstance(table, dict):
        bad("must be a table")
        return Profile()
    engines: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        if key in LEGACY_ENGINE_KEYS:
            kind, value = LEGACY_ENGINE_KEYS[key], {key: value}
        elif key in registry.REGISTRY:
            if not isinstance(value, dict):
                bad(f"{key} must be a table of {key} options", key)
                continue
            kind = key
        elif key in COMMON_KEYS:
            continue
        else:
            known = ", ".join(
                [*COMMON_KEYS, *(s.kind for s in registry.REGISTRY.values() if s.listed)]
            )
            bad(f"unknown setting {key!r} (known: {known})", key)
            continue
        both = sorted(set(engines.get(kind, {})) & set(value))
        if both:
            bad(f"{both[0]} is set twice, at the top and in .{kind}: keep one", both[0])
            continue
        engines.setdefault(kind, {}).update(value)
    for kind, values in list(engines.items()):
        try:
            engines[kind] = validate_options(registry.get(kind).options, values)
        except OptionError as e:
            bad(str(e), sub=f".{kind}")
            del engines[kind]
    common = {k: table[k] for k in COMMON_KEYS if k in table}
    ctx = common.get("ctx")
    if ctx is not None and (isinstance(ctx, bool) or not isinstance(ctx, int) or ctx < CTX_MIN):
        bad(f"ctx must be a whole number, {CTX_MIN} or more", "ctx")
        del common["ctx"]
    fmt = common.get("chat_format")
    if fmt is not None and fmt not in NAMED_FORMATS:
        bad(f"chat_format must be one of {', '.join(sorted(NAMED_FORMATS))}", "chat_format")
        del common["chat_format"]
    preset = common.get("preset")
    if preset is not None and preset not in presets:
        bad(f"preset must be one of {', '.join(presets)}", "preset")
        del common["preset"]
    prompt = common.get("system_prompt")
    if prompt is not None and not isinstance(prompt, str):
        bad("system_prompt must be text", "system_prompt")
        del common["system_prompt"]
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
    load_config(path)  # never rewrite a file that is wrong
    table = _profile_table(profile)
    models = data.setdefault("models", {})
    if table:
        models[name] = table
    else:
        models.pop(name, None)
    problems = Problems(path, "")
    config = _validate(problems, data)  # what is written must read back
    if problems.found:
        raise ConfigError("\n".join(problems.found))
    try:
        write_atomic(path, tomli_w.dumps(data))
    except OSError as e:
        raise ConfigError(f"{path}: cannot be written ({e.strerror})") from None
    return config
