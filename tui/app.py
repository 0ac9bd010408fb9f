"""The llamatui App: thin; the screens do the work."""

from __future__ import annotations

import asyncio
import gc
import signal
import sqlite3
import threading
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.theme import Theme

from llamatui.engines import registry
from llamatui.engines.meters import Sampler
from llamatui.themes import LLAMATUI_16, LLAMATUI_DARK, THEMES
from llamatui.tui import hangup, input_wait, paste, strip_caches
from llamatui.tui.chat.engines import HandleMaker
from llamatui.tui.history.store import Store, StoreError
from llamatui.tui.paths import history_path, remembered_path
from llamatui.tui.remembered import Remembered, load_remembered, remember
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.screens.chat_bindings import APP_BINDINGS, HELP_GROUPS
from llamatui.tui.screens.commands import ModelCommands
from llamatui.tui.screens.help import HelpScreen, key_label, key_rows
from llamatui.tui.settings import Settings
from llamatui.tui.widgets.conversations_pane import ConversationsPane
from llamatui.tui.widgets.markdown_lines import warm_lexers


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


# Keys the palette does not list: the palette itself, and Ctrl+C (stop is there).
SELF_IDS = ("app.command_palette", "app.stop_or_copy")

# Container objects made (less those freed) between collections of the youngest
# generation: Python's default is 700.
GC_YOUNG_THRESHOLD = 20_000


def _warm_up() -> None:
    warm_lexers()
    gc.freeze()


def binding_ids() -> set[str]:
    """Every key's id, for [keymap] to name."""
    from llamatui.tui.screens.chat_settings import ChatSettingsDialog
    from llamatui.tui.screens.dialogs import ConfirmDialog, EditDialog, RenameDialog
    from llamatui.tui.screens.models import ModelsScreen
    from llamatui.tui.screens.profile import ProfileDialog
    from llamatui.tui.widgets.conversation_view import ConversationView
    from llamatui.tui.widgets.conversations_pane import ConversationList

    owners = (LlamaTUI, ChatScreen, HelpScreen, ModelsScreen, ProfileDialog, ConversationList)
    dialogs = (ConfirmDialog, RenameDialog, EditDialog, ChatSettingsDialog, ConversationView)
    bindings = [b for o in (*owners, *dialogs) for b in o.BINDINGS]
    return {b.id for b in bindings if isinstance(b, Binding) and b.id}


