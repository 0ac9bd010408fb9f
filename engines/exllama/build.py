"""exllamav3's CUDA extension: where it is built, with what, and telling the user.

`import exllamav3` compiles the extension the first time (PyPI ships sources only),
which takes minutes. Before that import the engine points torch's build cache at
llamatui's cache folder (so it happens once), lets the build use every core, and
reports the time elapsed while the import runs.
"""

from __future__ import annotations

import fcntl
import importlib
import importlib.util
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from platformdirs import PlatformDirs

from llamatui.engines.protocol import EngineError, Progress

# Past this, an import is a build: say so.
NOTICE_AFTER_S = 1.0


def extension_dir() -> Path:
    """Where torch keeps the compiled extension: the user cache folder (the same
    override as the app's, LLAMATUI_CACHE_DIR)."""
    base = os.environ.get("LLAMATUI_CACHE_DIR") or PlatformDirs("llamatui", False).user_cache_dir
    return Path(base) / "torch_extensions"


def build_environment() -> dict[str, str]:
    """The variables torch's extension builder reads, as llamatui sets them (what the
    user set already is kept). exllamav3 itself targets the GPUs it sees."""
    return {
        "TORCH_EXTENSIONS_DIR": os.environ.get("TORCH_EXTENSIONS_DIR") or str(extension_dir()),
        "MAX_JOBS": os.environ.get("MAX_JOBS") or str(os.cpu_count() or 1),
    }


def elapsed(seconds: float) -> str:
    """0:07, 3:25."""
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d}"


@contextmanager
def compile_notice(progress: Progress | None) -> Iterator[None]:
    """While the block runs (the import), tell `progress` every second that the
    extension is being built, with the time elapsed, once it takes long."""
    done = threading.Event()
    start = time.monotonic()

    def tick() -> None:
        while not done.wait(NOTICE_AFTER_S):
            if progress is not None:
                took = elapsed(time.monotonic() - start)
                progress(0.0, f"building exllamav3's CUDA extension (first run only) {took}")

    ticker = threading.Thread(target=tick, name="compile-notice", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()


def extension_built() -> bool:
    """Whether exllamav3's extension is there already: prebuilt (a release wheel) or
    built by torch into llamatui's cache by an earlier run."""
    if importlib.util.find_spec("exllamav3_ext") is not None:
        return True
    built = Path(build_environment()["TORCH_EXTENSIONS_DIR"]) / "exllamav3_ext"
    return any(built.glob("exllamav3_ext*.so"))


def import_exllamav3(progress: Progress | None) -> ModuleType:
    """exllamav3, imported (and built, the first time) with the notice.

    Raises:
        EngineError: it cannot be imported or built (no CUDA toolkit, a failed build).
    """
    for key, value in build_environment().items():
        os.environ[key] = value
    cache = Path(os.environ["TORCH_EXTENSIONS_DIR"])
    cache.mkdir(parents=True, exist_ok=True)
    building = not extension_built()
    # One llamatui process builds at a time; a build that was killed leaves torch's
    # lock file behind, and torch would then wait for it forever.
    with open(cache / ".llamatui-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        (cache / "exllamav3_ext" / "lock").unlink(missing_ok=True)
        try:
            with compile_notice(progress if building else None):
                return importlib.import_module("exllamav3")
        except (ImportError, OSError, RuntimeError, subprocess.CalledProcessError) as e:
            raise EngineError(
                f"exllamav3 could not start ({type(e).__name__}: {e}); its CUDA extension is "
                "built on first use and needs the CUDA toolkit (nvcc); the engine log has "
                "the details"
            ) from e
