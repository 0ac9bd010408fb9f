"""The history database's files: private (0600), and moved aside, never deleted,
when they are damaged."""

from __future__ import annotations

import os
import time
from pathlib import Path

SIDECARS = ("-wal", "-shm")


def private_file(path: Path) -> None:
    """Create the file 0600 if it is not there, and make it 0600 if it is."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def private_sidecars(path: Path) -> None:
    """Make SQLite's WAL and SHM files beside `path` private too."""
    for suffix in SIDECARS:
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.chmod(side, 0o600)


def move_aside(path: Path) -> Path:
    """Move a damaged database (and its WAL/SHM files) to `NAME.corrupt-TIME`; where."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, target)
    for suffix in SIDECARS:
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    return target
