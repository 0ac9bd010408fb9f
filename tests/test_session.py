"""The conversation core without Textual: a full exchange, trimming, continuing, the
fallbacks for engines that lack a capability, a dying engine, a locked history."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from engine_refs import gguf
from fakes import FAKE_MODEL

from llamatui.engines.handle import EngineState, InProcessHandle
from llamatui.engines.host import ProcessHandle
from llamatui.engines.protocol import Capabilities, LoadOptions, ReplyStats, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.scripted import ScriptedEngine
from llamatui.tui.chat import events as ev
from llamatui.tui.chat.engines import Busy
from llamatui.tui.chat.session import ChatSession
from llamatui.tui.history.store import Store
from llamatui.tui.settings import Settings

SYSTEM = "You are terse."


class Recorder:
    """The UI's side: each event is applied, one at a time, and kept if it counts
    (the screen draws only those)."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.session: ChatSession | None = None
        self.on_text: list = []  # type: ignore[type-arg]
        self._lock = threading.Lock()  # workers report from their own threads

    def __call__(self, event: ev.Event) -> None:
        assert self.session is not None
        with self._lock:
            if not self.session.apply(event):
                return
            self.events.append(event)
        if isinstance(event, ev.TextStreamed):
            for hook in self.on_text:
                hook(event)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]


def make(
    settings: Settings, store: Store | None = None, handle=None
) -> tuple[ChatSession, Recorder]:  # type: ignore[no-untyped-def]
    rec = Recorder()
    maker = (lambda ref: handle) if handle is not None else None
    session = ChatSession(settings, store, rec, make_handle=maker, recent_path=None)
    rec.session = session
    return session, rec


def scripted(reply: str = "One two three four five six seven eight nine ten.", **kw):  # type: ignore[no-untyped-def]
    return InProcessHandle("scripted", lambda: ScriptedEngine(reply, **kw))


def exchange(session: ChatSession, text: str) -> None:
    """What the screen does: send on the UI thread, run the reply in a worker."""
    job = session.send(text)
    assert session.generating
    session.run_reply(job)


def test_a_full_exchange_on_the_real_engine(smollm2: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "history.db")
    settings = Settings(
        model=gguf(smollm2),
        load=LoadOptions(n_ctx=1024),
        engine_options={"llamacpp": {"threads": 2}},
        sampling=SamplingParams(temperature=0, max_tokens=24),
        system_prompt=SYSTEM,
    )
    session, rec = make(settings, store)
    try:
        session.load()
        assert session.state is EngineState.READY and session.info is not None
        assert [type(e) for e in rec.events][:1] == [ev.LoadStarted]
        assert rec.of(ev.LoadProgress)[-1].fraction == 1.0
        exchange(session, "Name a colour.")
        saved, ended = rec.of(ev.PromptSaved), rec.of(ev.ReplyEnded)
        assert len(saved) == 1 and len(ended) == 1
        # Saved before the first text arrived.
        assert rec.events.index(saved[0]) < rec.events.index(rec.of(ev.TextStreamed)[0])
        reply = ended[0].text
        assert reply == "".join(e.text for e in rec.of(ev.TextStreamed))
        assert session.turns == [
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": reply},
        ]
        assert session.messages()[0] == {"role": "system", "content": SYSTEM}
        assert session.state is EngineState.READY and not session.generating
        stored = store.messages(saved[0].conversation_id)
        assert [m.content for m in stored] == [SYSTEM, "Name a colour.", reply]  # its own
        assert stored[2].status in ("complete", "cut")
        assert ModelRef.parse(stored[2].meta.model or "") == gguf(smollm2)
        # The context meter: what the next prompt takes, counted by the engine.
        session.count([*session.messages(), {"role": "user", "content": "And another?"}])
        counted = rec.of(ev.ContextCounted)[-1]
        assert counted.exact and counted.tokens > ended[0].stats.prompt_tokens
    finally:
        session.close()
        store.close()


