"""`llamatui models`: the model library as a table, or JSON for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from llamatui.engines.estimate import fit, ram_and_vram, vram_needed
from llamatui.engines.library import Library, ModelEntry
from llamatui.engines.meters import Nvml
from llamatui.engines.models import packaged_models
from llamatui.engines.remote import remote_entries
from llamatui.tui.config import Config, ConfigError, Profile, read_config
from llamatui.tui.paths import config_path, library_cache_path


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


def config() -> Config:
    """The config file read once, every good setting applied; what is wrong with it
    is told on stderr (as the app lists it), never the reason to ignore the rest."""
    try:
        found, problems = read_config(config_path())
    except ConfigError as e:  # nothing in it applies
        found, problems = Config(), [f"{e}; the defaults apply"]
    for problem in problems:
        print(f"llamatui: config: {problem}", file=sys.stderr)
    return found


def folders(args: argparse.Namespace, conf: Config | None = None) -> list[Path]:
    """The folders to scan: --models-dir, else the config's model_dirs."""
    if args.models_dir:
        return [d.expanduser() for d in args.models_dir]
    return list((conf or config()).model_dirs)


def run(args: argparse.Namespace) -> int:
    """Print the library; the exit status."""
    conf = config()
    dirs = folders(args, conf)
    entries = Library(library_cache_path()).scan(dirs, packaged_models())
    entries += remote_entries(conf.remotes)
    n_ctx = args.ctx
    available = psutil.virtual_memory().available
    vram = free_vram()
    profiles = conf.profiles
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
            need = memory_need(e, n_ctx, gpu_layers_of(e, profiles))
            if need is not None and e.error is None:
                row |= {"ram_needed": need.ram, "vram_needed": need.vram, "ctx": n_ctx}
                row["fit"] = verdict(need, available, vram)
            rows.append(row)
        print(json.dumps(rows, indent=2))
        return 0
    if not entries:
        print(f"No models found in {', '.join(str(d) for d in dirs)}.")
        print("Put GGUF files or model folders there, or pass --models-dir DIR.")
        return 0
    print(table(entries, n_ctx, available, vram, profiles))
    return 0


def free_vram() -> int | None:
    """Free memory of every NVIDIA GPU together (NVML); None without one."""
    gpus = Nvml().read()
    return sum(g.vram_total - g.vram_used for g in gpus) if gpus else None


@dataclass(frozen=True)
class Need:
    """What a model needs at a context size: RAM, VRAM, or both (GGUF layers offloaded)."""

    ram: int = 0
    vram: int = 0


def memory_need(entry: ModelEntry, n_ctx: int, gpu_layers: int = 0) -> Need | None:
    """What a model needs at n_ctx: llama.cpp's RAM (split by layers with VRAM when
    its profile offloads some), or exllama's VRAM. None when its shape is unknown."""
    if entry.shape is None:
        return None
    if entry.format == "gguf":
        ram, vram = ram_and_vram(entry.shape, n_ctx, gpu_layers)
        return Need(ram=ram, vram=vram)
    return Need(vram=vram_needed(entry.shape, n_ctx))


def gpu_layers_of(entry: ModelEntry, profiles: Mapping[str, Profile]) -> int:
    """The GPU layers a GGUF model's profile asks llama.cpp for."""
    profile = profiles.get(entry.name)
    return int(profile.options_for("llamacpp").get("gpu_layers") or 0) if profile else 0


def verdict(need: Need, available: int, vram: int | None) -> str:
    """fits / tight / will not fit: the worse of RAM and VRAM; "no GPU" for VRAM without one."""
    order = ["fits", "tight", "unknown", "will not fit", "no GPU"]
    verdicts = [str(fit(need.ram, available))] if need.ram else []
    if need.vram:
        verdicts.append(str(fit(need.vram, vram)) if vram is not None else "no GPU")
    return max(verdicts, key=order.index) if verdicts else "-"


def memory_cells(
    entry: ModelEntry,
    n_ctx: int,
    available: int,
    vram: int | None = None,
    gpu_layers: int = 0,
) -> tuple[str, str]:
    """The memory a model needs at n_ctx, and whether it fits, as table cells: RAM
    against what is available, VRAM against every GPU's free memory."""
    if entry.format == "remote":
        return "the server's", "-"
    need = memory_need(entry, n_ctx, gpu_layers)
    if need is None:
        return "?", "-"
    parts = ([human(need.ram)] if need.ram else []) + (
        [f"{human(need.vram)} VRAM"] if need.vram else []
    )
    return " + ".join(parts), verdict(need, available, vram)


def table(
    entries: list[ModelEntry],
    n_ctx: int,
    available: int,
    vram: int | None,
    profiles: Mapping[str, Profile],
) -> str:
    """The library as an aligned text table."""
    head = ["NAME", "ARCH", "PARAMS", "QUANT", "SIZE", "CTX", "TEMPLATE", f"MEM@{n_ctx}", "FIT"]
    rows = [head]
    broken = []
    for e in entries:
        reason = e.reason
        if reason is not None:
            broken.append(f"  {e.name}: {reason}")
            continue
        ram, fits = memory_cells(e, n_ctx, available, vram, gpu_layers_of(e, profiles))
        rows.append([
            e.name, e.architecture or "?", human(e.parameters or 0, "").strip() or "?",
            e.quantization or "?", human(e.size_bytes), f"{e.context_length or '?'}",
            e.template or "?", ram, fits,
        ])  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if broken:
        lines += ["", "Unusable:", *broken]
    return "\n".join(lines)
