"""The models loaded most recently, newest first, for the quick switch."""

from __future__ import annotations

import json
import os
from pathlib import Path

KEEP = 10


def load_recent(path: Path) -> list[str]:
    """Recent model paths, newest first ([] when there is no readable file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [p for p in data if isinstance(p, str)][:KEEP] if isinstance(data, list) else []


def remember(path: Path, model: str) -> list[str]:
    """Put `model` first in the recent list, saved atomically; the new list."""
    recent = [model] + [p for p in load_recent(path) if p != model]
    recent = recent[:KEEP]
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(recent), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # only the quick switch forgets
    return recent
