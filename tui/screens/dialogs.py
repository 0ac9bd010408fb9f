"""Small modal dialogs: ask for a title, confirm a deletion, edit a message."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from llamatui.tui.widgets.prompt_input import PromptInput

DIALOG_CSS = """
RenameDialog, ConfirmDialog, EditDialog {
    align: center middle;
    & > Vertical {
        width: 64; max-width: 90%; height: auto; padding: 1 2;
        border: round $primary; background: $surface;
    }
    & Label { width: 100%; }  /* a long question wraps, not cut */
    & Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    & Button { margin-left: 1; }
}
"""


class RenameDialog(ModalScreen[str | None]):
    """Ask for a new conversation title; None when cancelled."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel")
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.current = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Rename conversation")
            yield Input(self.current, id="title")

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        title = " ".join(event.value.split())
        self.dismiss(title or None)


class ConfirmDialog(ModalScreen[bool]):
    """Ask a yes/no question; False when cancelled."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "dismiss(False)", "No", id="dialog.no"),
        Binding("y", "dismiss(True)", "Yes", id="dialog.yes"),
    ]

    def __init__(self, question: str, yes: str = "Delete") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content(self.question))
            with Horizontal():
                yield Button("Cancel", id="no")
                yield Button(self.yes, id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class EditDialog(ModalScreen[str | None]):
    """Edit the text of a message; None when cancelled."""

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    EditDialog > Vertical { width: 100; }
    EditDialog PromptInput { max-height: 20; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel")
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.heading = title
        self.current = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content(self.heading))
            yield PromptInput(id="edit")
            yield Label(Content("Enter saves · Shift+Enter or Ctrl+J a new line · Esc cancels"))

    def on_mount(self) -> None:
        self.query_one(PromptInput).restore(self.current)
        self.query_one(PromptInput).focus()

    @on(PromptInput.Submitted)
    def _submit(self, event: PromptInput.Submitted) -> None:
        event.stop()
        self.dismiss(event.text if event.text.strip() else None)