def test_trimming_keeps_the_system_prompt_and_everything_on_record() -> None:
    sent: list[list[dict[str, str]]] = []

    class Spy(InProcessHandle):
        def stream(self, messages, params, continue_last=False):  # type: ignore[no-untyped-def]
            sent.append(list(messages))
            return super().stream(messages, params, continue_last)

    handle = Spy("scripted", lambda: ScriptedEngine("Fine, thanks."))
    settings = Settings(
        model=FAKE_MODEL,
        load=LoadOptions(n_ctx=256),
        sampling=SamplingParams(max_tokens=32),
        system_prompt=SYSTEM,
    )
    session, rec = make(settings, handle=handle)
    long = "word " * 60
    for i in range(5):
        exchange(session, f"{i} {long}")
    trimmed = rec.of(ev.ContextTrimmed)
    assert trimmed and trimmed[-1].n_ctx == 256 and session.dropped == trimmed[-1].dropped
    assert len(session.turns) == 10  # the conversation keeps every turn
    assert sent[-1][0] == {"role": "system", "content": SYSTEM}
    assert sent[-1][1]["role"] == "user" and sent[-1][-1]["content"].startswith("4 ")
    assert len(sent[-1]) < 11


def test_refuse_policy_says_what_to_do() -> None:
    settings = Settings(model=FAKE_MODEL, load=LoadOptions(n_ctx=256), context_policy="refuse")
    session, rec = make(settings, handle=scripted())
    exchange(session, "word " * 300)
    [failed] = rec.of(ev.ReplyFailed)
    assert "Start a new conversation" in failed.reason and not failed.engine_died
    assert session.turns == [{"role": "user", "content": "word " * 300}]
    assert session.state is EngineState.READY


def test_a_cut_reply_is_continued_in_place(tmp_path: Path) -> None:
    store = Store(tmp_path / "history.db")
    reply = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    settings = Settings(model=FAKE_MODEL, sampling=SamplingParams(max_tokens=4))
    session, rec = make(settings, store, scripted(reply))
    exchange(session, "Greek letters?")
    assert rec.of(ev.ReplyEnded)[-1].stats.finish == "length" and session.cut
    job = session.continue_reply()
    session.run_reply(job)
    assert session.turns[-1] == {
        "role": "assistant",
        "content": "alpha beta gamma delta epsilon zeta eta theta ",
    }
    job = session.continue_reply()
    session.run_reply(job)
    assert session.turns[-1]["content"] == reply and not session.cut
    assert [t["role"] for t in session.turns] == ["user", "assistant"]
    stored = store.messages(rec.of(ev.PromptSaved)[0].conversation_id)
    assert [m.content for m in stored] == ["Greek letters?", reply]
    assert stored[1].status == "complete"
    # A complete reply may be carried on too (issue 12: continue any reply); with
    # nothing to continue, it says so.
    assert session.continue_reply().continue_text == reply
    session.stop()
    session.apply(ev.ReplyEnded(None, reply))
    session.open(None, [])
    with pytest.raises(Busy, match="no reply to continue"):
        session.continue_reply()
    store.close()


def test_a_reply_that_filled_the_context_is_continued_only_where_there_is_room(
    tmp_path: Path,
) -> None:
    # Issue 12, bug 2: Ctrl+T on such a reply said "Your message alone is 503 tokens
    # ... Shorten it" and marked the reply interrupted, though nothing was sent.
    store = Store(tmp_path / "history.db")
    settings = Settings(
        model=FAKE_MODEL, load=LoadOptions(n_ctx=256), sampling=SamplingParams(max_tokens=999)
    )
    session, rec = make(settings, store, scripted("word " * 600))
    exchange(session, "Write a long essay.")
    assert rec.of(ev.ReplyEnded)[-1].stats.finish == "context"
    assert not session.cut  # its question alone was before it: nothing to leave out
    with pytest.raises(Busy, match="no room to continue it"):
        session.continue_reply()
    # With an older exchange before it, leaving that out may make room: offered; here
    # the reply alone still leaves too little, which is said, and the reply stays.
    exchange(session, "Another one.")
    assert rec.of(ev.ReplyEnded)[-1].stats.finish == "context" and session.cut
    before = list(session.turns)
    session.run_reply(session.continue_reply())
    [failed] = rec.of(ev.ReplyFailed)
    assert failed.kept and "no room to continue it" in failed.reason
    assert "Shorten it" not in failed.reason and not session.cut
    assert session.turns == before
    stored = store.messages(rec.of(ev.PromptSaved)[-1].conversation_id)
    assert stored[-1].status == "cut" and stored[-1].content == before[-1]["content"]
    store.close()


