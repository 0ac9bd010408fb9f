"""Model text is untrusted: control sequences never reach the terminal."""

from __future__ import annotations

from fakes import fake_settings, scripted
from uitools import chat_ready, send, wait_until

from llamatui.tui.app import LlamaTUI
from llamatui.tui.chat.sanitize import strip_controls
from llamatui.tui.widgets.chat_message import AssistantMessage

HOSTILE = (
    "Hello \x1b]52;c;ZXZpbA==\x07clipboard \x1b[31mred\x1b[0m \x1b]0;title\x07 bell\x07 "
    "c1\x9b2J \x00nul\r\ncr [bold]markup[/bold] [@click=app.quit]click[/] done"
)


def test_strip_controls_keeps_text_newlines_and_tabs() -> None:
    assert strip_controls("a\tb\nc\x1b[2Jd\x07\x9b\x7fe\r") == "a\tb\nc[2Jde"
    assert strip_controls("naïve — ✓ 日本") == "naïve — ✓ 日本"


async def test_control_characters_in_a_reply_do_not_reach_the_screen() -> None:
    app = LlamaTUI(fake_settings(), make_handle=scripted(HOSTILE), keep_history=False)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, "say something \x1b[5mnasty")
        await wait_until(pilot, lambda: not screen.session.generating)
        reply = screen.query_one(AssistantMessage)
        for bad in ("\x1b", "\x07", "\x9b", "\x00", "\r"):
            assert bad not in reply.text
            assert bad not in reply.markdown.source
        screen_text = app.export_screenshot()
        assert "\x1b" not in screen_text and "\x07" not in screen_text
        assert "clipboard" in screen_text and "done" in screen_text
        # Brackets are shown as text, not read as Textual markup.
        assert "[bold]markup[/bold]" in reply.text
        assert "markup" in screen_text
        assert app.is_running
