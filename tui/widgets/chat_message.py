"""One message of the conversation: the user's, the model's, or a notice."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Markdown, Static

from llamatui.tui.chat.sanitize import strip_controls


class UserMessage(Static):
    """What the user sent, shown as typed (never parsed as markup)."""

    DEFAULT_CSS = """
    UserMessage {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $role-user;
        color: $foreground;
    }
    """

    def __init__(self, text: str) -> None:
        super().__init__(strip_controls(text), markup=False)
        self.text = text


class Notice(Static):
    """Something the app tells the user inside the conversation."""

    DEFAULT_CSS = """
    Notice {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $role-notice;
        color: $text-warning;
        &.-error { border-left: thick $error; color: $text-error; }
    }
    """

    def __init__(self, text: str, *, error: bool = False) -> None:
        super().__init__(strip_controls(text), markup=False, classes="-error" if error else "")


class AssistantMessage(Vertical):
    """The model's reply, rendered as Markdown while it streams."""

    DEFAULT_CSS = """
    AssistantMessage {
        height: auto;
        margin: 1 0 0 0;
        border-left: thick $role-assistant;
        & > Markdown { margin: 0; padding: 0 1; background: transparent; }
        & > .reply-footer { padding: 0 1; color: $text-muted; height: auto; }
        &.-cut > .reply-footer { color: $text-warning; }
    }
    """

    def __init__(self, text: str = "", *, footer: str = "", cut: bool = False) -> None:
        super().__init__(classes="-cut" if cut else "")
        self.text = strip_controls(text)
        self.footer = footer

    def compose(self) -> ComposeResult:
        # Links in model output are shown, never opened on click.
        yield Markdown(self.text, open_links=False)
        yield Static(self.footer, classes="reply-footer", markup=False)

    @property
    def markdown(self) -> Markdown:
        """The Markdown view of the reply."""
        return self.query_one(Markdown)

    async def append(self, text: str) -> None:
        """Add streamed text and wait until the Markdown holds it.

        The session has stripped control characters from streamed text already
        (stored text is stripped when the widget is made). Awaiting the append
        (rather than queueing it in a `MarkdownStream`) lets the caller change other
        widgets in the same frame; the worker's pacer already gathers text, so
        appends never pile up.
        """
        if not text:
            return
        self.text += text
        await self.markdown.append(text)

    async def finish(self, footer: str, *, cut: bool = False) -> None:
        """End streaming: one full render of the final text, and the footer."""
        await self.markdown.update(self.text)
        self.set_footer(footer, cut=cut)

    def set_footer(self, footer: str, *, cut: bool = False) -> None:
        """Show the reply's figures (or why it ended) under it."""
        self.query_one(".reply-footer", Static).update(footer)
        self.set_class(cut, "-cut")
