"""Managing conversations from the pane: new, rename, delete with confirmation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fakes import fake_settings, scripted
from textual.widgets import Label
from uitools import chat_ready, send, wait_until

from llamatui.engines.handle import EngineState
from llamatui.tui.app import LlamaTUI
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.screens.dialogs import ConfirmDialog, RenameDialog
from llamatui.tui.widgets.conversations_pane import ConversationItem, _when, snippet_line


def titles(screen: ChatScreen) -> list[str]:
    return [i.conversation.title for i in screen.pane.list_view.query(ConversationItem)]


async def test_new_rename_delete(tmp_path: Path) -> None:
    app = LlamaTUI(fake_settings(), make_handle=scripted("Sure."))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        assert not screen.pane.display  # narrow terminal: hidden at first
        await wait_until(pilot, lambda: screen.session.state is EngineState.READY)
        for prompt in ("first chat", "second chat"):
            await send(pilot, prompt)
            await wait_until(pilot, lambda: not screen.session.generating)
            await pilot.press("ctrl+n")
        await pilot.press("f2")
        await wait_until(pilot, lambda: titles(screen) == ["second chat", "first chat"])

        # Rename the highlighted (newest) one.
        screen.pane.list_view.focus()
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RenameDialog))
        await pilot.press("ctrl+u", *"Renamed", "enter")
        await wait_until(pilot, lambda: titles(screen) == ["Renamed", "first chat"])

        # Delete asks first; "n" keeps it, "y" deletes.
        await pilot.press("down", "d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is screen)
        assert titles(screen) == ["Renamed", "first chat"]
        screen.pane.list_view.index = 1
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: titles(screen) == ["Renamed"])
        assert app.store is not None
        [conv] = app.store.conversations()
        assert conv.title == "Renamed" and conv.renamed


async def test_a_reply_moves_its_conversation_up_the_pane_without_making_items_anew() -> None:
    """The pane is shown again at each reply's start and end, while the model works:
    its items are updated and moved, never all mounted again."""
    app = LlamaTUI(fake_settings(), make_handle=scripted("Sure."))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await chat_ready(pilot)
        assert screen.pane.display  # wide: shown
        for prompt in ("one", "two", "three"):
            await send(pilot, prompt)
            await wait_until(pilot, lambda: not screen.session.generating)
            await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: titles(screen) == ["three", "two", "one"])
        lv = screen.pane.list_view
        items = {i.conversation.id: i for i in lv.query(ConversationItem)}
        oldest = next(i for i in items if items[i].conversation.title == "one")
        await screen.open_conversation(oldest)
        await send(pilot, "again")
        await wait_until(pilot, lambda: not screen.session.generating)
        await wait_until(pilot, lambda: titles(screen) == ["one", "three", "two"])
        # The same widgets, in the new order, the current one marked.
        assert {i.conversation.id: i for i in lv.query(ConversationItem)} == items
        assert [i.has_class("-current") for i in lv.query(ConversationItem)] == [
            True, False, False
        ]  # fmt: skip
        shown = [str(i.query_one(".title", Label).content) for i in lv.query(ConversationItem)]
        assert shown == ["one", "three", "two"]


async def test_search_lands_on_a_short_conversation(tmp_path: Path) -> None:
    """A short conversation sits at the bottom while anchored; a found message in it
    must still come into view."""
    app = LlamaTUI(fake_settings(), make_handle=scripted("Apples and pears."))
    async with app.run_test(size=(130, 30)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, "List three fruits.")
        await wait_until(pilot, lambda: not screen.session.generating)
        await pilot.press("ctrl+n")
        await send(pilot, "Name a color.")
        await wait_until(pilot, lambda: not screen.session.generating)
        await pilot.press("ctrl+f", *"fruits")
        await wait_until(pilot, lambda: bool(screen.pane.list_view.children))
        await pilot.press("enter", "enter")
        await wait_until(
            pilot,
            lambda: (
                len(screen.session.turns) == 2 and "fruits" in screen.session.turns[0]["content"]
            ),
        )
        await pilot.pause(0.3)
        found = screen.query_one(".-found")
        assert screen.conversation.region.contains_region(found.region)


async def test_a_long_question_wraps_in_its_dialog_at_80_columns() -> None:
    from textual.app import App

    question = (
        'Delete "A very long conversation title about dragons and volcanoes and '
        'penguins"? Its 42 messages go too; this cannot be undone.'
    )
    app: App[None] = App()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ConfirmDialog(question))
        await pilot.pause()
        shown = " ".join(
            " ".join(line.text.replace("│", " ").split())
            for line in app.screen._compositor.render_strips()
        )
        assert "this cannot be undone." in shown  # all of it, wrapped in the dialog
        assert "Cancel" in shown and "Delete" in shown


async def test_search_says_when_nothing_matches_and_esc_leaves_it(tmp_path: Path) -> None:
    # Issue 12: no "no results", and Esc did not leave the search box.
    app = LlamaTUI(fake_settings(), make_handle=scripted("Sure."))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, "a chat about otters")
        await wait_until(pilot, lambda: not screen.session.generating)
        await pilot.press("ctrl+f")
        assert screen.pane.display and screen.pane.search_input.has_focus
        await pilot.press(*"zebras")
        await wait_until(pilot, lambda: bool(screen.pane.list_view.query(".no-hits")))
        said = str(screen.pane.list_view.query_one(".no-hits Label").render())
        assert said == "No message matches “zebras”."
        await pilot.press("escape")  # clears the search: the conversations again
        assert screen.pane.search_input.value == ""
        await wait_until(pilot, lambda: titles(screen) == ["a chat about otters"])
        await pilot.press("escape")  # an empty box: back to the prompt, the pane hides
        assert not screen.pane.display and screen.prompt.has_focus
        assert screen.session.state is EngineState.READY  # nothing was stopped


def test_times_in_the_pane_say_which_day() -> None:
    now = datetime(2026, 11, 27, 15, 0).timestamp()
    at = lambda *when: datetime(*when).timestamp()  # noqa: E731
    assert _when(at(2026, 11, 27, 9, 5), now) == "today 09:05"
    assert _when(at(2026, 11, 26, 23, 59), now) == "yesterday 23:59"
    assert _when(at(2026, 11, 24, 18, 40), now) == "Tue 18:40"
    assert _when(at(2026, 10, 2, 8, 0), now) == "2026-10-02"


async def test_at_80_columns_the_pane_opens_over_the_chat() -> None:
    # Issue 12: the open pane squeezed the chat to 46 columns.
    app = LlamaTUI(fake_settings(), make_handle=scripted("Sure."))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await chat_ready(pilot)
        await pilot.press("f2")
        assert screen.pane.display
        assert screen.query_one("#chat").region.width == 80
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert screen.query_one("#chat").region.width == 160 - screen.pane.region.width


def test_a_search_result_shows_its_match_near_the_start_in_bold() -> None:
    # Issue 12: at 80 columns the snippet's end, with the match, was cut off.
    line = snippet_line("assistant", "The long story went on and on about the «otters» here")
    assert line.plain == "assistant: …about the otters here"
    [span] = line.spans
    assert line.plain[span.start : span.end] == "otters" and "bold" in str(span.style)
    assert snippet_line("user", "«otters» first").plain == "user: otters first"