class LlamaTUI(App[None]):
    """Chat with local models in the terminal."""

    TITLE = "llamatui"
    COMMANDS = App.COMMANDS | {ModelCommands}
    BINDINGS: ClassVar[list[BindingType]] = APP_BINDINGS

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        history: Path | None = None,
        keep_history: bool = True,
        config_notice: str | None = None,
        sampler: Sampler | None = None,
        make_handle: HandleMaker | None = None,
        resume: bool = False,
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
            resume: open the conversation the last run had open.
        """
        super().__init__()
        registry.prepare()  # before Textual takes stderr over
        paste.install()  # pasted control characters stay text
        hangup.install()  # a terminal that goes away: the app hears of it and quits
        input_wait.install()  # input is waited for, not looked for ten times a second
        strip_caches.install()  # a frame drawn afresh costs a third less
        self.settings = settings or Settings()
        self.history = history
        self.keep_history = keep_history
        self.store: Store | None = None
        self.config_notice = config_notice
        if unknown := sorted(set(self.settings.keymap) - binding_ids()):
            wrong = ", ".join(unknown)
            keymap = f"The config's [keymap] names keys that do not exist, left out: {wrong}."
            self.config_notice = "\n".join(n for n in (config_notice, keymap) if n)
        self.set_keymap(dict(self.settings.keymap))
        self.sampler = sampler
        self.make_handle = make_handle
        self.resume = resume
        self.chat: ChatScreen | None = None
        """The chat screen, once the app has started."""
        self.last = Remembered()
        """What the last run left, as read at start."""
        self.started_theme = ""

    async def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        last = self.last = load_remembered(remembered_path()) if self.keep_history else Remembered()
        self.theme = self.started_theme = self.first_theme(last.theme)
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
            show_pane=last.pane,
        )
        self.push_screen(self.chat)
        # Where the last run left off: its conversation (its model comes first in the
        # recent list), unless the command line named a model.
        store, cid = self.store, last.conversation
        if self.resume and store is not None and cid and store.conversation(cid) is not None:
            self.chat.call_after_refresh(self.chat.open_conversation, cid)
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
        # And collect young objects less often: drawing a reply makes many that die
        # at once (Rich's segments and styles), and at Python's default (every 700
        # allocations) the collector took 5% of the app's CPU while one streamed,
        # a quarter of that at this threshold (measured with bench/draw.py).
        gc.set_threshold(GC_YOUNG_THRESHOLD)
        # Code's lexers are made while the model loads, not while it replies; they
        # too live as long as the app.
        threading.Thread(target=_warm_up, name="warm-lexers", daemon=True).start()

    @property
    def current_theme(self) -> Theme:
        # Textual asks for the theme for every line it draws, and finds it by name
        # in a copy (two) of its table of themes: a lookup is enough for one name.
        theme = self._registered_themes.get(self.theme)
        return super().current_theme if theme is None else theme

    def first_theme(self, remembered: str | None) -> str:
        """The theme to start with: the 16-colour one where the terminal has only 16
        colours (TERM=screen, a Linux console), else the one last picked."""
        if not self.is_headless and self.console.color_system in ("standard", "windows"):
            return LLAMATUI_16.name
        return remembered if remembered in self.available_themes else LLAMATUI_DARK.name

    def action_help(self) -> None:
        """Show the keys, as bound now."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_rows(self.screen)))

    def action_stop_or_copy(self) -> None:
        """Ctrl+C: stop the streaming reply; else copy the selected text."""
        chat = self.chat
        if chat is not None and self.screen is chat and chat.session.generating:
            chat.action_stop()
            return
        text = getattr(self.screen.focused, "selected_text", "") or self.screen.get_selected_text()
        if text:
            # OSC 52: the terminal's clipboard, over SSH too where the terminal allows.
            self.copy_to_clipboard(text)
            self.notify(f"Copied {len(text):,} characters.", timeout=2)
        else:
            self.notify("Nothing to stop or copy. Ctrl+Q quits.", timeout=3)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette (Ctrl+P): the app's commands with their keys, then Textual's."""
        found: dict[str, SystemCommand] = {}
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.id is None or binding.id in found or binding.id in SELF_IDS:
                continue
            keys = ", ".join(key_label(k) for k in binding.key.split(","))
            what = f"{binding.tooltip or binding.description} ({keys})"
            run = partial(self.call_later, self.run_action, binding.action, active.node)
            found[binding.id] = SystemCommand(binding.description, what, run)
        for _, ids in HELP_GROUPS:
            yield from (found.pop(i) for i in ids if i in found)
        yield from found.values()
        yield from super().get_system_commands(screen)

    def ended_from_outside(self) -> None:
        """Quit because the terminal went away or the system asked (SIGHUP, SIGTERM)."""
        job = self.chat.session.reply if self.chat is not None else None
        if job is not None:
            job.interrupted = True  # cut now, it is saved as interrupted, not stopped
        self.exit()

    def exit(self, *args: Any, **kwargs: Any) -> None:
        """Quit (every way the app quits in order comes here): what to start with
        next time is kept first, while the screen is still there to ask."""
        chat = self.chat
        if self.keep_history and chat is not None and chat.query(ConversationsPane):
            # What the user chose this run; what the app chose on its own (the
            # 16-colour theme, the pane hidden on a narrow terminal) is not a choice.
            theme = self.theme if self.theme != self.started_theme else self.last.theme
            pane = chat.show_pane if self.store is not None else None
            remember(remembered_path(), Remembered(theme, pane, chat.session.conversation_id))
        super().exit(*args, **kwargs)

    async def on_unmount(self) -> None:
        # Ending the engine process frees the model's memory; it may take a moment.
        if self.chat is not None:
            await asyncio.to_thread(self.chat.session.close)
        if self.store is not None:
            self.store.close()
