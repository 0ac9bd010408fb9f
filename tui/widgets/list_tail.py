"""A list under one item at the end of a streaming reply, drawn a few items at a
time.

A list's items before its last are finished as blocks are (`finished_items`), but
only at the top level: a list of many items under one item ("- Steps:" and fifty
steps under it) was drawn whole on every update, 20 ms an update at 150 items. An
item of a bulleted list is drawn the same whatever items are beside it (the same
bullet, nothing sized to the others), so the items drawn are kept, and each
update draws the item above them (its first lines, the "head") with the new items
only: the lines after the head's are the new items' lines in the whole. (A
numbered list under the item is drawn whole: its numbers align to the last one.)
"""

from __future__ import annotations

from markdown_it.token import Token
from textual.strip import Strip

from llamatui.tui.widgets.kept_parts import KeptParts
from llamatui.tui.widgets.markdown_blocks import line_start
from llamatui.tui.widgets.markdown_lines import Draw

KEEP_FROM = 6
"""Items finished under the item before they are kept (a short list is drawn whole:
drawing it in parts starts with drawing its head apart)."""


class ListTail(KeptParts):
    """The items of the list under one item last drawn at the end of a reply (its
    parts; the item's text above them its head), kept."""

    def lines(
        self, text: str, parsed: list[Token], draw: Draw, *, from_rest: bool = False
    ) -> list[Strip] | None:
        """A tail that is one item with a bulleted list under it: the lines kept, and
        the new items drawn under the head; None if it is not (drawn whole). With
        `from_rest`, `text` is what `rest_of` gave."""
        parts = _parts(text, parsed)
        if parts is None:
            self.reset()
            return None
        head, items, ended = parts
        if from_rest:
            if ended:
                self.kept += draw(head + "".join(items[:ended]))[self.header :]
                self.parts += ended
                self.source += "".join(items[:ended])
            return self.kept + draw(head + "".join(items[ended:]))[self.header :]
        if not self.parts and ended < KEEP_FROM:
            return None  # a short list: drawn whole, in one go
        if not (self.parts and head == self.head and text.startswith(self.source)):
            self.head, self.parts, self.kept = head, 0, draw(head)
            self.header = len(self.kept)
        if ended > self.parts:
            self.kept += draw(head + "".join(items[self.parts : ended]))[self.header :]
            self.parts = ended
            self.source = text[: len(text) - len("".join(items[ended:]))]
        return self.kept + draw(head + "".join(items[ended:]))[self.header :]


def _parts(text: str, parsed: list[Token]) -> tuple[str, list[str], int] | None:
    """Of a parse that is one list of one item, whose last block is a bulleted list:
    the item's text above that list, the text of each item in it, and how many have
    ended (another begun after them); None if it is not so."""
    if not parsed or parsed[0].type not in ("bullet_list_open", "ordered_list_open"):
        return None
    outer = [t for t in parsed if t.level == 1 and t.type == "list_item_open"]
    if len(outer) != 1 or any(t.level == 0 for t in parsed[1:-1]) or parsed[0].map is None:
        return None
    # The item's blocks, in order; the last one the list under it.
    blocks = [t for t in parsed if t.level == 2 and t.nesting == 1]
    if not blocks or blocks[-1].type != "bullet_list_open" or blocks[-1].map is None:
        return None
    items = [t.map for t in parsed if t.level == 3 and t.type == "list_item_open"]
    if not items or any(m is None for m in items):
        return None
    starts = [line_start(text, m[0]) for m in items if m is not None]
    head = text[line_start(text, parsed[0].map[0]) : starts[0]]
    texts = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    return head, texts, len(texts) - 1
