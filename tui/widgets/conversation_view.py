"""The conversation on screen: stored messages mounted a window at a time, notices,
and the reply that streams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Static

from llamatui.engines.refs import ModelRef
from llamatui.tui.history.records import Message as StoredMessage
from llamatui.tui.history.records import ReplyMeta
from llamatui.tui.history.status import STATUS_NOTES
from llamatui.tui.widgets.chat_message import (
    AssistantMessage,
    Notice,
    ReplyFooter,
    UserMessage,
)
from llamatui.tui.widgets.reply_text import ReplyText
from llamatui.tui.widgets.single_layout import SingleLayout

# Messages mounted when a conversation opens; earlier ones on request. Mounting
# is what costs: a 10,000-message conversation opens as fast as a 60-message one.
WINDOW = 20

# Of those, how many are drawn before the first frame.
FIRST_PAINT = 6


def reply_footer(meta: ReplyMeta, note: str) -> str:
    """The line under a reply: why it ended, if not normally, the model that wrote
    it (a conversation may change models), and its figures."""
    parts = [note] if note else []
    if meta.model:
        parts.append(ModelRef.parse(meta.model).name)
    if meta.generated_tokens is not None:
        parts.append(f"{meta.generated_tokens} tokens")
    if meta.tokens_per_s is not None:
        parts.append(f"{meta.tokens_per_s:.1f} tok/s")
    if meta.ttft_s is not None:
        parts.append(f"TTFT {meta.ttft_s * 1000:.0f} ms")
    return " · ".join(parts)


WELCOME = (
    "Type a message and press Enter to send it (Shift+Enter or Ctrl+J starts a new "
    "line).\nF1 shows the keys · Ctrl+L the models · F2 your conversations · Ctrl+P "
    "every command · Ctrl+Q quits"
)


class Welcome(Static, SingleLayout):
    """What an empty conversation says: how to start, and where the keys are."""

    DEFAULT_CSS = """
    Welcome { margin: 1 0 0 0; padding: 0 1; color: $text-muted; }
    """


class EarlierMessages(Button):
    """Shows how many messages are not mounted; pressing it mounts more."""


ChatMessage = UserMessage | AssistantMessage


def _act(key: str, action: str, description: str, tooltip: str, *, show: bool = True) -> Binding:
    return Binding(
        key, f"act('{action}')", description, id=f"messages.{action}", tooltip=tooltip, show=show
    )


MESSAGE_BINDINGS: list[BindingType] = [
    Binding("up,k", "move(-1)", "Earlier", id="messages.up", show=False,
            tooltip="Select the message before"),
    Binding("down,j", "move(1)", "Later", id="messages.down", show=False,
            tooltip="Select the message after"),
    Binding("escape", "leave", "Back", id="messages.leave", tooltip="Back to the prompt"),
    _act("r", "regenerate", "Regenerate", "Another version of the reply (the others stay)"),
    _act("e", "edit", "Edit", "Edit and resend a message (a new branch), or edit a reply"),
    _act("t", "continue", "Continue", "Continue the reply (one further up: as a new version)"),
    _act("left,h", "previous", "← Version", "The version before", show=False),
    _act("right,l", "next", "Version →", "The version after", show=False),
    _act("c", "copy", "Copy", "Copy the message (OSC 52: works over SSH)"),
    _act("b", "copy_code", "Copy code", "Copy its code blocks, one per press", show=False),
    _act("d,delete", "delete", "Delete", "Delete the message (asks first)"),
]  # fmt: skip


class ConversationView(VerticalScroll, SingleLayout):
    """The messages of one conversation, anchored to the bottom while it grows.

    Focused (F3, or Tab), it selects a message: the keys of MESSAGE_BINDINGS move
    the selection and act on it (the screen does what each action means)."""

    BINDINGS: ClassVar[list[BindingType]] = MESSAGE_BINDINGS
    # A click (to scroll, to select text) must not arm the one-letter action keys:
    # F3 or Tab does.
    FOCUS_ON_CLICK = False

    @dataclass
    class Act(Message):
        """The user asked for an action on the selected message."""

        action: str
        message: ChatMessage

    class Leave(Message):
        """The user is done with the messages: back to the prompt."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.selected: ChatMessage | None = None
        """The message the keys act on, while the view has the focus."""
        self.pending_user: UserMessage | None = None
        """The user's message last sent, until its id is known."""
        self._history: list[StoredMessage] = []
        """The stored messages of the open conversation (for the earlier ones)."""
        self._shown_from = 0
        """Index in _history of the first mounted message."""

    def compose(self) -> ComposeResult:
        yield Welcome(WELCOME, markup=False)

    def on_mount(self) -> None:
        # Textual adds a widget class's styles when its first widget is mounted, and
        # then parses the whole stylesheet again: for the messages, that was at the
        # first prompt (about 2 ms, while the model starts its reply). Now, with the
        # app's.
        reply = ReplyText()
        for widget in (
            UserMessage(""),
            AssistantMessage(),
            reply,
            ReplyFooter("", reply),
            Notice(""),
        ):
            for read_from, css, tie_breaker, scope in widget._get_default_css():
                self.app.stylesheet.add_source(
                    css,
                    read_from=read_from,
                    is_default_css=True,
                    tie_breaker=tie_breaker,
                    scope=scope,
                )
        self.app.stylesheet.parse()

    def notice(self, text: str, *, error: bool = False) -> None:
        """Tell the user something, inside the conversation."""
        self._release_last()
        self.mount(Notice(text, error=error))

    def _release_last(self) -> None:
        """Something is mounted below the last reply, in a layout: the rows it held
        when it ended go in that same layout."""
        if (reply := self.last_reply()) is not None:
            reply.release()

    async def start_reply(self, prompt: str | None) -> AssistantMessage:
        """Show the user's message (None: another version of the reply to the last
        one shown) and an empty reply to stream into."""
        reply = AssistantMessage()
        self._release_last()
        self.anchor()
        await self.query(Welcome).remove()
        self.pending_user = UserMessage(prompt) if prompt is not None else None
        await self.mount_all([self.pending_user, reply] if self.pending_user else [reply])
        reply.begin()
        return reply

    def last_reply(self) -> AssistantMessage | None:
        """The reply shown last, if the conversation ends with one."""
        shown = self.chat_messages()
        return shown[-1] if shown and isinstance(shown[-1], AssistantMessage) else None

    # Selecting a message ------------------------------------------------------------

    def chat_messages(self) -> list[ChatMessage]:
        """The user's messages and the replies shown, in order."""
        return [w for w in self.children if isinstance(w, UserMessage | AssistantMessage)]

    def select(self, message: ChatMessage | None) -> None:
        """Mark `message` as the one the keys act on, and show it."""
        if self.selected is not None:
            self.selected.remove_class("-selected")
        self.selected = message
        if message is not None:
            message.add_class("-selected")
            if self.virtual_size.height <= self.size.height:
                return  # all of it in view, anchored at the bottom: nothing to scroll
            self.anchor(False)
            self.scroll_to_widget(
                message, animate=False, top=message.size.height > self.size.height
            )

    def select_at(self, index: int) -> None:
        """Select the message at `index` (clamped; -1 is the last)."""
        shown = self.chat_messages()
        if shown:
            self.select(shown[max(0, min(index, len(shown) - 1))] if index >= 0 else shown[-1])

    def select_id(self, message_id: int) -> None:
        """Select the stored message `message_id` (the last one if it is not shown)."""
        shown = self.chat_messages()
        found = next((w for w in shown if w.message_id == message_id), None)
        if found is None:
            self.select_at(-1)
        else:
            self.select(found)

    def on_focus(self) -> None:
        if self.selected is None or self.selected not in self.chat_messages():
            self.select_at(-1)

    def on_blur(self) -> None:
        self.select(None)

    def action_move(self, step: int) -> None:
        """Select the message `step` away."""
        shown = self.chat_messages()
        if self.selected in shown:
            self.select_at(shown.index(self.selected) + step)
        else:
            self.select_at(-1)

    def action_leave(self) -> None:
        """Back to the prompt."""
        self.post_message(self.Leave())

    def action_act(self, action: str) -> None:
        """Ask the screen to act on the selected message (the last, if none is)."""
        if self.selected is None or self.selected not in self.chat_messages():
            self.select_at(-1)
        if self.selected is not None:
            self.post_message(self.Act(action, self.selected))

    def resume(self, reply: AssistantMessage | None) -> None:
        """More of `reply` will stream (it continues): follow it."""
        self.anchor()
        if reply is not None:
            reply.begin()

    async def clear(self) -> None:
        """Remove every message."""
        self._history = []
        self._shown_from = 0
        self.selected = self.pending_user = None
        await self.remove_children()
        await self.mount(Welcome(WELCOME, markup=False))
        self.anchor()

    async def show_history(
        self, history: list[StoredMessage], at: int | None = None, *, mark: bool = True
    ) -> None:
        """Show a stored conversation: its last messages, or those around message `at`
        (when `mark`, marked as found and scrolled to; else the view stays at the
        bottom, for the selection to show it)."""
        self._history = history
        self.selected = self.pending_user = None
        start = max(0, len(history) - WINDOW)
        if at is not None:
            found = next((i for i, m in enumerate(history) if m.id == at), start)
            start = min(start, max(0, found - 2))
            first = start
        else:
            # The last few messages fill the screen: draw those first, the rest of
            # the window right after, above them.
            first = max(start, len(history) - FIRST_PAINT)
        await self.remove_children()
        await self._mount_history(first)
        if first > start:
            self.call_after_refresh(self._mount_history, start)
        if at is not None and mark:
            self._show_found(at)
        else:
            self.anchor()
        if self.has_focus and at is None:  # shown again while the keys act on a message
            self.call_after_refresh(self.select_at, -1)

    async def _mount_history(self, start: int) -> None:
        """Mount messages from index `start` up to those already shown."""
        end = self._shown_from if self.children else len(self._history)
        shown = [m for m in self._history[start:end] if m.content or m.role != "system"]
        widgets: list[Widget] = [_widget_for(m) for m in shown]
        for old in self.query(EarlierMessages):
            await old.remove()
        if start > 0:
            widgets.insert(0, EarlierMessages(f"▲ {start:,} earlier messages"))
        first = self.children[0] if self.children else None
        if first is not None:
            await self.mount_all(widgets, before=first)
        else:
            await self.mount_all(widgets)
        self._shown_from = start

    @on(EarlierMessages.Pressed)
    async def _show_earlier(self) -> None:
        await self._mount_history(max(0, self._shown_from - WINDOW))

    def _show_found(self, message_id: int) -> None:
        widget = self.query_one(f"#message-{message_id}")
        widget.add_class("-found")
        # Anchored, a short conversation sits at the bottom with a negative scroll
        # offset, which scroll_to_widget does not undo: drop the anchor and start
        # from the top.
        self.anchor(False)

        def scroll() -> None:
            self.scroll_y = self.scroll_target_y = 0
            self.scroll_to_widget(widget, top=True, animate=False)

        # Markdown lays its blocks out after mounting: scroll once they are drawn,
        # and again a moment later, when heights above the message have settled.
        self.call_after_refresh(scroll)
        self.set_timer(0.2, scroll)


def _widget_for(m: StoredMessage) -> UserMessage | AssistantMessage | Notice:
    widget: UserMessage | AssistantMessage | Notice
    if m.role == "user":
        widget = UserMessage(m.content, message_id=m.id, version=m.version)
    elif m.role == "assistant":
        note = STATUS_NOTES[m.status]
        footer = reply_footer(m.meta, note)
        widget = AssistantMessage(
            m.content, footer=footer, cut=bool(note), message_id=m.id, version=m.version
        )
    else:
        widget = Notice(f"System prompt: {m.content}" if m.role == "system" else m.content)
    widget.id = f"message-{m.id}"
    return widget
