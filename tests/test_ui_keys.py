"""Keys a new user looks for: F1 lists the app's keys (grouped, Esc closes), Ctrl+C
stops a streaming reply or copies, the palette reaches every command, and an empty
conversation says how to start (issue 12)."""

from __future__ import annotations

import threading
from pathlib import Path

from fakes import fake_settings, scripted
from uitools import chat_ready, send, wait_until

from llamatui.tui.app import LlamaTUI
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.screens.help import HelpScreen
from llamatui.tui.widgets.chat_message import AssistantMessage
from llamatui.tui.widgets.conversation_view import Welcome
from llamatui.tui.widgets.status_line import fit


async def test_f1_lists_the_keys_by_group_and_esc_closes_it() -> None:
    app = LlamaTUI(fake_settings(), keep_history=False, make_handle=scripted())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#keys").render())
        groups = ["Prompt", "Reply", "Conversations", "A selected message", "Models", "Screen"]
        assert [g for g in groups if g in text] == groups
        assert text.index("Prompt") < text.index("Reply")  # the app's keys first
        for key, what in [
            ("enter", "Send the message"),
            ("esc", "Stop the reply"),
            ("f2", "conversations pane"),
            ("ctrl+l", "model library"),
            ("ctrl+q", "Quit llamatui"),
            ("f3", "Select a message"),
            ("f4", "system prompt and sampling"),
            ("r", "Another version of the reply"),  # a selected message's, listed too
            ("c", "Copy the message"),
        ]:
            line = next((ln for ln in text.splitlines() if what in ln), "")
            assert key in line.lower(), (key, what, text)
        assert "ctrl+b" not in text.lower()  # tmux's prefix is left to tmux
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen)


async def test_ctrl_c_stops_a_streaming_reply_and_copies_otherwise() -> None:
    step = threading.Event()
    app = LlamaTUI(fake_settings(), keep_history=False, make_handle=scripted(step=step))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, "Tell me a story.")
        assert screen.session.generating
        await pilot.press("ctrl+c")
        step.set()
        await wait_until(pilot, lambda: not screen.session.generating)
        assert app.is_running  # stopped the reply, not the app
        assert "stopped" in screen.query(AssistantMessage).last().footer
        await pilot.press(*"copy me")
        screen.prompt.select_all()
        await pilot.press("ctrl+c")
        assert app.clipboard == "copy me"


async def test_the_palette_reaches_the_apps_commands() -> None:
    app = LlamaTUI(fake_settings(), keep_history=False, make_handle=scripted())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("New chat", "Models", "Switch model", "Restart engine", "Continue",
                       "Meters", "Chats", "Search", "Keys", "Quit", "Theme"):  # fmt: skip
            assert wanted in titles, titles
        new_chat = next(c for c in app.get_system_commands(app.screen) if c.title == "New chat")
        assert "ctrl+n" in new_chat.help.lower()


async def test_an_empty_conversation_says_how_to_start() -> None:
    app = LlamaTUI(fake_settings(), keep_history=False, make_handle=scripted())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await chat_ready(pilot)
        [welcome] = screen.query(Welcome)
        said = str(welcome.render())
        assert "press Enter" in said and "F1" in said and "Ctrl+L" in said
        await send(pilot, "Hello.")
        await wait_until(pilot, lambda: not screen.session.generating)
        assert not screen.query(Welcome)
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: bool(screen.query(Welcome)))


async def test_up_in_an_empty_prompt_recalls_what_was_sent(tmp_path: Path) -> None:
    history = tmp_path / "history.db"
    app = LlamaTUI(fake_settings(), history=history, make_handle=scripted())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await chat_ready(pilot)
        for said in ("first question", "second question"):
            await send(pilot, said)
            await wait_until(pilot, lambda: not screen.session.generating)
        prompt = screen.prompt
        await pilot.press("up")
        assert prompt.text == "second question"
        await pilot.press("up")
        assert prompt.text == "first question"
        await pilot.press("up")  # the oldest: it stays
        assert prompt.text == "first question"
        await pilot.press("down", "down")
        assert prompt.text == ""
        await pilot.press(*"draft", "up")  # a draft is never replaced
        assert prompt.text == "draft"
        prompt.clear()
        prompt.earlier.append("line one\nline two")
        await pilot.press("up")
        assert prompt.text == "line one\nline two"
        await pilot.press("up")  # within it: the cursor goes to line one
        assert prompt.text == "line one\nline two" and prompt.cursor_location[0] == 0
        await pilot.press("up")  # from its first line: the one before
        assert prompt.text == "second question"
    again = LlamaTUI(fake_settings(), history=history, make_handle=scripted())
    async with again.run_test(size=(80, 24)) as pilot:  # the next run remembers them
        screen = await chat_ready(pilot)
        await pilot.press("up")
        assert screen.prompt.text == "second question"


def test_the_status_line_fits_80_columns() -> None:
    parts = ["SmolLM2-135M-Instruct.Q4_1", "ready", "93.6 tok/s", "TTFT 113 ms"]
    parts += ["ctx 47/4,096", "prompt 31 tok"]
    assert fit(parts, 200) == " · ".join(parts)
    assert (
        fit(parts, 80)
        == "SmolLM2-135M-Instruct.Q4_1 · ready · 93.6 tok/s · TTFT 113 ms · ctx 47/4,096"
    )
    assert fit(parts, 64) == "SmolLM2-135M-Instruct.Q4_1 · ready · 93.6 tok/s · ctx 47/4,096"
    line = fit(parts, 50)
    assert len(line) <= 50 and line.endswith("· ready · 93.6 tok/s · ctx 47/4,096")
    assert line.startswith("SmolLM2-135M") and "…" in line


def test_keys_are_named_as_people_write_them() -> None:
    from llamatui.tui.screens.help import key_label

    named = {k: key_label(k) for k in ("ctrl+l", "escape", "f2", "alt+up", "k", "delete")}
    assert named == {
        "ctrl+l": "Ctrl+L",
        "escape": "Esc",
        "f2": "F2",
        "alt+up": "Alt+Up",
        "k": "k",  # not K, which reads as Shift+K
        "delete": "Delete",
    }


def test_every_key_id_in_the_docs_can_be_remapped() -> None:
    # A [keymap] id the app does not know is told as unknown: the ids docs/keys.md
    # lists (the selected message's and the dialogs' too) must all be known.
    import re
    from pathlib import Path

    from llamatui.tui.app import binding_ids

    docs = (Path(__file__).parent.parent / "docs" / "keys.md").read_text()
    listed = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", docs.split("The ids:")[1].split("\n\n")[0]))
    assert {"messages.regenerate", "settings.cancel"} <= listed
    assert listed == binding_ids()
