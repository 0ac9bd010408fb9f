"""The prompt box: Enter sends, Shift+Enter or Ctrl+J starts a new line, Up in an
empty box recalls what was sent before (Down goes back)."""

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
        self.earlier: list[str] = []
        """Prompts sent before, oldest first (Up recalls them)."""
        self._recalled: int | None = None
        """Which of `earlier` the box shows, while it shows one unchanged."""

    def restore(self, text: str) -> None:
        """Put back a draft that could not be sent, the cursor at its end to go on."""
        self.text = text
        self.move_cursor(self.document.end)

    def _recall(self, step: int) -> bool:
        """Show the prompt `step` before (-1) or after (+1) the one shown; whether
        the box is browsing what was sent (else the key is the cursor's)."""
        at = self._recalled
        if at is None or at >= len(self.earlier) or self.text != self.earlier[at]:
            if self.text or step > 0:
                self._recalled = None
                return False
            at = len(self.earlier)  # an empty box: Up starts from the newest
        row, last = self.cursor_location[0], self.document.line_count - 1
        if (step < 0 and row > 0) or (step > 0 and row < last):
            return False  # within a recalled prompt of several lines: the cursor moves
        at += step
        if at < 0:
            return True  # the oldest is shown: stay
        self._recalled = at if at < len(self.earlier) else None
        self.text = self.earlier[at] if at < len(self.earlier) else ""
        self.move_cursor(self.document.end)
        return True

    async def _on_key(self, event: events.Key) -> None:
        if event.key in ("up", "down") and self._recall(-1 if event.key == "up" else 1):
            event.stop()
            event.prevent_default()
            return
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text
            if text.strip():
                self.clear()
                self._recalled = None
                if not self.earlier or self.earlier[-1] != text:
                    self.earlier.append(text)
                self.post_message(self.Submitted(self, text))
            return
        if event.key in ("shift+enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)
