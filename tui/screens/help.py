"""The keys screen (F1): the app's own keys, by what they are for, as bound now."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from llamatui.tui.screens.chat_bindings import HELP_GROUPS, PROMPT_KEYS

Rows = list[tuple[str, list[tuple[str, str]]]]
_NAMES = {"escape": "Esc", "ctrl": "Ctrl", "shift": "Shift", "alt": "Alt", "super": "Super"}


def key_label(key: str) -> str:
    """A key as people write it: ctrl+l is Ctrl+L, escape is Esc, f2 is F2, up is Up,
    a letter alone stays as typed (r, not R, which reads as Shift+R)."""
    parts = key.split("+")

    def one(p: str) -> str:
        if p in _NAMES:
            return _NAMES[p]
        if len(p) == 1:
            return p.upper() if len(parts) > 1 else p
        if p[0] == "f" and p[1:].isdigit():
            return p.upper()
        return p.title()

    return "+".join(one(p) for p in parts)


def key_rows(screen: Screen[object]) -> Rows:
    """The keys of `screen` and the app by group: (group, [(keys, what they do)]).

    Read from the bindings in force, so keys remapped by a [keymap] show as they are.
    """
    by_id: dict[str, tuple[list[str], str]] = {}
    # In force now (the app's, the screen's, the focused widget's), then those of the
    # screen's other widgets (a selected message's keys, while the prompt has focus).
    bound = [(key, active.binding) for key, active in screen.active_bindings.items()]
    for node in screen.walk_children(with_self=False):
        bound += [(k, b) for k, found in node._bindings.key_to_bindings.items() for b in found]
    for key, binding in bound:
        if binding.id is None:
            continue
        keys, _ = by_id.setdefault(binding.id, ([], binding.tooltip or binding.description))
        shown = key_label(key)
        if shown not in keys:
            keys.append(shown)
    rows: Rows = [("Prompt", list(PROMPT_KEYS))]
    for group, ids in HELP_GROUPS:
        found = [(", ".join(by_id[i][0]), by_id[i][1]) for i in ids if i in by_id]
        if found:
            rows.append((group, found))
    return rows


class HelpScreen(ModalScreen[None]):
    """The keys, grouped; Esc, F1 or q closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > VerticalScroll {
            width: 76; max-width: 100%; height: auto; max-height: 100%;
            padding: 0 2; border: round $primary; background: $surface;
        }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, rows: Rows) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        width = max(len(keys) for _, found in self.rows for keys, _ in found) + 2
        parts: list[Content] = []
        for group, found in self.rows:
            parts.append(Content.styled(f"\n{group}", "bold $accent"))
            for keys, what in found:
                parts.append(Content(f"  {keys.ljust(width)}{what}"))
        parts.append(Content.styled("\nEsc closes · Ctrl+P finds any command", "$text-muted"))
        with VerticalScroll():
            yield Static(Content("\n").join(parts), id="keys")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
