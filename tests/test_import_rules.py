"""What may import what: the rule docs/architecture.md draws, checked two ways.

Statically, every import in every module (lazy ones inside functions included)
against the table below; and for real, by importing a layer in a fresh process and
looking at `sys.modules`. import-linter would say the same, but it cannot see the
modules through setuptools' editable `package-dir` finder.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
ENGINE_INSIDES = (
    "llamatui.engines.host",
    "llamatui.engines.engine_process",
    "llamatui.engines.llamacpp",
    "llamatui.engines.exllama",
    "llamatui.engines.remote.engine",
    "llamatui.engines.scripted",
)
UI = ("textual", "rich", "llamatui.tui", "llamatui.themes")

# Folder (or file) -> imports it must never make. The most specific entry applies.
RULES: dict[str, tuple[str, ...]] = {
    # The engines know nothing of the UI.
    "engines": UI,
    # The conversation core and the history: no Textual, no screens or widgets, and
    # engines only through the registry and the handle.
    "tui/chat": (
        "textual",
        "rich",
        "llamatui.themes",
        "llamatui.tui.app",
        "llamatui.tui.screens",
        "llamatui.tui.widgets",
        "llamatui.tui.cli",
        *ENGINE_INSIDES,
        "llama_cpp",
    ),
    "tui/history": ("textual", "rich", "llamatui.tui.chat", "llamatui.tui.screens",
                    "llamatui.tui.widgets", "llamatui.engines.host", "llamatui.engines.llamacpp"),
    "tui/config.py": ("textual", "llamatui.tui.screens", "llamatui.tui.widgets"),
    "tui/settings.py": ("textual", "llamatui.tui.screens", "llamatui.tui.widgets"),
    "tui/paths.py": ("textual", "llamatui.engines"),
    # The subcommands print; only running the app (lazily) brings Textual in.
    "tui/cli": ("textual", "rich", *ENGINE_INSIDES, "llama_cpp"),
    # Widgets draw; they open dialogs but no other screen.
    "tui/widgets": (
        "llamatui.tui.app",
        "llamatui.tui.screens.chat",
        "llamatui.tui.screens.models",
        "llamatui.tui.screens.profile",
        "llamatui.tui.screens.commands",
        *ENGINE_INSIDES,
        "llama_cpp",
    ),
    # Screens and the app talk to an engine handle, made by the registry.
    "tui/screens": (*ENGINE_INSIDES, "llama_cpp"),
    "tui/app.py": (*ENGINE_INSIDES, "llama_cpp"),
    # Textual's input, read safely: nothing of the app.
    "tui/paste.py": ("llamatui.tui.screens", "llamatui.tui.widgets", "llamatui.engines"),
    # Textual's output, written safely and compactly: nothing of the app.
    "tui/ansi_compact.py": ("textual", "rich", "llamatui.tui.screens", "llamatui.tui.widgets",
                            "llamatui.engines"),
    # Textual's input, waited for: nothing of the app but the input's parser.
    "tui/input_wait.py": ("llamatui.tui.screens", "llamatui.tui.widgets", "llamatui.engines"),
    # Textual's lines, made cheaper: nothing of the app.
    "tui/strip_caches.py": ("llamatui.tui.screens", "llamatui.tui.widgets", "llamatui.engines"),
    "tui/hangup.py": ("llamatui.tui.screens", "llamatui.tui.widgets", "llamatui.engines"),
    # What is remembered between runs: a file, no UI.
    "tui/remembered.py": ("textual", "rich", "llamatui.tui.screens", "llamatui.tui.widgets"),
    "themes": ("llamatui.tui", "llamatui.engines"),
}  # fmt: skip


def imports_of(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def rule_for(path: Path) -> tuple[str, tuple[str, ...]] | None:
    rel = path.relative_to(ROOT).as_posix()
    matches = [k for k in RULES if rel == k or rel.startswith(k + "/")]
    if not matches:
        return None
    key = max(matches, key=len)
    return key, RULES[key]


SOURCES = sorted(p for d in ("engines", "tui", "themes") for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_each_module_keeps_its_layer(path: Path) -> None:
    rule = rule_for(path)
    if rule is None:
        return
    key, forbidden = rule
    bad = [n for n in imports_of(path) if n.startswith(forbidden) and not _allowed(key, n)]
    assert not bad, f"{path.relative_to(ROOT)} ({key}) imports {bad}"


def _allowed(key: str, name: str) -> bool:
    # A widget may open the small dialogs; nothing else of the screens.
    return key == "tui/widgets" and name.startswith("llamatui.tui.screens.dialogs")


def test_no_module_is_over_400_lines() -> None:
    long = {
        p.relative_to(ROOT).as_posix(): n
        for p in SOURCES
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long


def test_every_module_is_under_a_rule_or_the_top_of_tui() -> None:
    loose = [p.relative_to(ROOT).as_posix() for p in SOURCES if rule_for(p) is None]
    # The top of tui/: the package, `python -m`, and nothing else unruled.
    assert sorted(loose) == ["tui/__init__.py", "tui/__main__.py"]


def imported_by(module: str) -> set[str]:
    code = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def modules_in(folder: str, package: str) -> str:
    out = []
    for p in sorted((ROOT / folder).rglob("*.py")):
        parts = p.relative_to(ROOT / folder).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        out.append(".".join((package, *parts)))
    return ", ".join(out)


def test_engines_never_load_the_ui() -> None:
    mods = imported_by(modules_in("engines", "llamatui.engines"))
    assert not {m for m in mods if m.split(".")[0] in ("textual", "rich")}
    assert not {m for m in mods if m.startswith(("llamatui.tui", "llamatui.themes"))}


def test_the_conversation_core_and_history_load_no_textual() -> None:
    mods = imported_by(f"{modules_in('tui/chat', 'llamatui.tui.chat')}, "
                       f"{modules_in('tui/history', 'llamatui.tui.history')}")  # fmt: skip
    assert "llamatui.tui.chat.session" in mods
    assert not {m for m in mods if m.split(".")[0] in ("textual", "rich")}
    assert not {m for m in mods if m.startswith(ENGINE_INSIDES)}


def test_the_app_loads_no_engine_library() -> None:
    """llama_cpp is heavy and only the engine process needs it: fast start."""
    mods = imported_by("llamatui.tui.app")
    assert "textual" in mods
    heavy = ("llama_cpp", "numpy", "torch", "pynvml", "exllamav3")
    assert not {m for m in mods if m.split(".")[0] in heavy}
    assert not {m for m in mods if m.startswith(ENGINE_INSIDES)}
    assert not {m for m in imported_by("llamatui.tui.cli") if m.startswith("textual")}
