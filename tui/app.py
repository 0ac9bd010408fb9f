"""The llamatui App: thin; the screens do the work."""

from __future__ import annotations

import asyncio
import gc
import signal
import sqlite3
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from llamatui.engines import registry
from llamatui.engines.meters import Sampler
from llamatui.themes import THEMES
from llamatui.tui import paste
from llamatui.tui.chat.engines import HandleMaker
from llamatui.tui.history.store import Store, StoreError
from llamatui.tui.paths import history_path
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.screens.commands import ModelCommands
from llamatui.tui.settings import Settings


def open_history(path: Path) -> tuple[Store | None, str | None]:
    """The history store, and anything the user must be told about opening it."""
    try:
        store = Store(path)
    except (StoreError, sqlite3.Error, OSError) as e:
        return None, f"Chat history is off for this session: {e}. Nothing will be saved."
    if store.moved_aside is not None:
        return store, (
            f"Your chat history database was damaged, so it was moved to "
            f"{store.moved_aside} and a new one was started. Nothing was deleted."
        )
    return store, None


class LlamaTUI(App[None]):
    """Chat with local models in the terminal."""

    TITLE = "llamatui"
    COMMANDS = App.COMMANDS | {ModelCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit llamatui", priority=True),
    ]

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        history: Path | None = None,
        keep_history: bool = True,
        config_notice: str | None = None,
        sampler: Sampler | None = None,
        make_handle: HandleMaker | None = None,
    ) -> None:
        """
        Args:
            settings: the model and how to run it.
            history: the history database (default: in the user data folder).
            keep_history: False runs without saving anything.
            config_notice: what is wrong with the config file, to tell the user.
            sampler: the meters' sampler (default: this machine's).
            make_handle: makes engine handles (default: the registry's; tests pass
                the scripted engine).
        """
        super().__init__()
        registry.prepare()  # before Textual takes stderr over
        paste.install()  # pasted control characters stay text
        self.settings = settings or Settings()
        self.history = history
        self.keep_history = keep_history
        self.store: Store | None = None
        self.config_notice = config_notice
        self.sampler = sampler
        self.make_handle = make_handle
        self.chat: ChatScreen | None = None
        """The chat screen, once the app has started."""

    async def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = "llamatui-dark"
        notice = None
        if self.keep_history:
            # Opening checks and may migrate or repair the file, and waits for a
            # lock another copy of the app holds: not on the UI thread.
            path = self.history or history_path()
            self.store, notice = await asyncio.to_thread(open_history, path)
        notice = "\n".join(n for n in (self.config_notice, notice) if n) or None
        self.chat = ChatScreen(
            self.settings,
            self.store,
            startup_notice=notice,
            sampler=self.sampler,
            make_handle=self.make_handle,
        )
        self.push_screen(self.chat)
        # A terminal that hangs up (SSH dropped) or a SIGTERM would end the process
        # where it stands, the streaming reply left "streaming" and its engine on
        # its own: quit as Ctrl+Q does instead, the reply kept as interrupted.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            loop.add_signal_handler(sig, self.ended_from_outside)
        # Everything made so far (Textual, styles, the screen) lives as long as the
        # app: move it out of the collector's way, so collections while a reply
        # streams walk only new objects and take less CPU from the model.
        self.call_after_refresh(gc.freeze)

    def ended_from_outside(self) -> None:
        """Quit because the terminal went away or the system asked (SIGHUP, SIGTERM)."""
        job = self.chat.session.reply if self.chat is not None else None
        if job is not None:
            job.interrupted = True  # cut now, it is saved as interrupted, not stopped
        self.exit()

    async def on_unmount(self) -> None:
        # Ending the engine process frees the model's memory; it may take a moment.
        if self.chat is not None:
            await asyncio.to_thread(self.chat.session.close)
        if self.store is not None:
            self.store.close()
