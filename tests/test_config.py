"""A config with wrong settings: every one is told at once, with its line; the good
ones still apply; the file is never written over (issue 12). [keymap] and mouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from uitools import chat_ready

from llamatui.tui.cli import build_parser, chat_app
from llamatui.tui.config import read_config
from llamatui.tui.widgets.chat_message import Notice

BROKEN = """\
model_dirs = ["~/my-models"]
colour = "blue"
mouse = false

[keymap]
"chat.toggle_conversations" = "f9"
"chat.no_such_key" = "f10"

[models."good"]
ctx = 2048
preset = "precise"

[models."half"]
ctx = 12
system_prompt = "Be brief."
flavour = 3

[[remotes]]
name = "box"
url = "ftp://box"

[presets.mine]
temperature = 0.3
top_k = "many"
stop = ["User:"]

[models."mine"]
preset = "mine"
"""


def test_every_problem_is_told_with_its_line_and_the_rest_applies(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)
    config, problems = read_config(path)
    assert problems == [
        f"{path}, line 2: unknown setting 'colour' (known: model_dirs, models, "
        "context_policy, remotes, keymap, mouse, presets)",
        f'{path}, line 24: [presets."mine"]: top_k must be a whole number, 0 or more (0 is off)',
        f"{path}, line 16: [models.\"half\"]: unknown setting 'flavour' (known: ctx, "
        "chat_format, preset, system_prompt, llamacpp, exllama, remote)",
        f'{path}, line 14: [models."half"]: ctx must be a whole number, 128 or more',
        f"{path}, line 20: [[remotes]] #1: url must be the server's base URL, like "
        '"http://host:8080/v1"',
    ]
    assert config.model_dirs == (Path("~/my-models").expanduser(),)  # not lost with ctx
    assert config.mouse is False and config.keymap["chat.toggle_conversations"] == "f9"
    assert config.profiles["good"].ctx == 2048 and config.profiles["good"].preset == "precise"
    half = config.profiles["half"]
    assert half.ctx is None and half.system_prompt == "Be brief."  # the good key stays
    assert config.remotes == ()
    mine = config.presets["mine"]  # the user's preset, its good keys over the defaults
    assert (mine.temperature, mine.top_k, mine.stop) == (0.3, 40, ("User:",))
    assert config.profiles["mine"].preset == "mine"


async def test_the_app_starts_on_the_good_settings_and_lists_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLAMATUI_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("LLAMATUI_DATA_DIR", str(tmp_path))
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)
    app, mouse = chat_app(build_parser().parse_args(["--threads", "2"]))
    assert mouse is False
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await chat_ready(pilot)
        told = "\n".join(str(n.render()) for n in screen.query(Notice))
        for wrong in ("'colour'", "'flavour'", "ctx must be", "url must be", "chat.no_such_key"):
            assert wrong in told, told
        assert screen.settings.model_dirs == (Path("~/my-models").expanduser(),)
        shown = screen.pane.display
        await pilot.press("f9")  # the remapped key
        assert screen.pane.display is not shown
    assert path.read_text() == BROKEN  # never written over


def test_a_file_that_is_not_toml_starts_the_app_on_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLAMATUI_CONFIG_DIR", str(tmp_path))
    path = tmp_path / "config.toml"
    path.write_text('model_dirs = ["~/models"\n')
    app, mouse = chat_app(build_parser().parse_args([]))
    assert mouse is True and app.config_notice is not None
    assert app.config_notice.startswith("Your config file cannot be used; the defaults apply")
    assert "not valid TOML" in app.config_notice
    assert path.read_text() == 'model_dirs = ["~/models"\n'  # left as it was
