"""The llamatui App: thin; the screens do the work."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from llamatui.engines.host import EngineClient
from llamatui.themes import THEMES
from llamatui.tui.paths import engine_log_path
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.settings import Settings


class LlamaTUI(App[None]):
    """Chat with local models in the terminal."""

    TITLE = "llamatui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit llamatui", priority=True),
    ]

    def __init__(self, settings: Settings | None = None, client: EngineClient | None = None):
        super().__init__()
        self.settings = settings or Settings()
        self.client = client or EngineClient("llama.cpp", log_path=engine_log_path())

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = "llamatui-dark"
        self.push_screen(ChatScreen(self.client, self.settings))

    async def on_unmount(self) -> None:
        # Ending the engine process frees the model's memory; it may take a moment.
        await asyncio.to_thread(self.client.close)
