"""One conversation with one model, whatever engine runs it. No Textual.

The session holds the conversation (the turns sent to the model, the turns left out
to fit the context, whether the last reply can be continued), the engine handle and
its state, and the profile of the model. Two kinds of methods:

- UI-thread methods (`send`, `continue_reply`, `stop`, `switch`, `restarting`, `open`,
  `apply`) never block: no engine call, no disk. They change the state.
- Worker methods (`load`, `ensure_loaded`, `run_reply`, `count`, in `SessionWorkers`)
  block on the engine or the disk and change nothing the UI reads: they report
  through `emit`, and the UI thread folds each event in with `apply` before drawing
  it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path

from llamatui.engines import registry
from llamatui.engines.handle import EngineState
from llamatui.engines.protocol import (
    ModelInfo,
    ReplyStats,
    SamplingParams,
)
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage
from llamatui.tui.chat import events as ev
from llamatui.tui.chat.context import (
    NO_ROOM_TO_CONTINUE,
    continuable,
    to_send,
)
from llamatui.tui.chat.engines import (
    Busy,
    HandleMaker,
    default_model,
    registry_handle,
)
from llamatui.tui.chat.loader import Loader
from llamatui.tui.chat.pacer import Pacer
from llamatui.tui.chat.reply import ReplyJob
from llamatui.tui.chat.sampling import ChatSettings
from llamatui.tui.chat.workers import SessionWorkers
from llamatui.tui.config import Profile
from llamatui.tui.history.records import Message as StoredMessage
from llamatui.tui.history.records import ReplyMeta
from llamatui.tui.history.store import LEAF, Store
from llamatui.tui.settings import Settings


class ChatSession(SessionWorkers):
    """A conversation with a model, driven by the UI and run by workers."""

    last_stats: ReplyStats | None
    """The figures of the last reply (None after a switch: they were another model's)."""
    system: str | None  # the conversation's own system prompt, stored with it; None: not begun

    def __init__(
        self,
        settings: Settings,
        store: Store | None,
        emit: Callable[[ev.Event], None],
        *,
        make_handle: HandleMaker | None = None,
        log_path: Path | None = None,
        recent_path: Path | None = None,
    ) -> None:
        """
        Args:
            settings: the model, options and policies of this run.
            store: the history, or None to save nothing.
            emit: where worker methods report (the screen posts each as a message).
            make_handle: makes the handle for a model's engine (default: the
                registry's, with the engine log at log_path).
            recent_path: the recent-models list to update on each load.
        """
        self.settings = settings
        self.store = store
        self.emit = emit
        self.profiles: dict[str, Profile] = dict(settings.profiles)
        self.loader = Loader(
            make_handle or partial(registry_handle, log_path=log_path), emit, recent_path
        )
        self.wanted: ModelRef | None = settings.model
        """The model to run; None means the default model."""
        self.state = EngineState.IDLE
        self.info: ModelInfo | None = None
        """The loaded model, as the UI knows it."""
        self.profile = Profile()
        """The loaded model's profile."""
        self.reply: ReplyJob | None = None
        """The reply being made (loading for it or streaming); None when idle."""
        self.open(None, [])
        self._pacer = Pacer()
        """Kept from one reply to the next: it keeps the interval it found."""
        self.generation = 0
        """The load the user asked for last: `apply` drops older ones' events as stale."""
        self.reloading = False
        """A load the user asked for is under way: a reply that ends meanwhile leaves
        the state at loading."""
        self.previous: ModelRef | None = None  # before a switch: cancelled, it comes back

    # Reading (any thread) ----------------------------------------------------------

    @property
    def generating(self) -> bool:
        """Whether a reply is being made."""
        return self.reply is not None

    @property
    def engine_pid(self) -> int | None:
        """The engine's own process, for the meters."""
        handle = self.loader.handle
        return handle.pid if handle is not None else None

    def model_ref(self) -> ModelRef:
        """The model to run (FileNotFoundError when it is the default and that is absent)."""
        return self.wanted or default_model()

    @property
    def sampling(self) -> SamplingParams:
        """Sampling for the next reply: the conversation's own settings, over the
        model's preset, over the global settings."""
        presets = self.settings.presets
        base = presets.get(self.profile.preset or "", self.settings.sampling)
        return self.chat.params(presets, base)

    def messages(self) -> list[ChatMessage]:
        """What the next reply is asked for: the system prompt and the turns."""
        return to_send(self.system_prompt(), self.turns)

    def system_prompt(self) -> str:
        """The conversation's own system prompt once it has begun (stored with it);
        before, the profile's of the model asked for (it may still be loading), else
        the command line's."""
        if self.system is not None:
            return self.system
        profile = self.profiles.get(self.wanted.name, self.profile) if self.wanted else self.profile
        return profile.system_prompt or self.settings.system_prompt or ""

    # UI thread ---------------------------------------------------------------------

    def send(self, text: str, parent: int | None = LEAF) -> ReplyJob:
        """Add the user's message (stored under `parent`: LEAF, at the end; else a new
        version of the message after it) and make the job of its reply (run it in a
        worker)."""
        if self.reply is not None:
            raise Busy("A reply is streaming: Esc stops it.")
        self.turns.append({"role": "user", "content": text})
        if self.conversation_id is None:  # its first message: its system prompt is set
            self.system = self.system_prompt()
        job = ReplyJob(
            self.messages(),
            self.sampling,
            self._reply_meta(),
            prompt=text,
            conversation_id=self.conversation_id,
            dropped_before=self.dropped,
            parent=parent,
        )
        self._begin(job)
        return job

    def regenerate(self, prompt_id: int) -> ReplyJob:
        """The job that makes another version of the reply to the user's message
        `prompt_id`, which the turns end with (`open` the path up to it first)."""
        if self.reply is not None:
            raise Busy("A reply is streaming: Esc stops it.")
        job = ReplyJob(
            self.messages(),
            self.sampling,
            self._reply_meta(),
            conversation_id=self.conversation_id,
            dropped_before=self.dropped,
            parent=prompt_id,
        )
        self._begin(job)
        return job

    def continue_reply(self) -> ReplyJob:
        """The job that carries on the last reply (cut off, or ended, or edited)."""
        last = self.last_reply
        tail = (last.reply_id, last.meta) if last is not None else self.tail
        if self.reply is not None:
            raise Busy("A reply is streaming: Esc stops it.")
        full = self.last_stats is not None and self.last_stats.finish == "context"
        if tail is None or not self.turns or self.turns[-1]["role"] != "assistant":
            raise Busy(NO_ROOM_TO_CONTINUE if full else "There is no reply to continue.")
        if full and not self.cut:
            raise Busy(NO_ROOM_TO_CONTINUE)
        if self.info is not None and not self.info.capabilities.continue_reply:
            raise Busy(f"{registry.get(self.info.ref.engine).label} cannot continue a reply.")
        job = ReplyJob(
            self.messages(),
            self.sampling,
            tail[1],
            conversation_id=self.conversation_id,
            reply_id=tail[0],
            dropped_before=self.dropped,
            continue_text=self.turns[-1]["content"],
        )
        self._begin(job)
        return job

    def _begin(self, job: ReplyJob) -> None:
        self.reply = job
        self.cut = False
        alive = self.loader.alive and self.info is not None
        self.state = EngineState.GENERATING if alive else EngineState.LOADING

    def _reply_meta(self) -> ReplyMeta:
        try:
            ref = self.model_ref()
        except FileNotFoundError:
            return ReplyMeta(sampling=asdict(self.sampling))
        return ReplyMeta(model=str(ref), engine=ref.engine, sampling=asdict(self.sampling))

    def stop(self) -> None:
        """Stop the reply (what it generated stays), or cancel a load."""
        self._halt(cancelled=True)

    def _halt(self, *, cancelled: bool) -> None:
        """Stop the reply, and end a load under way (no need to wait for it)."""
        if self.reply is not None:
            self.reply.stop.set()
        if not self.loader.kill_load(self.generation, cancelled=cancelled) and self.reply:
            self.loader.cancel()

    def switch(self, ref: ModelRef | None) -> None:
        """Ask for another model (None: the default); then run `load(restart=True)`."""
        self.previous = self.info.ref if self.info is not None else None
        self.wanted = ref
        self.restarting()
        self.last_stats = None  # the last reply's figures were another model's

    def restarting(self) -> None:
        """The engine is about to start again (then run `load(restart=True)`): a reply
        stops, a load under way is ended, the status says loading at once."""
        self._halt(cancelled=False)  # a load under way is superseded, not cancelled
        self.generation += 1
        self.info = None
        self.state = EngineState.LOADING
        self.reloading = True

    def open(
        self,
        conversation_id: int | None,
        history: list[StoredMessage],
        chat: ChatSettings | None = None,
    ) -> None:
        """Continue a stored conversation (its path, its own settings); None and []
        start an empty one."""
        if self.reply is not None:
            raise Busy("A reply is streaming: Esc stops it first.")
        self.conversation_id: int | None = conversation_id
        self.turns: list[ChatMessage] = [
            {"role": m.role, "content": m.content}
            for m in history
            if m.role in ("user", "assistant") and m.content
        ]
        """The conversation as it is sent to the model (the system prompt aside)."""
        self.system = next((m.content for m in history if m.role == "system"), None)
        self.chat = chat or ChatSettings()
        """The conversation's own sampling settings."""
        end = history[-1] if history else None
        self.tail = (end.id, end.meta) if end and end.role == "assistant" else None
        """The stored reply the conversation ends with, to continue."""
        self.dropped = 0  # oldest turns left out of what the model sees, to fit
        self.cut = False  # whether the last reply was cut off and can be continued
        self.last_reply: ReplyJob | None = None
        self.last_stats = None

    def apply(self, event: ev.Event) -> bool:
        """Fold a worker's event into the state; the UI thread calls it first. False
        for the event of a load the user has since replaced: nothing to show."""
        if isinstance(event, ev.LOAD_EVENTS) and event.generation < self.generation:
            return False
        match event:
            case ev.LoadStarted():
                self.info = None
                self.state = EngineState.LOADING
            case ev.ModelLoaded(info=info, profile=profile):
                self.reloading, self.previous = False, None  # a later cancel stays on it
                self.info, self.profile = info, profile
                self.last_stats = None
                self.state = EngineState.GENERATING if self.reply else EngineState.READY
            case ev.LoadFailed(cancelled=cancelled):
                self.reloading = False
                self.info = None
                self.state = EngineState.IDLE if cancelled else EngineState.FAILED
            case ev.EngineStopped():
                if self.reply is not None or self.state is not EngineState.READY:
                    return False  # a reply tells of it itself; a load under way too
                self.state = EngineState.STOPPED
            case ev.PromptSaved(conversation_id=cid, reply_id=rid):
                self.conversation_id = cid
                if self.reply is not None:
                    self.reply.reply_id = rid
            case ev.ContextTrimmed(dropped=dropped):
                self.dropped = dropped
            case ev.ReplyEnded(stats=stats, text=text):
                self._end(text)
                if stats is not None:
                    self.last_stats = stats
                    can = self.info is None or self.info.capabilities.continue_reply
                    earlier = self.dropped > 0 or sum(t["role"] == "user" for t in self.turns) > 1
                    policy = self.settings.context_policy
                    self.cut = can and continuable(stats.finish, earlier, policy)
                if self.reloading:
                    self.state = EngineState.LOADING
                elif self.info is None:  # stopped while it waited for a load
                    self.state = EngineState.IDLE
                else:
                    self.state = EngineState.READY
            case ev.ReplyFailed(engine_died=died, text=text):
                self._end(text)
                if self.reloading:  # the reply was cut short by a switch or restart
                    self.state = EngineState.LOADING
                elif self.info is None:  # its model could not be loaded
                    self.state = EngineState.FAILED
                else:
                    alive = self.loader.alive and not died
                    self.state = EngineState.READY if alive else EngineState.STOPPED
        return True

    def _end(self, text: str) -> None:
        job, self.reply = self.reply, None
        self.last_reply = job
        if job is not None and job.continuing:
            if self.turns and self.turns[-1]["role"] == "assistant":
                self.turns[-1] = {"role": "assistant", "content": text}
        elif text:
            self.turns.append({"role": "assistant", "content": text})
