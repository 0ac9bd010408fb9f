"""History in the app: it survives a restart, opens from the pane, and search lands."""

from __future__ import annotations

import os
from pathlib import Path

from uitools import chat_ready, send, wait_until

from llamatui.engines.handle import EngineState
from llamatui.engines.models import default_model_path
from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.tui.app import LlamaTUI
from llamatui.tui.history.store import Store
from llamatui.tui.paths import history_path
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.settings import Settings
from llamatui.tui.widgets.chat_message import AssistantMessage, Notice, UserMessage
from llamatui.tui.widgets.conversations_pane import ConversationItem, HitItem

SETTINGS = Settings(
    load=LoadOptions(n_ctx=2048),
    engine_options={"llamacpp": {"threads": 2}},
    sampling=SamplingParams(temperature=0, max_tokens=60),
)
PROMPTS = ["Name a famous volcano.", "Tell me about penguins."]


async def test_two_prompts_survive_a_restart_and_search_lands() -> None:
    app = LlamaTUI(SETTINGS)
    async with app.run_test(size=(130, 36)) as pilot:
        screen = await chat_ready(pilot)
        for prompt in PROMPTS:
            await send(pilot, prompt)
            await wait_until(pilot, lambda: not screen.session.generating)
        replies = [r.text for r in screen.query(AssistantMessage)]
        assert all(replies)
        await pilot.press("ctrl+q")

    # What was saved has every reply, complete, with its figures.
    store = Store(history_path())
    [conv] = store.conversations()
    saved = store.messages(conv.id)
    store.close()
    assert [m.content for m in saved] == [PROMPTS[0], replies[0], PROMPTS[1], replies[1]]
    assert conv.title == PROMPTS[0]
    reply = saved[1]
    assert reply.status in ("complete", "cut")
    assert reply.meta.engine == "llamacpp" and reply.meta.model is not None
    model = ModelRef.parse(reply.meta.model)  # the reference that loads it again
    assert model == ModelRef("llamacpp", str(default_model_path()))
    assert reply.meta.generated_tokens and reply.meta.tokens_per_s and reply.meta.ttft_s
    assert reply.meta.sampling is not None and reply.meta.sampling["temperature"] == 0

    app = LlamaTUI(SETTINGS)
    async with app.run_test(size=(130, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        assert screen.pane.display  # wide terminal: the pane shows
        await wait_until(pilot, lambda: bool(screen.pane.list_view.children))
        [item] = screen.pane.list_view.query(ConversationItem)
        assert item.conversation.id == conv.id
        screen.pane.list_view.focus()
        screen.pane.list_view.index = 0
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(screen.query(UserMessage)) == 2)
        assert [u.text for u in screen.query(UserMessage)] == PROMPTS
        assert [a.text for a in screen.query(AssistantMessage)] == replies
        assert screen.session.conversation_id == conv.id and len(screen.session.turns) == 4

        # Search for a word of the second reply and land on it.
        word = max(replies[1].split(), key=len).strip(".,!?*")
        await pilot.press("ctrl+f")
        screen.pane.search_input.value = word
        await wait_until(pilot, lambda: bool(screen.pane.list_view.query(HitItem)))
        hits = list(screen.pane.list_view.query(HitItem))
        target = next(h for h in hits if h.hit.message_id == saved[3].id)
        screen.pane.list_view.focus()
        screen.pane.list_view.index = hits.index(target)
        await pilot.press("enter")
        found = f"#message-{saved[3].id}"
        await wait_until(pilot, lambda: bool(screen.query(found)))
        widget = screen.query_one(found)
        assert widget.has_class("-found")
        await pilot.pause(0.3)
        region = screen.conversation.content_region
        assert widget.region.overlaps(region)

        # The conversation continues where it was.
        await send(pilot, "And a famous mountain?")
        await wait_until(
            pilot, lambda: not screen.session.generating and len(screen.session.turns) == 6
        )
    store = Store(history_path())
    assert store.message_count(conv.id) == 6
    store.close()


async def test_corrupt_history_at_start_is_kept_and_reported() -> None:
    path = history_path()
    junk = os.urandom(32 * 1024)
    path.write_bytes(junk)
    app = LlamaTUI(SETTINGS)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await wait_until(pilot, lambda: bool(screen.query(Notice)))
        text = str(screen.query_one(Notice).render())
        assert "damaged" in text and "Nothing was deleted" in text
        moved = list(Path(path).parent.glob("history.db.corrupt-*"))
        assert len(moved) == 1 and moved[0].read_bytes() == junk
        assert str(moved[0]) in text
        await wait_until(pilot, lambda: screen.session.state is EngineState.READY)
        await send(pilot, "Hello")
        await wait_until(pilot, lambda: not screen.session.generating)
    store = Store(path)
    assert len(store.conversations()) == 1
    store.close()
