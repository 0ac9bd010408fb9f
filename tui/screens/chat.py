"""The chat screen: the conversation, the prompt box and the status line.

Threading: the screen owns all state and runs on the UI thread. Blocking engine
calls run in thread workers, which only post messages back (batched deltas every
~50 ms, never a widget call per token).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from llamatui.engines.base import Delta, EngineError, ModelInfo, ReplyStats
from llamatui.engines.gguf import ModelFileError
from llamatui.engines.host import EngineClient, EngineDied
from llamatui.engines.models import default_model_path
from llamatui.engines.templates import ChatMessage
from llamatui.tui.pacer import Pacer
from llamatui.tui.settings import Settings
from llamatui.tui.widgets.chat_message import AssistantMessage, Notice, UserMessage
from llamatui.tui.widgets.prompt_input import PromptInput
from llamatui.tui.widgets.status_line import StatusLine

# What loading or generating can raise that a user should read, as a notice.
USER_ERRORS = (EngineError, ModelFileError, FileNotFoundError)

FINISH_NOTES = {
    "stop": "",
    "length": "cut off: reached the reply token limit",
    "context": "cut off: the context is full",
    "cancelled": "stopped",
}


class ChatScreen(Screen[None]):
    """Chat with one model."""

    CSS_PATH = "chat.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "Stop reply", id="chat.stop", tooltip="Stop the reply"),
        Binding(
            "ctrl+r",
            "restart_engine",
            "Restart engine",
            id="chat.restart_engine",
            tooltip="Start the engine again and reload the model",
        ),
        Binding(
            "ctrl+n",
            "new_chat",
            "New chat",
            id="chat.new_chat",
            tooltip="Clear the conversation and start a new one",
        ),
    ]

    @dataclass
    class ModelLoaded(Message):
        """The engine loaded the model."""

        info: ModelInfo

    @dataclass
    class LoadFailed(Message):
        """The model could not be loaded."""

        reason: str

    @dataclass
    class TokensStreamed(Message):
        """A batch of reply text."""

        text: str
        n_tokens: int

    @dataclass
    class ReplyFinished(Message):
        """The reply ended (completed, cut or stopped)."""

        stats: ReplyStats

    @dataclass
    class ReplyFailed(Message):
        """The reply could not be made, or the engine died making it."""

        reason: str
        engine_died: bool

    conversation = getters.query_one("#conversation", VerticalScroll)
    prompt = getters.query_one("#prompt", PromptInput)
    status = getters.query_one("#status", StatusLine)

    def __init__(self, client: EngineClient, settings: Settings) -> None:
        super().__init__()
        self.client = client
        self.settings = settings
        self.turns: list[ChatMessage] = []
        """The conversation as it is sent to the model."""
        self.generating = False
        """Whether a reply is streaming."""
        self._loaded: ModelInfo | None = None
        """The model the engine holds; written only by workers, under _load_lock."""
        self._reply: AssistantMessage | None = None
        self._load_lock = threading.Lock()
        self._pacer: Pacer | None = None
        """Paces the generation worker's posts; only that worker touches it."""

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="conversation")
        yield PromptInput(id="prompt")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.conversation.anchor()
        self.prompt.focus()
        self.status.state = "loading"
        # Start the engine after the first frame: its start-up (a Python process
        # importing llama.cpp) would otherwise compete with the first paint.
        self.call_after_refresh(self.load_model)

    # Loading -------------------------------------------------------------------

    def _model_path(self) -> Path:
        return self.settings.model_path or default_model_path()

    def _ensure_loaded(self) -> ModelInfo:
        """Load the model unless the engine has it; runs in a worker thread."""
        with self._load_lock:
            if self.client.alive and self._loaded is not None:
                return self._loaded
            self._loaded = None
            info = self.client.load(self._model_path(), self.settings.load)
            self.post_message(self.ModelLoaded(info))
            self._loaded = info
            return info

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def load_model(self, restart: bool = False) -> None:
        """Start the engine (again, when restart) and load the model."""
        try:
            if restart:
                with self._load_lock:
                    self.client.close()
                    self._loaded = None
            self._ensure_loaded()
        except USER_ERRORS as e:
            self.post_message(self.LoadFailed(str(e)))

    def on_chat_screen_model_loaded(self, message: ModelLoaded) -> None:
        self.status.model = message.info
        self.status.state = "generating" if self.generating else "ready"

    def on_chat_screen_load_failed(self, message: LoadFailed) -> None:
        self.status.state = "failed"
        self._notice(f"Could not load the model: {message.reason}", error=True)

    # Sending and streaming -------------------------------------------------------

    @on(PromptInput.Submitted)
    async def send(self, event: PromptInput.Submitted) -> None:
        """Show the prompt and start the reply."""
        if self.generating:
            self.notify("A reply is streaming: Esc stops it.", severity="warning")
            self.prompt.text = event.text
            return
        self.turns.append({"role": "user", "content": event.text})
        self._reply = AssistantMessage()
        await self.conversation.mount_all([UserMessage(event.text), self._reply])
        self.generating = True
        self.status.streamed = 0
        self.status.state = "generating" if self.client.alive else "loading"
        self.generate(self._messages())

    def _messages(self) -> list[ChatMessage]:
        system = self.settings.system_prompt
        head: list[ChatMessage] = [{"role": "system", "content": system}] if system else []
        return head + self.turns

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate")
    def generate(self, messages: list[ChatMessage]) -> None:
        """Stream a reply from the engine, posting batches of text."""
        parts: list[str] = []
        n = 0
        try:
            info = self._ensure_loaded()
            pacer = self._pacer
            if pacer is None or pacer.n_threads != info.n_threads:
                pacer = self._pacer = Pacer(info.n_threads)
            pacer.start(time.monotonic())
            for item in self.client.stream(messages, self.settings.sampling):
                if isinstance(item, Delta):
                    parts.append(item.text)
                    n += item.n_tokens
                    now = time.monotonic()
                    if pacer.due(now):
                        self.post_message(self.TokensStreamed("".join(parts), n))
                        parts.clear()
                        n = 0
                        pacer.posted(now)
                else:
                    if parts:
                        self.post_message(self.TokensStreamed("".join(parts), n))
                    self.post_message(self.ReplyFinished(item))
        except USER_ERRORS as e:
            if parts:
                self.post_message(self.TokensStreamed("".join(parts), n))
            self.post_message(self.ReplyFailed(str(e), isinstance(e, EngineDied)))

    async def on_chat_screen_tokens_streamed(self, message: TokensStreamed) -> None:
        if self._reply is not None:
            await self._reply.append(message.text)
        self.status.streamed += message.n_tokens

    async def on_chat_screen_reply_finished(self, message: ReplyFinished) -> None:
        s = message.stats
        reply = self._end_reply()
        note = FINISH_NOTES[s.finish]
        figures = (
            f"{s.generated_tokens} tokens · {s.tokens_per_s:.1f} tok/s · "
            f"TTFT {s.ttft_s * 1000:.0f} ms"
        )
        # State first: the screen is ready again as soon as the reply has ended.
        self.status.stats = s
        self.status.state = "ready"
        if reply is not None:
            await reply.finish(f"{note} · {figures}" if note else figures, cut=bool(note))

    async def on_chat_screen_reply_failed(self, message: ReplyFailed) -> None:
        reply = self._end_reply()
        if message.engine_died:
            self.status.state = "stopped"
            self._notice(
                f"{message.reason}\nYour conversation is kept. Send a message or press "
                "Ctrl+R to start the engine again.",
                error=True,
            )
        else:
            self.status.state = "ready" if self.client.alive else "stopped"
            self._notice(message.reason, error=True)
        if reply is not None:
            await reply.finish("interrupted", cut=True)

    def _end_reply(self) -> AssistantMessage | None:
        """Close the streaming reply and keep what it holds in the conversation."""
        reply, self._reply = self._reply, None
        self.generating = False
        if reply is not None and reply.text:
            self.turns.append({"role": "assistant", "content": reply.text})
        return reply

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed in a way nobody planned for: say so, keep going."""
        if event.state != WorkerState.ERROR:
            return
        reply = self._end_reply() if event.worker.group == "generate" else None
        if reply is not None:
            await reply.finish("interrupted", cut=True)
        self.status.state = "ready" if self.client.alive else "stopped"
        self._notice(f"Unexpected error: {event.worker.error!r}", error=True)

    def _notice(self, text: str, *, error: bool = False) -> None:
        self.conversation.mount(Notice(text, error=error))

    # Actions -------------------------------------------------------------------

    def action_stop(self) -> None:
        """Stop the streaming reply; what it generated stays."""
        if self.generating:
            self.client.cancel()

    def action_restart_engine(self) -> None:
        """Start the engine process again and load the model."""
        if self.generating:
            self.client.cancel()
        self.status.state = "loading"
        self.load_model(restart=True)

    async def action_new_chat(self) -> None:
        """Start an empty conversation with the same model."""
        if self.generating:
            self.client.cancel()
            return
        self.turns.clear()
        await self.conversation.remove_children()
        self.status.stats = None
        self.status.streamed = 0
