"""The prompt box: Enter sends, Shift+Enter or Ctrl+J starts a new line."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea


class PromptInput(TextArea):
    """A multi-line prompt editor that submits on Enter."""

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 1;
        max-height: 10;
        margin: 1 0 0 0;
        padding: 0 1;
        background: $surface;
        &:focus { background: $surface-lighten-1; }
    }
    """

    @dataclass
    class Submitted(Message):
        """The user sent a prompt."""

        prompt_input: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            """The prompt box that sent it."""
            return self.prompt_input

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            compact=True,
            placeholder="Message the model (Enter sends, Ctrl+J new line)",
        )
        # A blinking cursor redraws the prompt twice a second, forever: on a box
        # whose cores the model fills, and over SSH, a still one costs nothing.
        self.cursor_blink = False

    def restore(self, text: str) -> None:
        """Put back a draft that could not be sent, the cursor at its end to go on."""
        self.text = text
        self.move_cursor(self.document.end)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text
            if text.strip():
                self.clear()
                self.post_message(self.Submitted(self, text))
            return
        if event.key in ("shift+enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)
