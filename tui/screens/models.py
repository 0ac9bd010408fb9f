"""The model library screen: every model on disk, what it needs, Enter loads it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import psutil
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from llamatui.engines.library import Library, ModelEntry
from llamatui.engines.models import packaged_models
from llamatui.engines.refs import ModelRef
from llamatui.engines.remote import RemoteServer, remote_entries
from llamatui.tui.chat.session import ChatSession
from llamatui.tui.cli.models import free_vram, gpu_layers_of, human, memory_cells
from llamatui.tui.config import ConfigError, Profile, load_config, save_profile
from llamatui.tui.paths import config_path
from llamatui.tui.screens.profile import ProfileDialog
from llamatui.tui.settings import Settings


class ModelsScreen(ModalScreen[ModelRef | None]):
    """Pick a model to load; None when dismissed.

    Names and reasons come from files: they go into the table as rich `Text`, which
    is never read as markup.
    """

    DEFAULT_CSS = """
    ModelsScreen {
        align: center middle;
        & > Vertical {
            width: 95%; height: 85%;
            border: round $primary; background: $surface; padding: 0 1;
        }
        & DataTable { height: 1fr; }
        & #models-status { color: $text-muted; height: auto; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close", id="models.close"),
        Binding("e", "edit_profile", "Edit profile", id="models.edit_profile"),
    ]

    @classmethod
    def of(cls, session: ChatSession, cache: Path | None) -> ModelsScreen:
        """The library for a chat session: its settings, its model marked, and its
        profiles (one saved here is the one its next load uses)."""
        info = session.info
        return cls(
            session.settings,
            cache,
            info.ref if info else None,
            gpu_offload=bool(info and info.capabilities.gpu_offload),
            profile_saved=session.profiles.__setitem__,
            profiles=session.profiles,
        )

    def __init__(
        self,
        settings: Settings,
        cache: Path | None,
        current: ModelRef | None,
        *,
        gpu_offload: bool = False,
        profile_saved: Callable[[str, Profile], None] | None = None,
        profiles: Mapping[str, Profile] | None = None,
    ) -> None:
        """
        Args:
            settings: where the models are (folders, [[remotes]]) and the context size
                the memory estimates are for.
            cache: the library's header cache.
            current: the model loaded now, marked.
        """
        super().__init__()
        self.remotes: Sequence[RemoteServer] = settings.remotes
        """Servers whose models are listed too."""
        self.profiles = profiles or {}
        """The profiles in use (GPU layers split a GGUF model's memory)."""
        self.profile_saved = profile_saved
        """Told of each profile saved, so the next load uses it."""
        self.gpu_offload = gpu_offload
        """Whether the engine's llama.cpp build can offload layers to a GPU."""
        self.folders = settings.library_folders()
        self.presets = settings.presets
        self.cache = cache
        self.n_ctx = settings.load.n_ctx
        self.current = current
        self.entries: list[ModelEntry] = []
        self.vram: int | None = None
        """Free memory of every GPU together, as the scan found; None without one."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content(f"Models in {', '.join(str(f) for f in self.folders)}"))
            yield DataTable(cursor_type="row", zebra_stripes=True, id="models-table")
            yield Label(Content("Scanning…"), id="models-status")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # Whether it fits first: at 80 columns the rest scrolls sideways.
        table.add_columns(
            "Name", "Fit", "Memory", "Size", "Quant", "Params", "Arch",
            "Ctx", "Template", "Note",
        )  # fmt: skip
        table.focus()
        self.scan()

    @dataclass
    class Scanned(Message):
        """The library scan is done."""

        entries: list[ModelEntry]
        vram: int | None
        """Free memory of every GPU together; None without one."""

    @work(thread=True, exclusive=True, exit_on_error=False, group="scan")
    def scan(self) -> None:
        """Read the folders (headers only; cached) away from the UI thread."""
        local = Library(self.cache).scan(self.folders, packaged_models())
        entries = local + remote_entries(self.remotes)
        self.post_message(self.Scanned(entries, free_vram()))

    def on_models_screen_scanned(self, message: Scanned) -> None:
        self.entries = message.entries
        self.vram = message.vram
        self._fill()
        entries = self.entries
        usable = sum(e.usable for e in entries)
        status = (
            f"{usable} usable, {len(entries) - usable} not · memory at {self.n_ctx:,} tokens "
            "of context (* its profile's) · Enter loads · e edits its profile · Esc closes"
        )
        if not entries:
            status = "No models found. Put GGUF files or model folders in one of these."
        self.query_one("#models-status", Label).update(Content(status))

    def _fill(self) -> None:
        """The table, from the entries and the profiles in use: a model's profile sets
        the context its memory is for and the chat format (marked *)."""
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        available = psutil.virtual_memory().available
        for i, e in enumerate(self.entries):
            mark = "● " if e.ref == self.current else "  "
            reason = e.reason
            if reason is not None:
                cells = [Text(mark + e.name, style="dim"), *(["-"] * 8)]
                table.add_row(*cells, Text(f"unusable: {reason}"), key=str(i))
                continue
            profile = self.profiles.get(e.name, Profile())
            n_ctx = profile.ctx or self.n_ctx
            layers = gpu_layers_of(e, self.profiles)
            ram, verdict = memory_cells(e, n_ctx, available, self.vram, layers)
            ctx = f"{profile.ctx}*" if profile.ctx else str(e.context_length or "?")
            fmt = f"{profile.chat_format}*" if profile.chat_format else e.template or "?"
            table.add_row(
                Text(mark + e.name), verdict, ram, human(e.size_bytes), e.quantization or "?",
                human(e.parameters or 0, "").strip(), e.architecture or "?", ctx, fmt,
                Text(e.warning or ""), key=str(i),
            )  # fmt: skip
        if self.entries:
            table.move_cursor(row=max(0, min(row, len(self.entries) - 1)))

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is None or not self.entries:
            return
        e = self.entries[int(str(event.row_key.value))]
        spec = e.engine
        where = f"{spec.label if spec else e.format} · {e.path}"
        note = e.reason or e.warning
        self.query_one("#models-status", Label).update(
            Content(f"{note} · {where}" if note else where)
        )

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        entry = self.entries[int(str(event.row_key.value))]
        reason = entry.reason
        if reason is not None:
            self.notify(f"{entry.name} cannot be loaded: {reason}", severity="error", markup=False)
            return
        self.dismiss(entry.ref)

    def action_edit_profile(self) -> None:
        """Edit the highlighted model's profile; saved to the config file."""
        table = self.query_one(DataTable)
        if not self.entries or table.cursor_row < 0:
            return
        entry = self.entries[table.cursor_row]
        path = config_path()
        try:
            profile = load_config(path).profiles.get(entry.name, Profile())
        except ConfigError as e:
            self.notify(f"{e}. Fix the file to edit profiles.", severity="error", markup=False)
            return

        def saved(new: Profile | None) -> None:
            if new is None:
                return
            try:
                save_profile(path, entry.name, new)
            except ConfigError as e:
                self.notify(str(e), severity="error", markup=False)
                return
            if self.profile_saved is not None:
                self.profile_saved(entry.name, new)
            if self.profile_saved is None or entry.name not in self.profiles:
                self.profiles = {**self.profiles, entry.name: new}
            self._fill()  # its context and chat format, as saved
            self.notify(
                f"Saved the profile of {entry.name}: it applies when it loads.", markup=False
            )

        spec = entry.engine
        dialog = ProfileDialog(
            entry.name,
            profile,
            spec,
            gpu_offload=self.gpu_offload,
            presets=self.presets,
        )
        self.app.push_screen(dialog, saved)
