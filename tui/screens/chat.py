"""The chat screen: the conversation, prompt box and status line, with the engine.

Threading: the screen owns all state and runs on the UI thread. Blocking engine
calls run in thread workers, which only post messages back (paced batches of text,
never a widget call per token). The user's message is committed to the history
before generation starts; the worker checkpoints the reply while it streams.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer
from textual.worker import Worker, WorkerState, get_current_worker

from llamatui.engines.base import (
    Delta,
    EngineError,
    LoadOptions,
    MemoryUse,
    ModelInfo,
    ReplyStats,
    SamplingParams,
)
from llamatui.engines.gguf import ModelFileError
from llamatui.engines.host import EngineClient, EngineDied
from llamatui.engines.library import ModelEntry
from llamatui.engines.meters import Sample, Sampler
from llamatui.engines.models import default_model_path
from llamatui.engines.templates import ChatMessage
from llamatui.tui.commands import ModelCommands
from llamatui.tui.config import PRESETS, ConfigError, Profile, load_config
from llamatui.tui.context import ContextFull, fit_context, reply_room
from llamatui.tui.pacer import Pacer
from llamatui.tui.paths import cache_dir, config_path, data_dir, default_model_dirs
from llamatui.tui.recent import load_recent, remember
from llamatui.tui.recorder import STATUS_OF_FINISH, ReplyRecorder, meta_of
from llamatui.tui.sanitize import strip_controls
from llamatui.tui.screens.conversations import (
    PANE_MIN_WIDTH,
    ConversationsScreen,
    reply_footer,
)
from llamatui.tui.screens.models import ModelsScreen
from llamatui.tui.settings import Settings
from llamatui.tui.store import ReplyMeta, Store, StoreError, title_from_prompt
from llamatui.tui.widgets.chat_message import AssistantMessage, UserMessage
from llamatui.tui.widgets.conversations_pane import ConversationsPane
from llamatui.tui.widgets.meters import Meters
from llamatui.tui.widgets.prompt_input import PromptInput
from llamatui.tui.widgets.status_line import StatusLine

METER_PERIOD_S = 0.5
# The context meter counts once typing has paused this long.
COUNT_DELAY_S = 0.3

# What loading or generating can raise that a user should read, as a notice.
USER_ERRORS = (EngineError, ModelFileError, FileNotFoundError, ContextFull)

FINISH_NOTES = {
    "stop": "",
    "length": "cut off: reached the reply token limit",
    "context": "cut off: the context is full",
    "cancelled": "stopped",
}


class ChatScreen(ConversationsScreen):
    """Chat with one model; find and continue saved conversations."""

    CSS_PATH = "chat.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "Stop reply", id="chat.stop", tooltip="Stop the reply"),
        Binding(
            "ctrl+b",
            "toggle_conversations",
            "Chats",
            id="chat.toggle_conversations",
            tooltip="Show or hide the conversations pane",
        ),
        Binding(
            "ctrl+f",
            "search",
            "Search",
            id="chat.search",
            show=False,
            tooltip="Search every saved message",
        ),
        Binding(
            "ctrl+n",
            "new_chat",
            "New chat",
            id="chat.new_chat",
            tooltip="Start a new conversation",
        ),
        Binding(
            "ctrl+l",
            "models",
            "Models",
            id="chat.models",
            tooltip="The model library: pick a model to load",
        ),
        Binding(
            "ctrl+o",
            "quick_switch",
            "Switch model",
            id="chat.quick_switch",
            show=False,
            tooltip="Switch to a recent model",
        ),
        Binding(
            "ctrl+t",
            "continue_reply",
            "Continue",
            id="chat.continue_reply",
            show=False,
            tooltip="Continue a reply that was cut off",
        ),
        Binding(
            "ctrl+g",
            "toggle_meters",
            "Meters",
            id="chat.toggle_meters",
            show=False,
            tooltip="Show the hardware meters as a pane, or as one line",
        ),
        Binding(
            "ctrl+r",
            "restart_engine",
            "Restart engine",
            id="chat.restart_engine",
            show=False,
            tooltip="Start the engine again and reload the model",
        ),
    ]

    @dataclass
    class ModelLoaded(Message):
        """The engine loaded the model."""

        info: ModelInfo
        profile: Profile
        gpu_offload: bool
        memory: MemoryUse

    @dataclass
    class LoadProgress(Message):
        """How far the model has loaded."""

        name: str
        fraction: float

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

    @dataclass
    class ContextTrimmed(Message):
        """Older turns were left out so the conversation fits the context."""

        dropped: int
        n_ctx: int

    @dataclass
    class ContextCounted(Message):
        """Tokens the next prompt will take, with the draft as it was."""

        tokens: int

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ChatScreen.ContextCounted)

    @dataclass
    class MetersSampled(Message):
        """A new meters sample; a newer one replaces it if it is not shown yet."""

        sample: Sample

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ChatScreen.MetersSampled)

    @dataclass
    class SaveFailed(Message):
        """The history could not be written."""

        reason: str

    def __init__(
        self,
        client: EngineClient,
        settings: Settings,
        store: Store | None = None,
        *,
        startup_notice: str | None = None,
        sampler: Sampler | None = None,
    ) -> None:
        super().__init__(store)
        self.sampler = sampler
        """The meters' sampler; None makes a real one (tests pass a fixed one)."""
        self.client = client
        self.settings = settings
        self.startup_notice = startup_notice
        self._loaded: ModelInfo | None = None
        """The model the engine holds; written only by workers, under _load_lock."""
        self._reply: AssistantMessage | None = None
        self._load_lock = threading.Lock()
        self._pacer: Pacer | None = None
        """Paces the generation worker's posts; only that worker touches it."""
        self.model_path: Path | None = settings.model_path
        """The model to run; None means the default model."""
        self.profile = Profile()
        """The loaded model's profile from the config."""
        self._gpu_offload = False
        self._cancelling_load = False
        self._count_timer: Timer | None = None
        self._cut: AssistantMessage | None = None
        """The last reply, when it was cut off and can be continued."""
        self._continuing = False
        self._reply_id: int | None = None
        self._reply_meta_now = ReplyMeta()

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ConversationsPane()
            with Vertical(id="chat"):
                yield VerticalScroll(id="conversation")
                yield PromptInput(id="prompt")
        yield Meters(id="meters")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.conversation.anchor()
        self.pane.display = self.store is not None and self.app.size.width >= PANE_MIN_WIDTH
        self.prompt.focus()
        self.status.state = "loading (Esc cancels)"
        if self.startup_notice:
            self._notice(self.startup_notice, error=True)
        self.call_after_refresh(self._refresh_pane)
        # Start the engine after the first frame: its start-up (a Python process
        # importing llama.cpp) would otherwise compete with the first paint.
        self.call_after_refresh(self.load_model)
        self.call_after_refresh(self.sample_meters)

    # Loading -------------------------------------------------------------------

    def _model_path(self) -> Path:
        return self.model_path or default_model_path()

    def _ensure_loaded(self) -> ModelInfo:
        """Load the model unless the engine has it; runs in a worker thread."""
        with self._load_lock:
            if self.client.alive and self._loaded is not None:
                return self._loaded
            self._loaded = None
            path = self._model_path()
            profile = self._profile_for(path.stem)
            last = [0.0]

            def progress(fraction: float) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.1 or fraction >= 1.0:  # 10 updates a second at most
                    last[0] = now
                    self.post_message(self.LoadProgress(path.stem, fraction))

            info = self.client.load(path, self._load_options(profile), progress)
            gpu = self.client.supports_gpu_offload()
            self.post_message(self.ModelLoaded(info, profile, gpu, self.client.memory()))
            self._loaded = info
            return info

    def _profile_for(self, name: str) -> Profile:
        """The model's profile from the config (read at each load, so edits apply)."""
        try:
            return load_config(config_path()).profiles.get(name, Profile())
        except ConfigError:
            return Profile()  # the app told the user at start

    def _load_options(self, profile: Profile) -> LoadOptions:
        base = self.settings.load
        return LoadOptions(
            n_ctx=profile.ctx or base.n_ctx,
            n_threads=profile.threads or base.n_threads,
            n_gpu_layers=profile.gpu_layers if profile.gpu_layers is not None else 0,
            chat_format=profile.chat_format or base.chat_format,
        )

    @property
    def sampling(self) -> SamplingParams:
        """Sampling for the next reply: the model's preset, else the global one."""
        return PRESETS.get(self.profile.preset or "", self.settings.sampling)

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
        self.profile = message.profile
        self._gpu_offload = message.gpu_offload
        self.query_one(Meters).model_share = message.memory
        self.status.model = message.info
        self.status.state = "generating" if self.generating else "ready"
        remember(data_dir() / "recent.json", message.info.path)
        if message.info.notice:
            self._notice(f"{message.info.name}: {message.info.notice}")
        self._count_draft()

    def on_chat_screen_load_progress(self, message: LoadProgress) -> None:
        if self.status.model is None:
            self.status.state = f"loading {message.name} {message.fraction:.0%} (Esc cancels)"

    def on_chat_screen_load_failed(self, message: LoadFailed) -> None:
        if self._cancelling_load:
            self._cancelling_load = False
            self.status.model = None
            self.status.state = "no model"
            self._notice("Loading was cancelled. Ctrl+L picks a model.")
            return
        self.status.state = "failed"
        self._notice(f"Could not load the model: {message.reason}", error=True)

    # Sending and streaming -------------------------------------------------------

    @on(PromptInput.Submitted)
    async def send(self, event: PromptInput.Submitted) -> None:
        """Save the prompt, show it, and start the reply."""
        if self.generating:
            self.notify("A reply is streaming: Esc stops it.", severity="warning")
            self.prompt.text = event.text
            return
        meta = self._reply_meta()
        reply_id = self._save_prompt(event.text, meta)
        self.turns.append({"role": "user", "content": event.text})
        self._reply = AssistantMessage()
        self.conversation.anchor()
        await self.conversation.mount_all([UserMessage(event.text), self._reply])
        self.generating = True
        self.status.streamed = 0
        self.status.next_prompt = None
        self.status.state = "generating" if self.client.alive else "loading"
        self._cut = None
        self._reply_id, self._reply_meta_now = reply_id, meta
        self.generate(self._messages(), self.sampling, reply_id, meta, self._dropped)

    def _reply_meta(self) -> ReplyMeta:
        try:
            model: str | None = str(self._model_path())
        except FileNotFoundError:
            model = None
        return ReplyMeta(model=model, engine=self.client.kind, sampling=asdict(self.sampling))

    def _save_prompt(self, text: str, meta: ReplyMeta) -> int | None:
        """Commit the prompt and an empty streaming reply; the reply's id."""
        if self.store is None:
            return None
        try:
            if self.conversation_id is None:
                self.conversation_id = self.store.new_conversation(title_from_prompt(text))
            self.store.add_message(self.conversation_id, "user", text)
            return self.store.add_message(
                self.conversation_id, "assistant", "", status="streaming", meta=meta
            )
        except StoreError as e:
            self._notice(f"Your message is not saved: {e}.", error=True)
            return None

    def _messages(self) -> list[ChatMessage]:
        system = self.profile.system_prompt or self.settings.system_prompt
        head: list[ChatMessage] = [{"role": "system", "content": system}] if system else []
        return head + self.turns

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate")
    def generate(
        self,
        messages: list[ChatMessage],
        sampling: SamplingParams,
        reply_id: int | None,
        meta: ReplyMeta,
        dropped_before: int,
        continue_text: str | None = None,
    ) -> None:
        """Stream a reply from the engine, posting batches of text and saving it.

        With continue_text, the last message is that (cut) reply and the engine
        carries it on; the saved reply grows from it.
        """
        parts: list[str] = []
        n = 0
        recorder = ReplyRecorder(self.store, reply_id, time.monotonic())
        if continue_text:
            recorder.parts.append(continue_text)
        stats: ReplyStats | None = None
        try:
            info = self._ensure_loaded()
            pacer = self._pacer
            if pacer is None or pacer.n_threads != info.n_threads:
                pacer = self._pacer = Pacer(info.n_threads)
            room = reply_room(info.n_ctx, sampling.max_tokens)
            policy = self.settings.context_policy
            fitted = fit_context(messages, self.client.count_tokens, info.n_ctx, room, policy)
            if fitted.dropped > dropped_before:
                self.post_message(self.ContextTrimmed(fitted.dropped, info.n_ctx))
            pacer.start(time.monotonic())
            continuing = continue_text is not None
            for item in self.client.stream(fitted.messages, sampling, continuing):
                if isinstance(item, Delta):
                    text = strip_controls(item.text)
                    parts.append(text)
                    n += item.n_tokens
                    now = time.monotonic()
                    if error := recorder.add(text, now):
                        self.post_message(self.SaveFailed(error))
                    if pacer.due(now):
                        self.post_message(self.TokensStreamed("".join(parts), n))
                        parts.clear()
                        n = 0
                        pacer.posted(now)
                else:
                    stats = item
            if parts:
                self.post_message(self.TokensStreamed("".join(parts), n))
            assert stats is not None
            if error := recorder.finish(STATUS_OF_FINISH[stats.finish], meta_of(stats, meta)):
                self.post_message(self.SaveFailed(error))
            self.post_message(self.ReplyFinished(stats))
        except USER_ERRORS as e:
            if parts:
                self.post_message(self.TokensStreamed("".join(parts), n))
            if error := recorder.finish("interrupted", meta):
                self.post_message(self.SaveFailed(error))
            self.post_message(self.ReplyFailed(str(e), isinstance(e, EngineDied)))

    async def on_chat_screen_tokens_streamed(self, message: TokensStreamed) -> None:
        if self._reply is not None:
            await self._reply.append(message.text)
        self.status.streamed += message.n_tokens

    async def on_chat_screen_reply_finished(self, message: ReplyFinished) -> None:
        s = message.stats
        reply = self._end_reply()
        # State first: the screen is ready again as soon as the reply has ended.
        self.status.stats = s
        self.status.state = "ready"
        self._count_draft()
        if reply is not None:
            note = FINISH_NOTES[s.finish]
            if s.finish in ("length", "context"):
                self._cut = reply
                note += " · Ctrl+T continues"
            await reply.finish(reply_footer(meta_of(s, ReplyMeta()), note), cut=bool(note))
        await self._refresh_pane()

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

    def on_chat_screen_context_trimmed(self, message: ContextTrimmed) -> None:
        self._dropped = message.dropped
        self._notice(
            f"The {message.dropped} oldest messages are left out of what the model sees, "
            f"so the conversation fits its {message.n_ctx:,}-token context; the system "
            'prompt is kept. (context_policy = "trim"; "refuse" stops instead.)'
        )

    @on(PromptInput.Changed)
    def _draft_changed(self) -> None:
        # Count when typing pauses, not per key: each count is a trip to the engine.
        if self._count_timer is not None:
            self._count_timer.stop()
        self._count_timer = self.set_timer(COUNT_DELAY_S, self._count_draft)

    def _count_draft(self) -> None:
        if self.generating or self._loaded is None:
            return
        draft = self.prompt.text.strip()
        messages = self._messages()
        if draft:
            messages = [*messages, {"role": "user", "content": draft}]
        self.count_context(messages)

    @work(thread=True, exclusive=True, exit_on_error=False, group="count")
    def count_context(self, messages: list[ChatMessage]) -> None:
        """Count the tokens of what would be sent (an engine round trip)."""
        # An engine that is dying or loading gives no count: the next one will do.
        with contextlib.suppress(*USER_ERRORS):
            self.post_message(self.ContextCounted(self.client.count_tokens(messages)))

    def on_chat_screen_context_counted(self, message: ContextCounted) -> None:
        self.status.next_prompt = message.tokens

    @work(thread=True, exclusive=True, exit_on_error=False, group="meters")
    def sample_meters(self) -> None:
        """Sample the hardware twice a second until the screen goes."""
        worker = get_current_worker()
        sampler = self.sampler or Sampler()
        while not worker.is_cancelled:
            self.post_message(self.MetersSampled(sampler.sample(self.client.pid)))
            time.sleep(METER_PERIOD_S)

    def on_chat_screen_meters_sampled(self, message: MetersSampled) -> None:
        self.query_one(Meters).show(message.sample)

    def action_toggle_meters(self) -> None:
        """Show the meters as a pane, or as one line."""
        meters = self.query_one(Meters)
        meters.expanded = not meters.expanded

    def on_chat_screen_save_failed(self, message: SaveFailed) -> None:
        self._notice(message.reason, error=True)

    def _end_reply(self) -> AssistantMessage | None:
        """Close the streaming reply and keep what it holds in the conversation."""
        reply, self._reply = self._reply, None
        self.generating = False
        if self._continuing:
            self._continuing = False
            if reply is not None and self.turns and self.turns[-1]["role"] == "assistant":
                self.turns[-1] = {"role": "assistant", "content": reply.text}
            return reply
        if reply is not None and reply.text:
            self.turns.append({"role": "assistant", "content": reply.text})
        return reply

    def action_continue_reply(self) -> None:
        """Carry on the last reply, if it was cut off by the token limit or the context."""
        reply = self._cut
        if (
            self.generating
            or reply is None
            or not self.turns
            or self.turns[-1]["role"] != "assistant"
        ):
            self.notify("There is no cut-off reply to continue.", severity="warning")
            return
        self._cut = None
        self._reply = reply
        self._continuing = True
        self.generating = True
        self.status.streamed = 0
        self.status.state = "generating"
        self.conversation.anchor()
        self.generate(
            self._messages(),
            self.sampling,
            self._reply_id,
            self._reply_meta_now,
            self._dropped,
            reply.text,
        )

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed in a way nobody planned for: say so, keep going."""
        if event.state != WorkerState.ERROR:
            return
        reply = self._end_reply() if event.worker.group == "generate" else None
        if reply is not None:
            await reply.finish("interrupted", cut=True)
        self.status.state = "ready" if self.client.alive else "stopped"
        self._notice(f"Unexpected error: {event.worker.error!r}", error=True)

    # Actions -------------------------------------------------------------------

    def action_stop(self) -> None:
        """Stop the streaming reply (what it generated stays), or cancel a load."""
        if self.generating:
            self.client.cancel()
        elif self.status.state.startswith("loading") and self.client.alive:
            # Ending the engine process is the one sure way to stop llama.cpp
            # mid-load, and it gives back what was read so far.
            self._cancelling_load = True
            self.client.kill()

    # Models ----------------------------------------------------------------------

    def model_folders(self) -> list[Path]:
        """Where the library looks: --models-dir, else the config's model_dirs."""
        return list(self.settings.model_dirs) or default_model_dirs()

    @property
    def library_cache(self) -> Path:
        """The library's header cache."""
        return cache_dir() / "library.json"

    def recent_models(self) -> list[str]:
        """Model files loaded recently, newest first."""
        return load_recent(data_dir() / "recent.json")

    def action_models(self) -> None:
        """Open the model library; the chosen model is loaded."""
        current = self.status.model.path if self.status.model else None
        screen = ModelsScreen(
            self.model_folders(),
            self.library_cache,
            self.settings.load.n_ctx,
            current,
            gpu_offload=self._gpu_offload,
        )

        def chosen(entry: ModelEntry | None) -> None:
            if entry is not None:
                self.switch_model(Path(entry.path))

        self.app.push_screen(screen, chosen)

    def action_quick_switch(self) -> None:
        """The command palette with only models, recent ones first."""
        self.app.push_screen(
            CommandPalette(providers=[ModelCommands], placeholder="Switch to model…")
        )

    def switch_model(self, path: Path) -> None:
        """End the running engine and load `path`; the conversation carries on."""
        if self.generating:
            self.client.cancel()
        self.model_path = path
        self.status.model = None
        self.status.state = f"loading {path.stem} (Esc cancels)"
        self.load_model(restart=True)

    def action_restart_engine(self) -> None:
        """Start the engine process again and load the model."""
        if self.generating:
            self.client.cancel()
        self.status.state = "loading (Esc cancels)"
        self.load_model(restart=True)

    async def action_new_chat(self) -> None:
        """Start an empty conversation with the same model."""
        if self.generating:
            self.client.cancel()
            return
        await self._clear()
        await self._refresh_pane()
        self.prompt.focus()
