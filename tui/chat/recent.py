"""The models loaded most recently, newest first, for the quick switch."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from llamatui.engines.atomic import write_atomic
from llamatui.engines.refs import ModelRef

KEEP = 10


def load_recent(path: Path) -> list[ModelRef]:
    """Recent models, newest first ([] when there is no readable file).

    Older files hold bare GGUF paths: they read as llama.cpp references.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    return [ModelRef.parse(p) for p in data if isinstance(p, str)][:KEEP]


def remember(path: Path, model: ModelRef) -> list[ModelRef]:
    """Put `model` first in the recent list, saved atomically; the new list."""
    recent = [model] + [r for r in load_recent(path) if r != model]
    recent = recent[:KEEP]
    with contextlib.suppress(OSError):  # only the quick switch forgets
        write_atomic(path, json.dumps([str(r) for r in recent]))
    return recent
