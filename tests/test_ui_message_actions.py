"""Message actions from the keyboard on the real engine (issue 12): select a message
(F3), regenerate it (the old version stays), step between versions, edit and resend
(a new branch), edit a reply and continue it, delete, copy the message or its code
blocks (the OSC 52 sequence written); all of it as stored, through a restart."""

from __future__ import annotations

import base64
import threading

from fakes import fake_settings, scripted
from textual.pilot import Pilot
from textual.widgets import Input
from uitools import chat_ready, send, wait_until

from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.tui.app import LlamaTUI
from llamatui.tui.history.records import ReplyMeta
from llamatui.tui.history.store import Store
from llamatui.tui.paths import history_path
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.screens.chat_settings import ChatSettingsDialog
from llamatui.tui.screens.dialogs import ConfirmDialog, EditDialog
from llamatui.tui.screens.message_actions import code_blocks
from llamatui.tui.settings import Settings
from llamatui.tui.widgets.chat_message import AssistantMessage, UserMessage
from llamatui.tui.widgets.prompt_input import PromptInput

SETTINGS = Settings(
    load=LoadOptions(n_ctx=1024),
    engine_options={"llamacpp": {"threads": 2}},
    sampling=SamplingParams(temperature=1.0, max_tokens=16),
)


def written(app: LlamaTUI) -> list[str]:
    """What the app writes to the terminal from now on."""
    out: list[str] = []
    driver = app._driver
    assert driver is not None
    write = driver.write

    def recording(data: str) -> None:
        out.append(data)
        write(data)

    driver.write = recording  # type: ignore[method-assign]
    return out


def osc52(text: str) -> str:
    return f"\x1b]52;c;{base64.b64encode(text.encode()).decode()}\a"


async def idle(pilot: Pilot[None], screen: ChatScreen) -> None:
    await wait_until(pilot, lambda: not screen.session.generating)
    await pilot.pause(0.3)  # the conversation is shown again from the history


def shown(screen: ChatScreen) -> list[str]:
    return [w.text for w in screen.conversation.chat_messages()]


async def edit(pilot: Pilot[None], text: str) -> None:
    await pilot.press("e")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, EditDialog))
    box = pilot.app.screen.query_one(PromptInput)
    box.text = text
    await pilot.press("enter")


