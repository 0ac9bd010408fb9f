"""Command palette entries: "model: load NAME" for recent and library models."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

from textual.command import DiscoveryHit, Hit, Hits, Provider

from llamatui.engines.library import Library


class ModelCommands(Provider):
    """Switch models from the palette; recent ones first."""

    async def _candidates(self) -> list[tuple[str, str]]:
        from llamatui.tui.screens.chat import ChatScreen

        screen = self.screen if isinstance(self.screen, ChatScreen) else None
        if screen is None:
            return []
        recent = [(Path(p).stem, p) for p in screen.recent_models()]
        seen = {p for _, p in recent}

        def scan() -> list[tuple[str, str]]:
            entries = Library(screen.library_cache).scan(screen.model_folders())
            return [(e.name, e.path) for e in entries if e.usable and e.format == "gguf"]

        library = await asyncio.to_thread(scan)  # headers are read once, then cached
        return recent + [(n, p) for n, p in library if p not in seen]

    async def discover(self) -> Hits:
        for name, path in await self._candidates():
            yield DiscoveryHit(f"model: load {name}", partial(self._load, path), help=path)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, path in await self._candidates():
            text = f"model: load {name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._load, path), help=path)

    def _load(self, path: str) -> None:
        from llamatui.tui.screens.chat import ChatScreen

        if isinstance(self.screen, ChatScreen):
            self.screen.switch_model(Path(path))
