"""A block at the end of a streaming reply drawn a few parts at a time: a table's
rows (`table_tail.py`), the items of a list under one item (`list_tail.py`).

Each update draws the block's head (a table's header, the item above the list)
with its new parts only, and the lines after the head's are the new parts' lines
in the block drawn whole; the parts drawn are kept, and only the head and what
follows them parsed again.
"""

from __future__ import annotations

from textual.strip import Strip


class KeptParts:
    """The head and the parts of the block last drawn at the end of a reply, kept."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Keep nothing (the tail is not that block)."""
        self.source = ""
        """The block's text up to the end of its last part kept."""
        self.parts = 0
        """Parts kept (each ended: what comes after cannot change it)."""
        self.kept: list[Strip] = []
        """The lines of its head and the parts kept."""
        self.head = ""
        """Its head's text."""
        self.header = 0
        """Lines of its head, drawn."""

    def rest_of(self, tail: str) -> str | None:
        """When `tail` is the block last drawn with text added: its head and what
        follows the parts kept, to parse (a long block is not parsed whole again,
        which costs what drawing it whole did); else None."""
        if self.parts and tail.startswith(self.source):
            return self.head + tail[len(self.source) :]
        return None
