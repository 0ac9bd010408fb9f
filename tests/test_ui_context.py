"""A conversation that outgrows a 512-token context, on the real engine: `trim`
keeps going with a notice and the system prompt intact; `refuse` stops and says why."""

from __future__ import annotations

from pathlib import Path

from fakes import fake_settings, scripted
from uitools import chat_ready, send, wait_until

from llamatui.engines.handle import EngineState
from llamatui.engines.host import ProcessHandle
from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.tui.app import LlamaTUI
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.settings import Settings
from llamatui.tui.widgets.chat_message import AssistantMessage, Notice
from llamatui.tui.widgets.conversations_pane import ConversationsPane
from llamatui.tui.widgets.status_line import StatusLine

SYSTEM = "You are a helpful assistant."
LONG = "Tell me about rivers, lakes, seas, oceans, glaciers and rain. " * 6


def settings(policy: str) -> Settings:
    return Settings(
        load=LoadOptions(n_ctx=512),
        engine_options={"llamacpp": {"threads": 2}},
        sampling=SamplingParams(temperature=0, max_tokens=40),
        system_prompt=SYSTEM,
        context_policy=policy,  # type: ignore[arg-type]
    )


async def test_trim_keeps_going_with_a_notice_and_the_system_prompt() -> None:
    sent: list[list[dict[str, str]]] = []

    class Spy(ProcessHandle):
        """The real engine, noting what each reply is asked for."""

        def stream(self, messages, params, continue_last=False):  # type: ignore[no-untyped-def]
            sent.append(list(messages))
            return super().stream(messages, params, continue_last)

    app = LlamaTUI(settings("trim"), make_handle=lambda ref: Spy(ref.engine))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        for i in range(6):
            await send(pilot, f"{i}. {LONG}")
            await wait_until(pilot, lambda: not screen.session.generating)
            assert screen.session.state is EngineState.READY
        notices = [str(n.render()) for n in screen.query(Notice)]
        assert any("oldest message" in n and "left out" in n for n in notices)
        assert len(screen.session.turns) == 12  # everything stays on screen and in history
        last = sent[-1]
        assert last[0] == {"role": "system", "content": SYSTEM}
        assert last[1]["role"] == "user" and len(last) < 12
        assert last[-1]["content"].startswith("5. ")
        stats = screen.status.stats
        assert stats is not None and stats.context_used <= 512


async def test_refuse_stops_with_the_reason() -> None:
    app = LlamaTUI(settings("refuse"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        for i in range(6):
            await send(pilot, f"{i}. {LONG}")
            await wait_until(pilot, lambda: not screen.session.generating)
            if screen.query(Notice):
                break
        text = str(screen.query_one(Notice).render())
        assert "context holds 512" in text and "Start a new conversation" in text
        assert app.is_running and screen.session.state is EngineState.READY


async def test_context_meter_counts_what_will_be_sent_as_you_type() -> None:
    app = LlamaTUI(settings("trim"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, "Name a river.")
        await wait_until(pilot, lambda: not screen.session.generating)
        draft = "And now name three mountains in Europe, please."
        screen.prompt.focus()
        await pilot.press(*draft)
        expected = app.chat.session.loader.handle.count_tokens(
            [*screen.session.messages(), {"role": "user", "content": draft}]
        )
        await wait_until(pilot, lambda: screen.status.next_prompt == expected)
        assert f"ctx {expected:,}/512" in str(screen.status.render())
        # It is what the engine will really take: the prompt of the next reply.
        screen.prompt.text = ""
        await send(pilot, draft)
        await wait_until(pilot, lambda: not screen.session.generating)
        stats = screen.status.stats
        assert stats is not None and stats.prompt_tokens == expected


async def test_a_cut_reply_can_be_continued() -> None:
    app = LlamaTUI(
        Settings(
            load=LoadOptions(n_ctx=2048),
            engine_options={"llamacpp": {"threads": 2}},
            sampling=SamplingParams(temperature=0, max_tokens=12),
        )
    )
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, "Write a long story about a lighthouse keeper.")
        await wait_until(pilot, lambda: not screen.session.generating)
        reply = screen.query(AssistantMessage).last()
        first = reply.text

        def footer() -> str:
            return str(reply.query_one(".reply-footer").render())

        await wait_until(pilot, lambda: footer() != "")  # drawn just after the state
        assert "Ctrl+T continues" in footer()
        await pilot.press("ctrl+t")
        await wait_until(
            pilot, lambda: not screen.session.generating and len(reply.text) > len(first)
        )
        assert reply.text.startswith(first)
        assert len(screen.query(AssistantMessage)) == 1
        assert [t["role"] for t in screen.session.turns] == ["user", "assistant"]
        assert screen.session.turns[-1]["content"] == reply.text
        assert app.store is not None and screen.session.conversation_id is not None
        saved = app.store.messages(screen.session.conversation_id)
        assert [m.content for m in saved] == [screen.session.turns[0]["content"], reply.text]


async def test_a_reply_that_filled_the_context_is_not_offered_to_continue() -> None:
    # Issue 12, bug 2: Ctrl+T offered, then "Your message alone is ... Shorten it" and
    # the reply marked interrupted, though nothing was sent.
    app = LlamaTUI(
        Settings(
            load=LoadOptions(n_ctx=256),
            engine_options={"llamacpp": {"threads": 2}},
            sampling=SamplingParams(temperature=0, max_tokens=2000),
        ),
        keep_history=False,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, "Write a long essay about the history of rivers.")
        await wait_until(pilot, lambda: not screen.session.generating, timeout=60)
        reply = screen.query(AssistantMessage).last()
        assert screen.session.last_stats is not None
        assert screen.session.last_stats.finish == "context"
        assert "the context is full" in reply.footer
        assert "Ctrl+T" not in reply.footer
        text = reply.text
        await pilot.press("ctrl+t")
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert any("no room to continue it" in m for m in said), said
        assert not screen.session.generating and reply.text == text
        assert "the context is full" in reply.footer and "interrupted" not in reply.footer


async def test_the_context_meter_follows_the_open_conversation(tmp_path: Path) -> None:
    # Issue 12, bug 4: the meter kept the figure of the conversation left behind.
    app = LlamaTUI(
        fake_settings(sampling=SamplingParams(max_tokens=50)),
        history=tmp_path / "history.db",
        make_handle=scripted("word " * 40),
    )

    def meter() -> int:
        text = str(app.screen.query_one(StatusLine).render())
        return int(text.split("ctx ")[1].split("/")[0].lstrip("~").replace(",", ""))

    async with app.run_test(size=(120, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen) and app.store is not None
        await wait_until(pilot, lambda: screen.session.state is EngineState.READY)
        empty = meter()
        await send(pilot, "A first conversation, a little longer than the second.")
        await wait_until(pilot, lambda: not screen.session.generating)
        await wait_until(pilot, lambda: meter() > empty + 40)
        first = meter()
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: meter() == empty)
        await send(pilot, "A second one.")
        await wait_until(pilot, lambda: not screen.session.generating)
        await wait_until(pilot, lambda: empty < meter() < first)
        second = meter()
        one, two = sorted(c.id for c in app.store.conversations())
        await screen.open_conversation(one)
        await wait_until(pilot, lambda: meter() == first)
        await screen.open_conversation(two)
        await wait_until(pilot, lambda: meter() == second)
        app.store.delete(two)  # as the pane's delete does, then tells the screen
        screen.post_message(ConversationsPane.Deleted(two))
        await wait_until(pilot, lambda: meter() == empty)
