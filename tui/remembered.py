"""What the app remembers from one run to the next: the theme picked, whether the
conversations pane was open, and the conversation that was open. (The last model is
the first of the recent models, `tui/chat/recent.py`.) A small JSON file in the data
folder, written atomically; one that cannot be read is forgotten, never an error."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from llamatui.engines.atomic import write_atomic


@dataclass(frozen=True)
class Remembered:
    """The last run's choices; None where there is nothing to remember."""

    theme: str | None = None
    pane: bool | None = None
    conversation: int | None = None


def load_remembered(path: Path) -> Remembered:
    """What was remembered (nothing, when the file is missing or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Remembered()
    if not isinstance(data, dict):
        return Remembered()
    theme, pane, conversation = data.get("theme"), data.get("pane"), data.get("conversation")
    return Remembered(
        theme=theme if isinstance(theme, str) else None,
        pane=pane if isinstance(pane, bool) else None,
        conversation=conversation if type(conversation) is int else None,
    )


def remember(path: Path, remembered: Remembered) -> None:
    """Keep `remembered` for the next run (silently not, if it cannot be written)."""
    with contextlib.suppress(OSError):
        write_atomic(path, json.dumps(asdict(remembered)))