def test_an_engine_without_continue_or_count_falls_back() -> None:
    lacking = Capabilities(count_tokens=False, continue_reply=False)
    settings = Settings(model=FAKE_MODEL, sampling=SamplingParams(max_tokens=3))
    session, rec = make(settings, handle=scripted(capabilities=lacking))
    exchange(session, "Count to ten.")
    assert rec.of(ev.ReplyEnded)[-1].stats.finish == "length"
    assert not session.cut  # not offered: the engine cannot
    with pytest.raises(Busy, match="cannot continue a reply"):
        session.continue_reply()
    session.count(session.messages())
    counted = rec.of(ev.ContextCounted)[-1]
    assert not counted.exact and counted.tokens > 0  # an estimate, said to be one


def test_a_dying_engine_keeps_the_reply_and_starts_again(smollm2: Path) -> None:
    settings = Settings(
        model=gguf(smollm2),
        load=LoadOptions(n_ctx=1024),
        engine_options={"llamacpp": {"threads": 2}},
        sampling=SamplingParams(temperature=0, max_tokens=300),
    )
    handle = ProcessHandle("llamacpp")
    session, rec = make(settings, handle=handle)
    try:
        session.load()
        pid = handle.pid
        assert pid is not None
        killed: list[int] = []

        def kill(_: ev.TextStreamed) -> None:
            if not killed:  # once, at the first text
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        rec.on_text.append(kill)
        exchange(session, "Write a long story about a dragon.")
        [failed] = rec.of(ev.ReplyFailed)
        assert failed.engine_died and "SIGKILL" in failed.reason
        assert session.state is EngineState.STOPPED
        assert session.turns[-1] == {"role": "assistant", "content": failed.text} and failed.text
        rec.on_text.clear()
        exchange(session, "Say hello.")  # the engine starts again for it
        assert handle.pid not in (None, pid) and session.state is EngineState.READY
        assert len(session.turns) == 4
    finally:
        session.close()


