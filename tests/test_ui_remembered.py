"""What the app remembers between runs: the theme picked, the conversations pane,
the open conversation, and the last model (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import fake_settings, scripted
from uitools import chat_ready, send, wait_until

from llamatui.engines.refs import ModelRef
from llamatui.tui.app import LlamaTUI
from llamatui.tui.chat.recent import remember
from llamatui.tui.cli import last_model
from llamatui.tui.paths import recent_path, remembered_path
from llamatui.tui.remembered import Remembered, load_remembered
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.widgets.chat_message import UserMessage


def app(history: Path, *, resume: bool) -> LlamaTUI:
    return LlamaTUI(fake_settings(), history=history, make_handle=scripted(), resume=resume)


async def test_the_next_run_starts_where_this_one_left_off(tmp_path: Path) -> None:
    history = tmp_path / "history.db"
    first = app(history, resume=True)
    async with first.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, "Remember this conversation.")
        await wait_until(pilot, lambda: not screen.session.generating)
        cid = screen.session.conversation_id
        first.theme = "llamatui-light"
        shown = screen.pane.display
        await pilot.press("f2")
        assert screen.pane.display is not shown
        await pilot.press("ctrl+q")  # kept as the app quits
    assert load_remembered(remembered_path()) == Remembered("llamatui-light", not shown, cid)

    again = app(history, resume=True)
    async with again.run_test(size=(100, 30)) as pilot:
        screen = again.screen
        assert isinstance(screen, ChatScreen)
        await wait_until(pilot, lambda: screen.session.conversation_id == cid)
        assert again.theme == "llamatui-light" and screen.pane.display is not shown
        await wait_until(pilot, lambda: bool(screen.query(UserMessage)))
        assert "Remember this conversation." in str(screen.query_one(UserMessage).render())

    fresh = app(history, resume=False)  # a model named on the command line: a new chat
    async with fresh.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        assert screen.session.conversation_id is None


def test_the_last_model_is_used_while_its_file_is_there(tmp_path: Path) -> None:
    model = tmp_path / "last.gguf"
    model.write_bytes(b"GGUF")
    remember(recent_path(), ModelRef("remote", "http://box:8080/v1#qwen"))
    assert last_model() is None  # a server may be gone: not started on its own
    remember(recent_path(), ModelRef("llamacpp", str(model)))
    assert last_model() == ModelRef("llamacpp", str(model))
    model.unlink()
    assert last_model() is None


@pytest.mark.parametrize("text", ["", "[]", "{", '{"theme": 3, "pane": "yes"}'])
def test_a_remembered_file_that_cannot_be_read_is_forgotten(text: str) -> None:
    path = remembered_path()
    path.write_text(text)
    assert load_remembered(path) == Remembered()
