"""`llamatui models`: the model library as a table, or JSON for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import psutil

from llamatui.engines.estimate import fit, ram_needed, vram_needed
from llamatui.engines.library import Library, ModelEntry
from llamatui.engines.meters import Nvml
from llamatui.tui.config import ConfigError, load_config
from llamatui.tui.paths import cache_dir, config_path


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `models` to the `llamatui` parser."""
    p = sub.add_parser("models", help="list the models on disk and what they need")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument(
        "-c",
        "--ctx",
        type=int,
        default=argparse.SUPPRESS,
        metavar="N",
        help="estimate memory at this context size (default: 4096)",
    )
    p.add_argument(
        "--models-dir",
        type=Path,
        action="append",
        metavar="DIR",
        help="scan this folder (repeatable; default: model_dirs from the config)",
    )


def human(n: float, unit: str = "B") -> str:
    """1234567 -> '1.2 MB' (decimal, like ollama ls)."""
    for prefix in ("", "k", "M", "G", "T"):
        if abs(n) < 1000:
            return f"{n:.0f} {prefix}{unit}" if prefix == "" else f"{n:.1f} {prefix}{unit}"
        n /= 1000
    return f"{n:.1f} P{unit}"


def folders(args: argparse.Namespace) -> list[Path]:
    """The folders to scan: --models-dir, else the config's model_dirs."""
    if args.models_dir:
        return [d.expanduser() for d in args.models_dir]
    try:
        return list(load_config(config_path()).model_dirs)
    except ConfigError as e:
        print(f"llamatui: {e}; using the default folders", file=sys.stderr)
        from llamatui.tui.paths import default_model_dirs

        return default_model_dirs()


def run(args: argparse.Namespace) -> int:
    """Print the library; the exit status."""
    dirs = folders(args)
    entries = Library(cache_dir() / "library.json").scan(dirs)
    n_ctx = args.ctx
    available = psutil.virtual_memory().available
    vram = free_vram()
    if args.json:
        rows = []
        for e in entries:
            spec = e.engine
            row = e.to_json() | {
                "engine": spec.kind if spec else None,
                "ref": str(e.ref),
                "usable": e.usable,
                "reason": e.reason,
            }
            need = memory_need(e, n_ctx)
            if need is not None and e.error is None:
                n, where = need
                free = available if where == "RAM" else vram
                row |= {f"{where.lower()}_needed": n, "ctx": n_ctx}
                row["fit"] = fit(n, free) if free is not None else "no GPU"
            rows.append(row)
        print(json.dumps(rows, indent=2))
        return 0
    if not entries:
        print(f"No models found in {', '.join(str(d) for d in dirs)}.")
        print("Put GGUF files or model folders there, or pass --models-dir DIR.")
        return 0
    print(table(entries, n_ctx, available, vram))
    return 0


def free_vram() -> int | None:
    """Free memory of every NVIDIA GPU together (NVML); None without one."""
    gpus = Nvml().read()
    return sum(g.vram_total - g.vram_used for g in gpus) if gpus else None


def memory_need(entry: ModelEntry, n_ctx: int) -> tuple[int, str] | None:
    """Bytes a model needs at n_ctx, and where: RAM (llama.cpp) or VRAM (exllama)."""
    if entry.shape is None:
        return None
    if entry.format == "gguf":
        return ram_needed(entry.shape, n_ctx), "RAM"
    return vram_needed(entry.shape, n_ctx), "VRAM"


def memory_cells(
    entry: ModelEntry, n_ctx: int, available: int, vram: int | None = None
) -> tuple[str, str]:
    """The memory a model needs at n_ctx, and whether it fits, as table cells: RAM
    against what is available, VRAM (exllama) against every GPU's free memory."""
    need = memory_need(entry, n_ctx)
    if need is None:
        return "?", "-"
    n, where = need
    if where == "RAM":
        return human(n), str(fit(n, available))
    return f"{human(n)} VRAM", str(fit(n, vram)) if vram is not None else "no GPU"


def table(entries: list[ModelEntry], n_ctx: int, available: int, vram: int | None) -> str:
    """The library as an aligned text table."""
    head = ["NAME", "ARCH", "PARAMS", "QUANT", "SIZE", "CTX", "TEMPLATE", f"MEM@{n_ctx}", "FIT"]
    rows = [head]
    broken = []
    for e in entries:
        reason = e.reason
        if reason is not None:
            broken.append(f"  {e.name}: {reason}")
            continue
        ram, verdict = memory_cells(e, n_ctx, available, vram)
        rows.append([
            e.name, e.architecture or "?", human(e.parameters or 0, "").strip() or "?",
            e.quantization or "?", human(e.size_bytes), f"{e.context_length or '?'}",
            e.template or "?", ram, verdict,
        ])  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if broken:
        lines += ["", "Unusable:", *broken]
    return "\n".join(lines)
