"""Run the `llamatui` command as a user would, in a subprocess."""

from __future__ import annotations

import subprocess
import sys


def llamatui(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m llamatui.tui ARGS`, with no terminal and no stdin, like CI."""
    return subprocess.run(
        [sys.executable, "-m", "llamatui.tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