def test_an_engine_killed_while_idle_is_told_at_once(smollm2: Path) -> None:
    # Issue 12, bug 3: the status kept saying ready beside "engine 0M".
    settings = Settings(
        model=gguf(smollm2),
        load=LoadOptions(n_ctx=1024),
        engine_options={"llamacpp": {"threads": 2}},
        sampling=SamplingParams(temperature=0, max_tokens=8),
    )
    handle = ProcessHandle("llamacpp")
    session, rec = make(settings, handle=handle)
    try:
        session.load()
        assert session.state is EngineState.READY
        pid = handle.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not rec.of(ev.EngineStopped) and time.monotonic() < deadline:
            time.sleep(0.05)
        [stopped] = rec.of(ev.EngineStopped)
        assert "SIGKILL" in stopped.reason and session.state is EngineState.STOPPED
        exchange(session, "Say hello.")  # the engine starts again for it
        assert handle.pid not in (None, pid) and session.state is EngineState.READY
        # Killed again, and found by a count (the draft, as it is typed) first: told too.
        os.kill(handle.pid or 0, signal.SIGKILL)
        session.count(session.messages())
        deadline = time.monotonic() + 10
        while len(rec.of(ev.EngineStopped)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(rec.of(ev.EngineStopped)) == 2 and session.state is EngineState.STOPPED
        exchange(session, "Again.")
        session.switch(None)  # a switch or restart ends the engine on purpose: not told
        session.load(restart=True)
        assert session.state is EngineState.READY
    finally:
        session.close()
    time.sleep(0.5)
    assert len(rec.of(ev.EngineStopped)) == 2  # nor is closing it


def test_a_locked_history_never_holds_up_the_ui_thread(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    store = Store(path)
    session, rec = make(Settings(model=FAKE_MODEL), store, scripted("Hi."))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another copy of the app holds the write lock
    try:
        t = time.monotonic()
        job = session.send("Hello?")  # what the UI thread does: no write, no wait
        assert time.monotonic() - t < 1.0
        assert session.turns == [{"role": "user", "content": "Hello?"}]
        worker = threading.Thread(target=session.run_reply, args=(job,))
        worker.start()
        time.sleep(0.3)
        assert worker.is_alive()  # the worker waits for the lock, the UI does not
    finally:
        other.execute("COMMIT")
        other.close()
    worker.join(10)
    [saved] = rec.of(ev.PromptSaved)
    assert [m.content for m in store.messages(saved.conversation_id)] == ["Hello?", "Hi."]
    store.close()


def test_switching_engines_makes_a_handle_for_each(tmp_path: Path) -> None:
    made: list[str] = []

    def maker(ref: ModelRef) -> InProcessHandle:
        made.append(ref.engine)
        return InProcessHandle(ref.engine, lambda: ScriptedEngine("ok"))

    session = ChatSession(
        Settings(model=FAKE_MODEL), None, lambda e: session.apply(e), make_handle=maker
    )
    session.load()
    assert session.info is not None and session.info.ref == FAKE_MODEL
    other = ModelRef("scripted", "another")
    session.switch(other)
    assert session.state is EngineState.LOADING and session.info is None
    session.load(restart=True)
    assert session.info is not None and session.info.ref == other
    session.switch(ModelRef("othersort", "x"))
    session.load(restart=True)
    assert made == ["scripted", "othersort"]  # a new handle only for another engine


def test_a_switch_forgets_the_last_models_figures() -> None:
    session, _rec = make(Settings(model=FAKE_MODEL), handle=scripted())
    exchange(session, "Hello?")
    assert session.last_stats is not None
    session.switch(ModelRef("scripted", "another"))
    assert session.last_stats is None  # the status line shows no tok/s of the old model
    session.load(restart=True)
    assert session.last_stats is None


def test_a_reply_cut_short_by_a_switch_leaves_the_state_loading() -> None:
    session, _ = make(Settings(model=FAKE_MODEL), handle=scripted())
    session.load()
    assert session.state is EngineState.READY
    job = session.send("Hello")
    assert session.state is EngineState.GENERATING
    other = ModelRef("scripted", "other")
    session.switch(other)  # cancels the reply; the load worker starts next
    assert session.state is EngineState.LOADING and session.info is None
    stats = ReplyStats("cancelled", 3, 3, 1, 0.0, 0.0, 4, 4096)
    session.apply(ev.ReplyEnded(stats, "Hi"))  # the reply's end arrives during the load
    assert session.state is EngineState.LOADING and not session.generating
    assert session.turns[-1] == {"role": "assistant", "content": "Hi"}
    session.load(restart=True)
    assert session.state is EngineState.READY and session.info is not None
    assert session.info.ref == other and job.reply_id is None


class GatedLoad(ScriptedEngine):
    """A scripted engine whose load waits for the test to open the gate."""

    def __init__(self, gate: threading.Event, fail: bool = False) -> None:
        super().__init__("One two three four five.")
        self.gate = gate
        self.fail = fail

    def load(self, ref, options, progress=None):  # type: ignore[no-untyped-def]
        self.gate.wait(10)
        if self.fail:
            raise KeyError("a bug in the engine")
        return super().load(ref, options, progress)


def run_in_thread(target, *args) -> threading.Thread:  # type: ignore[no-untyped-def]
    t = threading.Thread(target=target, args=args)
    t.start()
    return t


def wait_for(cond, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_esc_while_a_reply_waits_for_its_model_stops_both(tmp_path: Path) -> None:
    store = Store(tmp_path / "history.db")
    gate = threading.Event()
    handle = InProcessHandle("scripted", lambda: GatedLoad(gate))
    session, rec = make(Settings(model=FAKE_MODEL), store, handle)
    session.restarting()
    loading = run_in_thread(session.load)
    wait_for(lambda: session.loader.loading)
    job = session.send("Hello?")  # sent while the model loads
    replying = run_in_thread(session.run_reply, job)
    wait_for(lambda: bool(rec.of(ev.PromptSaved)))
    session.stop()  # Esc: ends the load, and the reply that waits for it
    gate.set()
    loading.join(10)
    replying.join(10)
    assert rec.of(ev.LoadFailed)[-1].cancelled
    [ended] = rec.of(ev.ReplyEnded)
    assert ended.stats is None and not rec.of(ev.TextStreamed)
    assert session.state is EngineState.IDLE and not session.generating
    assert session.turns == [{"role": "user", "content": "Hello?"}]
    saved = store.messages(rec.of(ev.PromptSaved)[0].conversation_id)
    assert [(m.content, m.status) for m in saved] == [("Hello?", "complete"), ("", "stopped")]
    store.close()


def test_a_replaced_load_is_ended_and_its_events_are_dropped() -> None:
    gate = threading.Event()
    handle = InProcessHandle("scripted", lambda: GatedLoad(gate))
    session, rec = make(Settings(model=FAKE_MODEL), handle=handle)
    session.restarting()
    first = run_in_thread(session.load)
    wait_for(lambda: session.loader.loading)
    other = ModelRef("scripted", "other")
    session.switch(other)  # the first load is ended, not waited for
    gate.set()
    first.join(10)
    assert session.state is EngineState.LOADING and session.info is None  # its end: stale
    session.load(restart=True)
    assert session.state is EngineState.READY and session.info is not None
    assert session.info.ref == other
    assert not rec.of(ev.LoadFailed)  # the ended load's failure is stale: nothing shown


def test_a_failed_load_is_not_tried_again_by_a_reply_until_asked() -> None:
    gate = threading.Event()
    gate.set()
    handle = InProcessHandle("scripted", lambda: GatedLoad(gate, fail=True))
    session, rec = make(Settings(model=FAKE_MODEL), handle=handle)
    session.restarting()
    session.load()
    [failed] = rec.of(ev.LoadFailed)
    assert "scripted engine failed: KeyError" in failed.reason  # a bug, told as an error
    assert session.state is EngineState.FAILED
    exchange(session, "Hello?")
    [reply] = rec.of(ev.ReplyFailed)
    assert reply.reason == failed.reason and len(rec.of(ev.LoadStarted)) == 1
    session.restarting()  # Ctrl+R: try again
    session.load(restart=True)
    assert len(rec.of(ev.LoadStarted)) == 2


def test_a_message_left_unanswered_joins_the_next_one() -> None:
    session, _ = make(Settings(model=FAKE_MODEL), handle=scripted("Sure."))
    job = session.send("First question.")
    session.stop()  # before the worker ran: nothing is generated
    session.run_reply(job)
    assert session.turns == [{"role": "user", "content": "First question."}]
    exchange(session, "Second question.")
    assert session.messages()[:1] == [
        {"role": "user", "content": "First question.\n\nSecond question."}
    ]
    assert [t["role"] for t in session.messages()] == ["user", "assistant"]
    assert len(session.turns) == 3  # on screen and in the history, both stay


def test_the_system_prompt_is_stored_with_the_conversation(tmp_path: Path) -> None:
    # Issue 12: `--system` was not stored with the conversation.
    store = Store(tmp_path / "history.db")
    settings = Settings(model=FAKE_MODEL, system_prompt="Answer in French.")
    session, rec = make(settings, store, scripted("Bonjour."))
    exchange(session, "Hello.")
    cid = rec.of(ev.PromptSaved)[0].conversation_id
    stored = store.messages(cid)
    assert [(m.role, m.content) for m in stored][:2] == [
        ("system", "Answer in French."),
        ("user", "Hello."),
    ]
    # Opened later, under another system prompt: the conversation keeps its own.
    other, _ = make(Settings(model=FAKE_MODEL, system_prompt="Be terse."), store, scripted())
    other.open(cid, stored)
    assert other.messages()[0] == {"role": "system", "content": "Answer in French."}
    assert [t["role"] for t in other.turns] == ["user", "assistant"]
    other.open(None, [])  # a new one takes this run's
    assert other.messages() == [{"role": "system", "content": "Be terse."}]
    store.close()


def test_a_cancel_after_a_switch_has_loaded_stays_on_the_new_model() -> None:
    session, _ = make(Settings(model=FAKE_MODEL), handle=scripted())
    session.load()
    other = ModelRef("scripted", "other")
    session.switch(other)
    assert session.previous == FAKE_MODEL  # a cancel now goes back to it
    session.load(restart=True)
    assert session.info is not None and session.info.ref == other
    assert session.previous is None  # loaded: a later cancelled restart stays here


def test_the_engine_is_told_the_pace_text_is_shown_at() -> None:
    paces: list[float] = []

    class Spy(InProcessHandle):
        def pace(self, interval_s: float) -> None:
            paces.append(interval_s)

    handle = Spy("scripted", lambda: ScriptedEngine("Fine, thanks."))
    session, _ = make(Settings(model=FAKE_MODEL), handle=handle)
    session._pacer.interval = 0.2  # as learned from an earlier reply
    exchange(session, "Hello?")
    assert paces == [0.2]