async def test_every_message_action_is_stored_and_survives_a_restart() -> None:
    app = LlamaTUI(SETTINGS)
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await chat_ready(pilot)
        out = written(app)
        store = screen.store
        assert store is not None
        await send(pilot, "Name a colour.")
        await idle(pilot, screen)
        cid = screen.session.conversation_id
        assert cid is not None
        first = shown(screen)[1]

        # F3 selects the last message; c copies it, through OSC 52.
        await pilot.press("f3")
        assert screen.conversation.has_focus
        assert isinstance(screen.conversation.selected, AssistantMessage)
        await pilot.press("c")
        assert osc52(first) in "".join(out)

        # r: another version; the first stays, and the footer says 2/2.
        await pilot.press("r")
        await idle(pilot, screen)
        [user, reply] = screen.conversation.chat_messages()
        assert isinstance(reply, AssistantMessage) and "← 2/2 →" in reply.footer
        second = reply.text
        versions = [m for m in store.tree(cid) if m.role == "assistant"]
        assert [m.content for m in versions] == [first, second]
        assert [m.parent_id for m in versions] == [user.message_id] * 2

        # Left: back to the first version, as the history's path.
        await pilot.press("left")
        await pilot.pause(0.3)
        assert shown(screen) == ["Name a colour.", first]
        # Still at the bottom of the view, not scrolled to its top.
        view, last = screen.conversation, screen.conversation.chat_messages()[-1]
        assert last.region.bottom == view.region.bottom, (last.region, view.region)
        assert store.messages(cid)[-1].content == first
        await pilot.press("right")
        await pilot.pause(0.3)
        assert shown(screen)[-1] == second

        # e on the user's message: edited and resent as a new branch.
        await pilot.press("up")
        assert isinstance(screen.conversation.selected, UserMessage)
        await edit(pilot, "Name a fruit.")
        await idle(pilot, screen)
        assert shown(screen)[0] == "Name a fruit."
        roots = [m for m in store.tree(cid) if m.parent_id is None]
        assert [m.content for m in roots] == ["Name a colour.", "Name a fruit."]
        fruit = shown(screen)[1]

        # e on the reply: a new version with the user's text; t continues it.
        await pilot.press("f3")
        await edit(pilot, "My favourite fruit is")
        await pilot.pause(0.3)
        assert shown(screen)[-1] == "My favourite fruit is"
        await pilot.press("t")
        await idle(pilot, screen)
        continued = store.messages(cid)[-1]
        assert continued.content.startswith("My favourite fruit is")
        assert len(continued.content) > len("My favourite fruit is")
        assert shown(screen)[-1] == continued.content
        assert fruit in [m.content for m in store.tree(cid)]  # the edited one stays

        # d on that reply: it asks, then only this version goes (it has another).
        await pilot.press("f3", "d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "this version of the reply" in str(app.screen.question)
        await pilot.press("y")
        await pilot.pause(0.3)
        assert shown(screen) == ["Name a fruit.", fruit]
        # d on the user's message: the exchange goes, and the colour branch shows.
        await pilot.press("f3", "up", "d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await pilot.pause(0.3)
        assert shown(screen) == ["Name a colour.", second]
        assert "Name a fruit." not in [m.content for m in store.tree(cid)]
        await pilot.press("ctrl+q")

    # Restarted: the conversation as it was left, each version there.
    app = LlamaTUI(SETTINGS)
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await chat_ready(pilot)
        await screen.open_conversation(cid)
        await pilot.pause(0.3)
        assert shown(screen) == ["Name a colour.", second]
        reply = screen.conversation.chat_messages()[-1]
        assert isinstance(reply, AssistantMessage) and "← 2/2 →" in reply.footer
        await pilot.press("ctrl+q")


async def test_code_blocks_are_copied_one_per_press() -> None:
    reply = "Two ways:\n\n```python\nprint('a')\n```\n\nor\n\n```sh\necho b\n```\n"
    assert code_blocks(reply) == ["print('a')\n", "echo b\n"]
    store = Store(history_path())
    cid, _, rid = store.save_prompt(None, "Print something.", ReplyMeta())
    store.finish_reply(rid, reply, "complete", ReplyMeta())
    store.close()
    app = LlamaTUI(SETTINGS)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        await screen.open_conversation(cid)
        out = written(app)
        await pilot.press("f3", "b")
        assert osc52("print('a')\n") in "".join(out)
        await pilot.press("b")
        assert osc52("echo b\n") in "".join(out)
        await pilot.press("up", "b")  # the user's message has none: it says so
        assert any("no code block" in str(n.message) for n in app._notifications)
        await pilot.press("escape")
        assert screen.prompt.has_focus
        await pilot.press("ctrl+q")


async def test_a_regenerate_stopped_before_its_first_word_leaves_the_reply_as_it_was() -> None:
    step = threading.Event()
    step.set()
    app = LlamaTUI(fake_settings(), make_handle=scripted(step=step))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, "Tell me a story.")
        await idle(pilot, screen)
        before = shown(screen)
        step.clear()  # the next reply waits before its first token
        await pilot.press("f3", "r")
        await wait_until(pilot, lambda: screen.session.generating)
        # F4 while it streams: the settings are saved, the app goes on.
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatSettingsDialog))
        app.screen.query_one("#system", Input).value = "Be brief."
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        await pilot.press("ctrl+c")
        step.set()
        await idle(pilot, screen)
        assert app.is_running
        assert shown(screen) == before  # no empty version in front of the reply
        cid = screen.session.conversation_id
        assert screen.store is not None and cid is not None
        assert [m.role for m in screen.store.tree(cid)] == ["user", "assistant", "system"]
        assert screen.session.system == "Be brief."
        await pilot.press("ctrl+q")


async def test_a_reply_further_up_is_continued_as_a_new_version() -> None:
    settings = fake_settings(sampling=SamplingParams(max_tokens=6))  # replies cut short
    app = LlamaTUI(settings, make_handle=scripted())
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await chat_ready(pilot)
        for prompt in ("First?", "Second?"):
            await send(pilot, prompt)
            await idle(pilot, screen)
        first = shown(screen)[1]
        await pilot.press("f3", "up", "up", "t")
        await pilot.pause(0.5)
        await idle(pilot, screen)
        assert shown(screen)[0] == "First?" and len(shown(screen)) == 2
        assert shown(screen)[1].startswith(first) and len(shown(screen)[1]) > len(first)
        reply = screen.conversation.chat_messages()[-1]
        assert isinstance(reply, AssistantMessage) and reply.footer.startswith("← 2/2 →")
        cid = screen.session.conversation_id
        assert screen.store is not None and cid is not None
        tree = [m.content for m in screen.store.tree(cid)]
        assert first in tree and "Second?" in tree  # the old version and what followed
        await pilot.press("ctrl+q")
