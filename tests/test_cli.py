"""The command line."""

from __future__ import annotations

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
        (["--threads", "0"], "threads must be 1 or more"),
        (["--threads", "two"], "threads: 'two' is not a whole number"),
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
