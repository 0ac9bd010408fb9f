"""One message of the conversation: the user's, the model's, or a notice."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.visual import Visual
from textual.widgets import Static

from llamatui.tui.chat.sanitize import strip_controls
from llamatui.tui.widgets.reply_text import ReplyText
from llamatui.tui.widgets.single_layout import SingleLayout

# Added to a reply's footer when it can be carried on.
CONTINUE_OFFER = " · Ctrl+T continues"


def versions_label(version: tuple[int, int]) -> str:
    """Which version a message is, when it has several: "← 2/3 →" (←/→ step)."""
    return f"← {version[0]}/{version[1]} →" if version[1] > 1 else ""


class UserMessage(Static, SingleLayout):
    """What the user sent, shown as typed (never parsed as markup)."""

    DEFAULT_CSS = """
    UserMessage {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $role-user;
        color: $foreground;
    }
    """

    def __init__(
        self, text: str, *, message_id: int | None = None, version: tuple[int, int] = (1, 1)
    ) -> None:
        shown = Content(strip_controls(text))
        if label := versions_label(version):
            shown += Content.styled(f"\n{label}", "dim")
        super().__init__(shown)
        self.text = text
        self.message_id = message_id
        """The stored message (None until it is saved)."""


class Notice(Static, SingleLayout):
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


class ReplyFooter(SingleLayout):
    """The line under a reply: its figures, or why it ended.

    While a reply streams its text holds rows for what comes next, and when it ends
    it keeps them, and draws this line under itself, until the conversation is
    next laid out (a layout then costs nothing more: see ReplyText.finish). This
    widget, below those rows, is blank meanwhile.
    """

    DEFAULT_CSS = """
    ReplyFooter { height: auto; }
    """

    def __init__(self, text: str, reply: ReplyText, *, cut: bool = False) -> None:
        super().__init__(classes="reply-footer")
        self.text = text
        self.cut = cut
        """Whether the reply was cut short: the footer says why, in warning colour
        (a style of its text, not a class: a class is applied in a later refresh)."""
        self._reply = reply
        reply.footer_bar = self

    def render(self) -> Content:
        return Content.styled(self.text, "$text-warning") if self.cut else Content(self.text)

    def update(self, text: str, *, cut: bool = False, draw: bool = True) -> None:
        """Show `text` (`draw`: now; else when this widget is next drawn)."""
        self.text, self.cut = text, cut
        if draw:  # else the refresh that ends the reply's hold on its rows draws it
            self.refresh(layout=True)

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._reply.holds_rows:  # blank, its bar too
            return [Strip.blank(crop.width, self.rich_style)] * crop.height
        return super().render_lines(crop)

    def lines(self, width: int) -> list[Strip]:
        """This footer drawn `width` cells wide, as it is drawn here."""
        return Visual.to_strips(self, self.render(), width, None, self.visual_style)


class AssistantMessage(Vertical, SingleLayout):
    """The model's reply, drawn as Markdown while it streams and after."""

    DEFAULT_CSS = """
    AssistantMessage {
        height: auto;
        margin: 1 0 0 0;
        /* The bar is its text's and its footer's, not the message's: rows the text
           holds for what comes next are drawn without it (ReplyText.render_lines). */
        & > ReplyText { background: transparent; border-left: thick $role-assistant; }
        & > .reply-footer {
            padding: 0 1; color: $text-muted; height: auto;
            border-left: thick $role-assistant;
        }
    }
    """

    def __init__(
        self,
        text: str = "",
        *,
        footer: str = "",
        cut: bool = False,
        message_id: int | None = None,
        version: tuple[int, int] = (1, 1),
    ) -> None:
        super().__init__()
        self.text = strip_controls(text)
        self._cut = cut
        self.message_id = message_id
        """The stored reply (None until it is saved)."""
        self._versions = versions_label(version)
        """Which of its versions it is ("← 2/3 →"): the footer starts with it."""
        self._figures = footer
        """The footer without the versions: why it ended, the model, the figures."""
        self._before = footer
        self.footer = self._shown(footer)
        """The line under the reply, as shown."""

    def _shown(self, figures: str) -> str:
        return " · ".join(part for part in (self._versions, figures) if part)

    def compose(self) -> ComposeResult:
        # Links in model output are shown as text, never opened.
        text = ReplyText(self.text)
        yield text
        yield ReplyFooter(self.footer, text, cut=self._cut)

    @property
    def markdown(self) -> ReplyText:
        """The Markdown view of the reply."""
        return self.query_one(ReplyText)

    def begin(self) -> None:
        """Streamed text will follow (a new reply, or more of this one)."""
        self._before = self._figures
        self.markdown.start()
        self.set_footer("")

    def append(self, text: str) -> None:
        """Add streamed text.

        The session has stripped control characters from streamed text already
        (stored text is stripped when the widget is made); the worker's pacer
        gathers text, so appends never pile up.
        """
        if not text:
            return
        self.text += text
        self.markdown.append(text)

    def finish(self, footer: str | None, *, cut: bool = False) -> None:
        """End streaming: one full render of the final text, and the footer (None:
        the one from before, for a continuation that did not begin; without the
        offer to continue, which has just failed)."""
        if footer is None:
            footer = self._before.replace(CONTINUE_OFFER, "")
        self._figures, self.footer = footer, self._shown(footer)
        bar = self.query_one(ReplyFooter)
        bar.update(self.footer, cut=cut, draw=False)  # drawn under the text for now
        # Under a notice mounted while it streamed, the rows it keeps would stay
        # between the two: only the conversation's last widget keeps them.
        last = self.parent is not None and self.parent.children[-1] is self
        self.markdown.finish(bar.lines if last else None)
        if not self.markdown.holding:  # the rows went: the footer is drawn as usual
            bar.refresh(layout=True)

    def release(self) -> None:
        """The conversation is about to be laid out: the text gives back the rows
        it held when it ended, and the footer is drawn in its place again."""
        self.markdown.release()

    def set_footer(self, footer: str, *, cut: bool = False) -> None:
        """Show the reply's figures (or why it ended) under it, after its versions."""
        self.markdown.release()
        self._figures, self.footer = footer, self._shown(footer)
        self.query_one(ReplyFooter).update(self.footer, cut=cut)
