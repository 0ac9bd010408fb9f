"""Per-model profiles: the config file, the editor, and what loading applies."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input
from uitools import chat_ready, open_library, send, wait_until

from llamatui.engines.protocol import LoadOptions
from llamatui.tui.app import LlamaTUI
from llamatui.tui.config import ConfigError, Profile, load_config, save_profile
from llamatui.tui.paths import config_path
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.screens.profile import ProfileDialog
from llamatui.tui.settings import Settings

SMOL = "SmolLM2-135M-Instruct.Q4_1"


def test_save_keeps_the_rest_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('model_dirs = ["/models"]\n')
    p = Profile(ctx=1024, preset="greedy", system_prompt="Be brief.", chat_format="chatml")
    save_profile(path, SMOL, p)
    config = load_config(path)
    assert config.model_dirs == (Path("/models"),)
    assert config.profiles == {SMOL: p}
    save_profile(path, SMOL, Profile())  # an empty profile removes the table
    assert load_config(path).profiles == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models.x]\nctx = 12\n", "ctx must be a whole number, 128 or more"),
        ('[models.x]\npreset = "wild"\n', "preset must be one of"),
        ('[models.x]\nchat_format = "nope"\n', "chat_format must be one of"),
        ("[models.x]\ncolour = 1\n", "unknown setting 'colour'"),
        ("models = 3\n", "must be a table"),
        ("[models.x.llamacpp]\nthreads = 0\n", r"\[models.\"x\"\].llamacpp: threads must be 1"),
        ("[models.x.llamacpp]\nflash = true\n", "unknown option 'flash'"),
        ("[models.x]\nllamacpp = 4\n", "must be a table of llamacpp options"),
    ],
)
def test_bad_profiles_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_engine_options_by_engine_and_the_old_top_level_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[models.a]\nthreads = 3\ngpu_layers = 0\n[models.b.llamacpp]\nthreads = 2\n")
    profiles = load_config(path).profiles
    assert profiles["a"].options_for("llamacpp") == {"threads": 3, "gpu_layers": 0}
    assert profiles["b"] == Profile(engines={"llamacpp": {"threads": 2}})
    save_profile(path, "a", profiles["a"])  # written back under the engine's table
    assert "[models.a.llamacpp]" in path.read_text()
    assert load_config(path).profiles == profiles


def test_an_option_set_twice_is_an_error_and_a_bad_profile_is_never_saved(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[models.a]\nthreads = 3\n[models.a.llamacpp]\nthreads = 2\n")
    with pytest.raises(ConfigError, match="threads is set twice"):
        load_config(path)
    path.write_text('model_dirs = ["/m"]\n')
    with pytest.raises(ConfigError, match="threads must be 1 or more"):
        save_profile(path, "a", Profile(engines={"llamacpp": {"threads": 0}}))
    assert path.read_text() == 'model_dirs = ["/m"]\n'


def test_a_file_that_does_not_parse_is_never_written_over(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("model_dirs = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        save_profile(path, SMOL, Profile(ctx=2048))
    assert path.read_text() == "model_dirs = [\n"


async def test_profile_is_applied_on_load(smollm2: Path) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_profile(path, SMOL, Profile(ctx=1024, preset="greedy", system_prompt="Answer briefly."))
    # As `llamatui` does: the config is read once, at start.
    app = LlamaTUI(
        Settings(
            load=LoadOptions(n_ctx=4096),
            engine_options={"llamacpp": {"threads": 2}},
            profiles=load_config(path).profiles,
        )
    )
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        assert screen.status.model is not None and screen.status.model.n_ctx == 1024
        assert screen.session.sampling.temperature == 0
        assert screen.session.messages()[0] == {"role": "system", "content": "Answer briefly."}
        await send(pilot, "Hi")
        await wait_until(pilot, lambda: not screen.session.generating)
        assert app.store is not None and screen.session.conversation_id is not None
        reply = app.store.messages(screen.session.conversation_id)[-1]
        assert reply.meta.sampling is not None and reply.meta.sampling["temperature"] == 0


async def test_profile_edited_from_the_library(tmp_path: Path, smollm2: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / smollm2.name).symlink_to(smollm2)
    app = LlamaTUI(
        Settings(
            load=LoadOptions(n_ctx=2048),
            engine_options={"llamacpp": {"threads": 2}},
            model_dirs=(models,),
        )
    )
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        lib = await open_library(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ProfileDialog))
        dialog = app.screen
        dialog.query_one("#ctx", Input).value = "3072"
        dialog.query_one("#system_prompt", Input).value = "Be kind."
        dialog.query_one("#threads", Input).value = "1"  # declared by the llama.cpp engine
        await pilot.click("#save")
        await wait_until(pilot, lambda: app.screen is lib)
        expected = Profile(ctx=3072, system_prompt="Be kind.", engines={"llamacpp": {"threads": 1}})
        assert screen.session.profiles[SMOL] == expected  # the next load uses it
        # Issue 12: the library went on showing the old context after saving.
        table = lib.query_one(DataTable)
        row = [str(c) for c in table.get_row_at(table.cursor_row)]
        assert row[0].strip().endswith(SMOL) and row[7] == "3072*"
    assert load_config(config_path()).profiles[SMOL] == expected
    assert f'[models."{SMOL}".llamacpp]\nthreads = 1' in config_path().read_text()


async def test_an_exllama_profile_has_the_exllama_options(tmp_path: Path, tiny_hf: Path) -> None:
    import shutil

    from fakes import fake_settings, scripted
    from textual.widgets import Label, Select

    models = tmp_path / "models"
    shutil.copytree(tiny_hf, models / tiny_hf.name)  # the library does not follow links
    app = LlamaTUI(fake_settings(model_dirs=(models,)), make_handle=scripted(), keep_history=False)
    async with app.run_test(size=(120, 40)) as pilot:
        lib = await open_library(pilot)
        row = next(i for i, e in enumerate(lib.entries) if e.name == tiny_hf.name)
        lib.query_one(DataTable).move_cursor(row=row)  # the packaged model is listed too
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ProfileDialog))
        dialog = app.screen
        assert not dialog.query("#threads")  # llama.cpp's options are not offered
        dialog.query_one("#cache", Select).value = "q4"
        dialog.query_one("#gpu_split", Input).value = "twenty"
        await pilot.click("#save")
        error = str(dialog.query_one("#profile-error", Label).render())
        assert 'gpu_split must look like "20,24"' in error and app.screen is dialog
        dialog.query_one("#gpu_split", Input).value = "20,24"
        await pilot.pause(0.3)  # a button ignores a second press while it still shows the first
        await pilot.click("#save")
        await wait_until(pilot, lambda: not isinstance(app.screen, ProfileDialog))
    saved = load_config(config_path()).profiles[tiny_hf.name]
    assert saved.options_for("exllama") == {"cache": "q4", "gpu_split": "20,24"}


async def test_enter_in_a_field_saves_and_presets_show_their_values(
    tmp_path: Path, smollm2: Path
) -> None:
    # Issue 12: Enter in a field did not save; presets showed names only.
    from fakes import fake_settings, scripted
    from textual.widgets import Select

    models = tmp_path / "models"
    models.mkdir()
    (models / smollm2.name).symlink_to(smollm2)
    app = LlamaTUI(fake_settings(model_dirs=(models,)), make_handle=scripted(), keep_history=False)
    async with app.run_test(size=(120, 40)) as pilot:
        lib = await open_library(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ProfileDialog))
        dialog = app.screen
        labels = [str(label) for label, _ in dialog.query_one("#preset", Select)._options]
        assert "precise: temperature 0.2, top_k 20, top_p 0.9, min_p 0.1" in labels
        dialog.query_one("#ctx", Input).focus()
        dialog.query_one("#ctx", Input).value = "4096"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is lib)
    assert load_config(config_path()).profiles[SMOL].ctx == 4096
