"""`llamatui models`: the model library as a table, or JSON for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import psutil

from llamatui.engines.estimate import fit, ram_needed
from llamatui.engines.library import Library, ModelEntry
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
            if e.usable and e.format == "gguf" and e.shape is not None:
                need = ram_needed(e.shape, n_ctx)
                row |= {"ram_needed": need, "ctx": n_ctx, "fit": fit(need, available)}
            rows.append(row)
        print(json.dumps(rows, indent=2))
        return 0
    if not entries:
        print(f"No models found in {', '.join(str(d) for d in dirs)}.")
        print("Put GGUF files or model folders there, or pass --models-dir DIR.")
        return 0
    print(table(entries, n_ctx, available))
    return 0


def ram_cells(entry: ModelEntry, n_ctx: int, available: int) -> tuple[str, str]:
    """The RAM a model needs at n_ctx, and whether it fits, as table cells."""
    if entry.format != "gguf" or entry.shape is None:
        return "VRAM", "-"  # exllama models: the GPU side is in the meters
    need = ram_needed(entry.shape, n_ctx)
    return human(need), str(fit(need, available))


def table(entries: list[ModelEntry], n_ctx: int, available: int) -> str:
    """The library as an aligned text table."""
    head = ["NAME", "ARCH", "PARAMS", "QUANT", "SIZE", "CTX", "TEMPLATE", f"RAM@{n_ctx}", "FIT"]
    rows = [head]
    broken = []
    for e in entries:
        reason = e.reason
        if reason is not None:
            broken.append(f"  {e.name}: {reason}")
            continue
        ram, verdict = ram_cells(e, n_ctx, available)
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
