"""Switching models from the keyboard: the library screen, the quick switch, cancel."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
from engine_refs import gguf
from fakes import FAKE_MODEL, fake_settings, scripted
from textual.command import CommandPalette
from textual.widgets import DataTable, OptionList
from uitools import chat_ready, open_library, send, wait_until

from llamatui.engines import registry
from llamatui.engines.handle import EngineState
from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.tui.app import LlamaTUI
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.settings import Settings
from llamatui.tui.widgets.chat_message import AssistantMessage, Notice


def app_rss(app: LlamaTUI) -> int:
    total = psutil.Process(os.getpid()).memory_info().rss
    if app.chat.session.loader.handle.pid is not None:
        total += psutil.Process(app.chat.session.loader.handle.pid).memory_info().rss
    return total


async def test_switch_to_gemma_and_back(tmp_path: Path, smollm2: Path, gemma3: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / smollm2.name).symlink_to(smollm2)
    (models / gemma3.name).symlink_to(gemma3)
    settings = Settings(
        load=LoadOptions(n_ctx=2048),
        engine_options={"llamacpp": {"threads": 2}},
        sampling=SamplingParams(temperature=0, max_tokens=24),
        model_dirs=(models,),
    )
    app = LlamaTUI(settings)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, "Say hi.")
        await wait_until(pilot, lambda: not screen.session.generating)
        first_pid = app.chat.session.loader.handle.pid
        before = app_rss(app)

        # The library lists both; Enter on Gemma loads it.
        lib = await open_library(pilot)
        assert len(lib.entries) == 2
        table = lib.query_one(DataTable)
        row = next(i for i, e in enumerate(lib.entries) if e.name.startswith("gemma"))
        table.move_cursor(row=row)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        await wait_until(pilot, lambda: screen.session.state is EngineState.READY)
        assert screen.status.model is not None and screen.status.model.architecture == "gemma3"
        assert first_pid is not None
        assert not psutil.pid_exists(first_pid) or (
            psutil.Process(first_pid).status() == psutil.STATUS_ZOMBIE
        )
        # The conversation continues with the new model.
        await send(pilot, "And hello?")
        await wait_until(
            pilot, lambda: not screen.session.generating and len(screen.session.turns) == 4
        )

        # The model loaded now is not offered to switch to (issue 12: Enter reloaded it).
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"gemma")
        await pilot.pause(0.5)
        offered = [str(o.prompt) for o in app.screen.query_one(OptionList).options]
        assert not any("gemma" in o.lower() for o in offered), offered
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)

        # Quick switch back: the palette offers the recent model first.
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"smol")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: screen.status.model is not None and screen.status.model.architecture == "llama",
        )
        await wait_until(pilot, lambda: screen.session.state is EngineState.READY)
        await send(pilot, "Bye.")
        await wait_until(
            pilot, lambda: not screen.session.generating and len(screen.session.turns) == 6
        )
        after = app_rss(app)
        assert abs(after - before) / before < 0.10, (before / 2**20, after / 2**20)

        # Each reply says which model wrote it (issue 12), and remembers it.
        footers = [r.footer for r in screen.query(AssistantMessage)]
        names = [smollm2.stem, gemma3.stem, smollm2.stem]
        assert [n in f for n, f in zip(names, footers, strict=True)] == [True] * 3, footers
        # Each reply remembers its model.
        assert app.store is not None and screen.session.conversation_id is not None
        replies = [
            m for m in app.store.messages(screen.session.conversation_id) if m.role == "assistant"
        ]
        assert [Path(ModelRef.parse(m.meta.model or "").location).name for m in replies] == [
            smollm2.name,
            gemma3.name,
            smollm2.name,
        ]


async def test_loading_can_be_cancelled(gemma3: Path) -> None:
    app = LlamaTUI(
        Settings(
            model=gguf(gemma3),
            load=LoadOptions(n_ctx=2048),
            engine_options={"llamacpp": {"threads": 2}},
        )
    )
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await wait_until(pilot, lambda: app.chat.session.engine_pid is not None, timeout=10)
        pid = app.chat.session.loader.handle.pid
        await pilot.press("escape")
        await wait_until(pilot, lambda: bool(screen.query(Notice)))
        assert "Loading was cancelled" in str(screen.query_one(Notice).render())
        assert not app.chat.session.loader.handle.alive
        assert pid is not None and (
            not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        )


async def test_a_model_that_cannot_run_here_says_why_in_full(tmp_path: Path) -> None:
    """An EXL3 folder on a machine without the exllama engine: Enter explains, and the
    reason's brackets (`llamatui[gpu]`) are text, never markup."""
    folder = tmp_path / "models" / "Llama-exl3"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(
        json.dumps({"quantization_config": {"quant_method": "exl3", "bits": 4.0}})
    )
    header = b'{"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]}}'
    (folder / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    app = LlamaTUI(
        fake_settings(model_dirs=(tmp_path / "models",)),
        make_handle=scripted(),
        keep_history=False,
    )
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        lib = await open_library(pilot)
        [(row, entry)] = [(i, e) for i, e in enumerate(lib.entries) if e.name == "Llama-exl3"]
        why = registry.get("exllama").unavailable()
        assert not entry.usable and entry.reason == f"exllama {why}"
        lib.query_one(DataTable).move_cursor(row=row)  # the packaged model is listed too
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app._notifications))
        [note] = list(app._notifications)
        assert note.message == f"Llama-exl3 cannot be loaded: exllama {why}" and not note.markup
        assert app.screen is lib  # nothing was loaded
        assert screen.session.info is not None and screen.session.info.ref == FAKE_MODEL


async def test_a_cancelled_switch_goes_back_to_the_model_before(gemma3: Path) -> None:
    # Issue 12: cancelling a switch left no model rather than the previous one.
    app = LlamaTUI(
        Settings(load=LoadOptions(n_ctx=2048), engine_options={"llamacpp": {"threads": 2}})
    )
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        before = screen.session.info
        assert before is not None and before.architecture == "llama"
        first = screen.session.engine_pid
        screen.switch_model(gguf(gemma3))
        await wait_until(pilot, lambda: screen.session.engine_pid not in (None, first), timeout=10)
        await pilot.press("escape")  # while Gemma loads
        await wait_until(pilot, lambda: screen.session.state is EngineState.READY)
        assert "Loading was cancelled: back to" in "\n".join(
            str(n.render()) for n in screen.query(Notice)
        )
        info = screen.session.info
        assert info is not None and info.ref == before.ref
