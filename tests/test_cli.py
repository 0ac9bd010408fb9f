"""The command line, and what each layer imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import llamatui

from llamatui.tui.cli import build_parser, main


def test_help_and_version() -> None:
    done = llamatui("--help")
    assert done.returncode == 0
    for flag in ("--model", "--ctx", "--threads", "--version"):
        assert flag in done.stdout
    done = llamatui("--version")
    assert done.returncode == 0
    assert done.stdout.strip().startswith("llamatui 0.")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ctx", "abc"], "is not a whole number"),
        (["--ctx", "16"], "too small"),
        (["--threads", "0"], "must be 1 or more"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_say_what_is_wrong(args: list[str], message: str) -> None:
    done = llamatui(*args)
    assert done.returncode == 2
    assert message in done.stderr


def test_missing_model_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--model", str(tmp_path / "nope.gguf")]) == 2
    assert "no such model file" in capsys.readouterr().err


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["-m", "x.gguf", "-c", "8192", "-t", "4"])
    assert (args.model, args.ctx, args.threads) == (Path("x.gguf"), 8192, 4)


def imported_by(module: str) -> set[str]:
    code = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def test_engines_never_import_the_ui() -> None:
    mods = imported_by("llamatui.engines.host, llamatui.engines.llamacpp, llamatui.engines.gguf")
    assert not {m for m in mods if m == "textual" or m.startswith(("textual.", "llamatui.tui"))}


def test_ui_imports_no_engine_library() -> None:
    """llama_cpp is heavy and only the engine process needs it: fast start."""
    mods = imported_by("llamatui.tui.app")
    assert "textual" in mods
    assert not {m for m in mods if m.split(".")[0] in ("llama_cpp", "numpy", "torch", "pynvml")}
    assert not {m for m in imported_by("llamatui.tui.cli") if m.startswith("textual")}


def test_engines_source_has_no_ui_imports() -> None:
    import ast

    root = Path(__file__).parent.parent / "engines"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("textual", "llamatui.tui", "llamatui.themes")), (
                    f"{path.name} imports {name}"
                )
