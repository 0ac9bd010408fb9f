"""Where llamatui keeps its files, from platformdirs; folders are private (0700)."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import PlatformDirs

_DIRS = PlatformDirs("llamatui", appauthor=False)


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def log_dir() -> Path:
    """The user log folder, created on first use."""
    return _private_dir(Path(os.environ.get("LLAMATUI_LOG_DIR") or _DIRS.user_log_dir))


def engine_log_path() -> Path:
    """The log file that the engine process's output (llama.cpp's log) goes to."""
    return log_dir() / "engine.log"


def data_dir() -> Path:
    """The user data folder, created on first use."""
    return _private_dir(Path(os.environ.get("LLAMATUI_DATA_DIR") or _DIRS.user_data_dir))


def history_path() -> Path:
    """The chat history database."""
    return data_dir() / "history.db"


def recent_path() -> Path:
    """The recently used models, newest first."""
    return data_dir() / "recent.json"


def remembered_path() -> Path:
    """What the app remembers between runs (theme, pane, open conversation)."""
    return data_dir() / "remembered.json"


def library_cache_path() -> Path:
    """The model library's cache of file headers."""
    return cache_dir() / "library.json"


def config_path() -> Path:
    """The TOML config file (it need not exist)."""
    return Path(os.environ.get("LLAMATUI_CONFIG_DIR") or _DIRS.user_config_dir) / "config.toml"


def cache_dir() -> Path:
    """The user cache folder, created on first use."""
    return _private_dir(Path(os.environ.get("LLAMATUI_CACHE_DIR") or _DIRS.user_cache_dir))


def default_model_dirs() -> list[Path]:
    """Where models are looked for when the config names no folders."""
    return [data_dir() / "models", Path.home() / "models"]
