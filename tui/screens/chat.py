"""The chat screen: composes the widgets, routes keys and messages, starts workers.

The conversation itself lives in `ChatSession` (tui/chat, no Textual). Threading:
blocking work runs only in thread workers (`exclusive=True, exit_on_error=False`)
that call the session's worker methods; those report through events, which the
screen posts to itself as `SessionEvent` messages. On the UI thread each event is
first folded into the session (`session.apply`), then drawn.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.command import CommandPalette
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from llamatui.engines.meters import Sampler
from llamatui.engines.protocol import estimate_tokens
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage
from llamatui.tui.chat import events as ev
from llamatui.tui.chat.engines import Busy, HandleMaker
from llamatui.tui.chat.reply import ReplyJob
from llamatui.tui.chat.sampling import ChatSettings
from llamatui.tui.chat.session import ChatSession
from llamatui.tui.history.status import STATUS_NOTES
from llamatui.tui.history.store import LEAF, Store, StoreError
from llamatui.tui.paths import engine_log_path, library_cache_path, recent_path
from llamatui.tui.screens.chat_bindings import CHAT_BINDINGS
from llamatui.tui.screens.chat_events import draw_event
from llamatui.tui.screens.chat_settings import edit_settings
from llamatui.tui.screens.commands import ModelCommands
from llamatui.tui.screens.message_actions import MessageActions
from llamatui.tui.screens.models import ModelsScreen
from llamatui.tui.screens.session_event import SessionEvent
from llamatui.tui.settings import Settings
from llamatui.tui.widgets import terminal_scroll
from llamatui.tui.widgets.chat_message import AssistantMessage
from llamatui.tui.widgets.conversation_view import ConversationView
from llamatui.tui.widgets.conversations_pane import ConversationsPane
from llamatui.tui.widgets.meters import Meters
from llamatui.tui.widgets.prompt_input import PromptInput
from llamatui.tui.widgets.status_line import StatusLine

# The context meter counts once typing has paused this long.
COUNT_DELAY_S = 0.3
# The conversations pane shows by default on terminals at least this wide.
PANE_MIN_WIDTH = 120


class ChatScreen(Screen[None]):
    """Chat with a model; find and continue saved conversations."""

    CSS_PATH = "chat.tcss"
    BINDINGS: ClassVar[list[BindingType]] = CHAT_BINDINGS

    conversation = getters.query_one("#conversation", ConversationView)
    prompt = getters.query_one("#prompt", PromptInput)
    status = getters.query_one("#status", StatusLine)
    pane = getters.query_one(ConversationsPane)
    meters = getters.query_one(Meters)

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        *,
        startup_notice: str | None = None,
        sampler: Sampler | None = None,
        make_handle: HandleMaker | None = None,
        show_pane: bool | None = None,
    ) -> None:
        super().__init__()
        self.show_pane = show_pane  # as the last run left it; None: if the terminal is wide
        self.settings = settings
        self.store = store
        self.startup_notice = startup_notice
        self.sampler = sampler
        """The meters' sampler; None makes a real one (tests pass a fixed one)."""
        self.session = ChatSession(
            settings,
            store,
            self._emit,
            make_handle=make_handle,
            log_path=engine_log_path(),
            recent_path=recent_path(),
        )
        self.streaming: AssistantMessage | None = None  # the reply being streamed into
        self.actions = MessageActions(self)
        self._count_timer: Timer | None = None
        self._growth: terminal_scroll.Growth | None = None

    # A reply that changes size: the terminal moves the conversation (terminal_scroll.py).

    def _refresh_layout(self, size: Size | None = None, scroll: bool = False) -> None:
        self._growth = terminal_scroll.before_layout(self)
        try:
            super()._refresh_layout(size, scroll)
        finally:
            self._growth = None

    def _compositor_refresh(self) -> None:
        growth, self._growth = self._growth, None
        if growth is None or not terminal_scroll.scroll(self, growth):
            super()._compositor_refresh()

    def _emit(self, event: ev.Event) -> None:
        """The session's sink: from any thread, as a message to this screen."""
        self.post_message(SessionEvent(event))

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ConversationsPane(self.store)
            with Vertical(id="chat"):
                yield ConversationView(id="conversation")
                yield PromptInput(id="prompt")
        yield Meters(lambda: self.session.engine_pid, self.sampler, id="meters")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.conversation.anchor()
        self.set_class(self.app.size.width < PANE_MIN_WIDTH, "-narrow")
        wide = self.app.size.width >= PANE_MIN_WIDTH if self.show_pane is None else self.show_pane
        self.pane.display = self.store is not None and wide
        self.prompt.focus()
        with contextlib.suppress(StoreError):  # Up in the prompt recalls these
            self.prompt.earlier = self.store.recent_prompts() if self.store else []
        self.session.restarting()
        self.sync()
        if self.startup_notice:
            self.conversation.notice(self.startup_notice, error=True)
        self.call_after_refresh(self.refresh_pane)
        # Start the engine after the first frame: its start-up (a Python process
        # importing llama.cpp) would otherwise compete with the first paint.
        self.call_after_refresh(self.load_model)
        self.call_after_refresh(self.meters.start)

    def on_resize(self) -> None:
        self.set_class(self.app.size.width < PANE_MIN_WIDTH, "-narrow")

    def sync(self) -> None:
        """Show the session's state in the status line."""
        s = self.session
        self.status.state = s.state
        self.status.model = s.info
        self.status.stats = s.last_stats
        self.meters.follow(s.state)

    # Workers -----------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def load_model(self, restart: bool = False) -> None:
        """Start the engine (again, when restart) and load the model."""
        self.session.load(restart)

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate")
    def generate(self, job: ReplyJob) -> None:
        """Make one reply: save the prompt, load if needed, stream."""
        self.session.run_reply(job)

    @work(thread=True, exclusive=True, exit_on_error=False, group="count")
    def count_context(self, messages: list[ChatMessage]) -> None:
        """Count the tokens of what would be sent."""
        self.session.count(messages)

    # What the workers report -------------------------------------------------------

    async def on_session_event(self, message: SessionEvent) -> None:
        await draw_event(self, message.event)

    async def end_reply(self, footer: str | None, *, cut: bool) -> None:
        """The reply has ended: the screen is ready again, the reply gets its footer;
        a new version or branch is shown again as stored, with its versions."""
        reply, self.streaming = self.streaming, None
        self.sync()
        self.count_draft()
        if reply is not None:
            reply.finish(footer, cut=cut)
        job = self.session.last_reply
        if job is not None and job.parent != LEAF and job.reply_id is not None:
            if job.regenerating and reply is not None and not reply.text:
                await self.actions.discard(job)  # nothing came: the versions as they were
            await self.actions.reopen()
        else:
            await self.refresh_pane()

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed in a way nobody planned for: say so, keep going."""
        if event.state != WorkerState.ERROR:
            return
        reason = f"Unexpected error: {event.worker.error!r}"
        if event.worker.group == "engine":
            self.session.apply(ev.LoadFailed(reason, generation=self.session.generation))
            self.conversation.notice(f"Could not load the model: {reason}", error=True)
        elif event.worker.group == "generate" and self.session.generating:
            text = self.streaming.text if self.streaming is not None else ""
            self.session.apply(ev.ReplyFailed(reason, False, text))
            self.conversation.notice(reason, error=True)
            await self.end_reply(STATUS_NOTES["interrupted"], cut=True)
        else:
            self.conversation.notice(reason, error=True)
        self.sync()

    # Sending -----------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def send(self, event: PromptInput.Submitted) -> None:
        """Show the prompt and start its reply (the worker saves it first)."""
        try:
            job = self.session.send(event.text)
        except Busy as e:
            self.notify(str(e), severity="warning", markup=False)
            self.prompt.restore(event.text)
            return
        await self.start_streaming(job, event.text)

    async def start_streaming(self, job: ReplyJob, prompt: str | None) -> None:
        """Show the prompt (None: a new version of the last reply) with an empty reply,
        and make the reply in a worker."""
        self.streaming = await self.conversation.start_reply(prompt)
        # The last count may predate the end of the draft: never less than an estimate.
        self.status.reply_started(max(self.status.next_prompt or 0, estimate_tokens(job.messages)))
        self.sync()
        self.generate(job)

    def action_continue_reply(self) -> None:
        """Carry on the last reply, if it was cut off by the token limit or the context."""
        try:
            job = self.session.continue_reply()
        except Busy as e:
            self.notify(str(e), severity="warning", markup=False)
            return
        self.streaming = self.conversation.last_reply()
        self.conversation.resume(self.streaming)
        self.status.reply_started(estimate_tokens(job.messages))
        self.sync()
        self.generate(job)

    @on(PromptInput.Changed)
    def _draft_changed(self) -> None:
        # Count when typing pauses, not per key: each count is a trip to the engine.
        if self._count_timer is not None:
            self._count_timer.stop()
        self._count_timer = self.set_timer(COUNT_DELAY_S, self.count_draft)

    def count_draft(self) -> None:
        if self.session.generating or self.session.info is None:
            return
        draft = self.prompt.text.strip()
        messages = self.session.messages()
        if draft:
            messages = [*messages, {"role": "user", "content": draft}]
        self.count_context(messages)

    # Messages and settings ---------------------------------------------------------

    def action_select_messages(self) -> None:
        """Select a message, to act on it (F1 lists the keys)."""
        self.conversation.focus()

    @on(ConversationView.Leave)
    def _leave_messages(self) -> None:
        self.prompt.focus()

    @on(ConversationView.Act)
    async def _act(self, event: ConversationView.Act) -> None:
        await self.actions.run(event.action, event.message)

    def action_chat_settings(self) -> None:
        """This conversation's system prompt and sampling."""
        edit_settings(self)

    async def shown_again(self) -> None:
        """A conversation was shown from the history: the status, the count and the
        pane follow."""
        self.sync()
        self.count_draft()
        await self.refresh_pane()

    # Actions -----------------------------------------------------------------------

    def action_stop(self) -> None:
        """Stop the streaming reply (what it generated stays), or cancel a load."""
        self.session.stop()

    def action_toggle_meters(self) -> None:
        """Show the meters as a pane, or as one line."""
        self.meters.expanded = not self.meters.expanded

    def action_models(self) -> None:
        """Open the model library; the chosen model is loaded."""
        screen = ModelsScreen.of(self.session, library_cache_path())
        self.app.push_screen(screen, lambda ref: self.switch_model(ref) if ref else None)

    def action_quick_switch(self) -> None:
        """The command palette with only models, recent ones first."""
        self.app.push_screen(
            CommandPalette(providers=[ModelCommands], placeholder="Switch to model…")
        )

    def switch_model(self, ref: ModelRef) -> None:
        """End the running engine and load `ref`; the conversation carries on."""
        self.session.switch(ref)
        self.status.load_note = ref.name
        self.sync()
        self.load_model(restart=True)

    def action_restart_engine(self) -> None:
        """Start the engine again and load the model."""
        self.session.restarting()
        self.status.load_note = ""
        self.sync()
        self.load_model(restart=True)

    async def action_new_chat(self) -> None:
        """Start an empty conversation with the same model."""
        try:
            self.session.open(None, [])
        except Busy:
            self.session.stop()
            return
        await self._show_empty()

    async def _show_empty(self) -> None:
        await self.conversation.clear()
        self.status.streamed = 0
        self.sync()
        await self.refresh_pane()
        self.count_draft()
        self.prompt.focus()

    # Conversations -----------------------------------------------------------------

    async def refresh_pane(self) -> None:
        self.pane.current = self.session.conversation_id
        await self.pane.refresh_list()

    @on(ConversationsPane.Opened)
    async def _opened(self, event: ConversationsPane.Opened) -> None:
        await self.open_conversation(event.conversation_id, event.message_id)

    async def open_conversation(self, conversation_id: int, message_id: int | None = None) -> None:
        """Show a stored conversation, at a message when given, and continue it."""
        if self.store is None:
            return
        try:
            history = self.store.messages(conversation_id)
            conv = self.store.conversation(conversation_id)
            chat = ChatSettings.from_data(conv.settings if conv else {})
            self.session.open(conversation_id, history, chat)
        except (StoreError, Busy) as e:
            self.notify(str(e), severity="warning", markup=False)
            return
        await self.conversation.show_history(history, message_id)
        if message_id is None:
            self.prompt.focus()
        await self.shown_again()

    @on(ConversationsPane.Deleted)
    async def _deleted(self, event: ConversationsPane.Deleted) -> None:
        if event.conversation_id == self.session.conversation_id and not self.session.generating:
            self.session.open(None, [])
            await self._show_empty()

    async def action_toggle_conversations(self) -> None:
        """Show or hide the conversations pane."""
        self.pane.display = self.show_pane = not self.pane.display  # the user's choice
        if self.pane.display:
            await self.refresh_pane()
            self.pane.list_view.focus()
        else:
            self.prompt.focus()

    async def action_search(self) -> None:
        """Open the pane with the cursor in the search box."""
        if not self.pane.display:
            self.pane.display = True
            await self.refresh_pane()
        self.pane.search_input.focus()
