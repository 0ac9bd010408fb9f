"""Command palette entries: "model: load NAME" for recent and library models."""

from __future__ import annotations

import asyncio
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from llamatui.engines.library import Library
from llamatui.engines.models import packaged_models
from llamatui.engines.refs import ModelRef
from llamatui.engines.remote import remote_entries
from llamatui.tui.chat.recent import load_recent
from llamatui.tui.paths import library_cache_path, recent_path


class ModelCommands(Provider):
    """Switch models from the palette; recent ones first."""

    _refs: list[ModelRef] | None = None

    async def startup(self) -> None:
        # Once per opening of the palette, not per keystroke: the library scan and
        # each configured server's model list (an HTTP request) take time.
        self._refs = await self._candidates()

    async def _candidates(self) -> list[ModelRef]:
        from llamatui.tui.screens.chat import ChatScreen

        screen = self.screen if isinstance(self.screen, ChatScreen) else None
        if screen is None:
            return []
        recent = load_recent(recent_path())
        folders = screen.settings.library_folders()
        remotes = screen.settings.remotes

        def scan() -> list[ModelRef]:
            entries = Library(library_cache_path()).scan(folders, packaged_models())
            entries += remote_entries(remotes)
            return [e.ref for e in entries if e.usable]

        library = await asyncio.to_thread(scan)  # headers are read once, then cached
        # The model loaded now is not one to switch to: it is left out.
        info = screen.session.info
        loaded = info.ref if info is not None else None
        return [r for r in recent + [r for r in library if r not in recent] if r != loaded]

    async def discover(self) -> Hits:
        for ref in self._refs or []:
            yield DiscoveryHit(
                f"model: load {ref.name}", partial(self._load, ref), help=ref.location
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for ref in self._refs or []:
            text = f"model: load {ref.name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(text), partial(self._load, ref), help=ref.location
                )

    def _load(self, ref: ModelRef) -> None:
        from llamatui.tui.screens.chat import ChatScreen

        if isinstance(self.screen, ChatScreen):
            self.screen.switch_model(ref)
