"""A stand-in for the few parts of torch the exllama engine touches, for machines
without a GPU. It is put on the path of the engine process only (never of the
tests' own process, where a real torch may be installed)."""

from __future__ import annotations

import numpy as np
from exllamav3 import _record  # type: ignore[attr-defined]

long = np.int64
ALLOCATED: dict[int, int] = {}
"""Bytes "allocated" on each stand-in GPU; the exllamav3 stand-in fills it."""


def tensor(data, dtype=None):  # type: ignore[no-untyped-def]
    return np.array(data, dtype=dtype or np.int64)


class cuda:
    """torch.cuda, as far as the engine asks."""

    @staticmethod
    def device_count() -> int:
        return 1

    @staticmethod
    def memory_allocated(device: int) -> int:
        return ALLOCATED.get(device, 0)

    @staticmethod
    def empty_cache() -> None:
        _record("torch.cuda.empty_cache")
