"""The TOML config file: read with tomllib into a validated, frozen object.

A config that does not parse or has a wrong value is never used in part and never
written over: the app runs on defaults and says what is wrong, where.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llamatui.tui.paths import default_model_dirs


class ConfigError(Exception):
    """The config file is wrong; the message says where and how."""


@dataclass(frozen=True)
class Config:
    """Settings from config.toml."""

    model_dirs: tuple[Path, ...] = field(default_factory=lambda: tuple(default_model_dirs()))
    """Folders the model library scans (`model_dirs = ["~/models", ...]`)."""


def load_config(path: Path) -> Config:
    """The config in `path`, or the defaults when there is no file.

    Raises:
        ConfigError: the file cannot be read, does not parse, or has a wrong value.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot be read ({e})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return _validate(path, data)


def _validate(path: Path, data: dict[str, Any]) -> Config:
    known = {"model_dirs"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(known)})")
    dirs = data.get("model_dirs")
    if dirs is None:
        return Config()
    if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
        raise ConfigError(f'{path}: model_dirs must be a list of folder paths, like ["~/models"]')
    return Config(model_dirs=tuple(Path(d).expanduser() for d in dirs))
