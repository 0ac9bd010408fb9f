"""The conversations side of the chat screen: the pane, opening a stored conversation
(at a found message), search, rename and delete.

`ChatScreen` builds on this; it adds the engine, streaming and models.
"""

from __future__ import annotations

import contextlib

from textual import getters, on, work
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import MountError, Widget
from textual.widgets import Button

from llamatui.engines.templates import ChatMessage
from llamatui.tui.screens.dialogs import ConfirmDialog, RenameDialog
from llamatui.tui.store import Message as StoredMessage
from llamatui.tui.store import ReplyMeta, Store, StoreError
from llamatui.tui.widgets.chat_message import AssistantMessage, Notice, UserMessage
from llamatui.tui.widgets.conversations_pane import ConversationsPane
from llamatui.tui.widgets.prompt_input import PromptInput
from llamatui.tui.widgets.status_line import StatusLine

STATUS_NOTES = {"stopped": "stopped", "cut": "cut off", "interrupted": "interrupted"}

# Messages mounted when a conversation opens; earlier ones on request. Mounting
# is what costs: a 10,000-message conversation opens as fast as a 60-message one.
WINDOW = 20

# Of those, how many are drawn before the first frame.
FIRST_PAINT = 6

# The pane shows by default on terminals at least this wide.
PANE_MIN_WIDTH = 120


def reply_footer(meta: ReplyMeta, note: str) -> str:
    """The line under a reply: why it ended, if not normally, and its figures."""
    parts = [note] if note else []
    if meta.generated_tokens is not None:
        parts.append(f"{meta.generated_tokens} tokens")
    if meta.tokens_per_s is not None:
        parts.append(f"{meta.tokens_per_s:.1f} tok/s")
    if meta.ttft_s is not None:
        parts.append(f"TTFT {meta.ttft_s * 1000:.0f} ms")
    return " · ".join(parts)


class EarlierMessages(Button):
    """Shows how many messages are not mounted; pressing it mounts more."""


class ConversationsScreen(Screen[None]):
    """A screen with a conversation view and the stored conversations beside it."""

    conversation = getters.query_one("#conversation", VerticalScroll)
    prompt = getters.query_one("#prompt", PromptInput)
    status = getters.query_one("#status", StatusLine)
    pane = getters.query_one(ConversationsPane)

    def __init__(self, store: Store | None) -> None:
        super().__init__()
        self.store = store
        self.turns: list[ChatMessage] = []
        """The conversation as it is sent to the model."""
        self.conversation_id: int | None = None
        """The stored conversation on screen; None until its first message."""
        self.generating = False
        """Whether a reply is streaming."""
        self._history: list[StoredMessage] = []
        """The stored messages of the open conversation (for the earlier ones)."""
        self._shown_from = 0
        """Index in _history of the first mounted message."""
        self._dropped = 0
        """Oldest messages left out of what the model sees (to fit its context)."""

    def _notice(self, text: str, *, error: bool = False) -> None:
        self.conversation.mount(Notice(text, error=error))

    # Conversations ---------------------------------------------------------------

    async def _refresh_pane(self) -> None:
        if self.store is None or not self.pane.display or self.pane.search_input.value:
            return
        if not self.pane.list_view.is_mounted:
            self.call_after_refresh(self._refresh_pane)  # right after start-up
            return
        try:
            convs = self.store.conversations()
        except StoreError as e:
            self._notice(str(e), error=True)
            return
        # A quit right after a reply can close the app under this refresh.
        with contextlib.suppress(MountError):
            await self.pane.show_conversations(convs, self.conversation_id)

    @on(ConversationsPane.Opened)
    async def _opened(self, event: ConversationsPane.Opened) -> None:
        await self.open_conversation(event.conversation_id, event.message_id)

    async def open_conversation(self, conversation_id: int, message_id: int | None = None) -> None:
        """Show a stored conversation, at a message when given, and continue it."""
        if self.store is None:
            return
        if self.generating:
            self.notify("A reply is streaming: Esc stops it first.", severity="warning")
            return
        try:
            history = self.store.messages(conversation_id)
        except StoreError as e:
            self._notice(str(e), error=True)
            return
        self.conversation_id = conversation_id
        self._history = history
        self._dropped = 0
        self.turns = [
            {"role": m.role, "content": m.content}
            for m in history
            if m.role in ("user", "assistant") and m.content
        ]
        start = max(0, len(history) - WINDOW)
        if message_id is not None:
            at = next((i for i, m in enumerate(history) if m.id == message_id), start)
            start = min(start, max(0, at - 2))
            first = start
        else:
            # The last few messages fill the screen: draw those first, the rest of
            # the window right after, above them.
            first = max(start, len(history) - FIRST_PAINT)
        await self.conversation.remove_children()
        await self._mount_history(first)
        if first > start:
            self.call_after_refresh(self._mount_history, start)
        self.status.stats = None
        if message_id is not None:
            self._show_found(message_id)
        else:
            self.conversation.anchor()
            self.prompt.focus()
        await self._refresh_pane()

    async def _mount_history(self, start: int) -> None:
        """Mount messages from index `start` up to those already shown."""
        end = self._shown_from if self.conversation.children else len(self._history)
        widgets: list[Widget] = [self._widget_for(m) for m in self._history[start:end]]
        for old in self.conversation.query(EarlierMessages):
            await old.remove()
        if start > 0:
            widgets.insert(0, EarlierMessages(f"▲ {start:,} earlier messages"))
        first = self.conversation.children[0] if self.conversation.children else None
        if first is not None:
            await self.conversation.mount_all(widgets, before=first)
        else:
            await self.conversation.mount_all(widgets)
        self._shown_from = start

    def _widget_for(self, m: StoredMessage) -> UserMessage | AssistantMessage | Notice:
        widget: UserMessage | AssistantMessage | Notice
        if m.role == "user":
            widget = UserMessage(m.content)
        elif m.role == "assistant":
            note = STATUS_NOTES.get(m.status, "")
            widget = AssistantMessage(m.content, footer=reply_footer(m.meta, note), cut=bool(note))
        else:
            widget = Notice(f"{m.role}: {m.content}")
        widget.id = f"message-{m.id}"
        return widget

    @on(EarlierMessages.Pressed)
    async def _show_earlier(self) -> None:
        await self._mount_history(max(0, self._shown_from - WINDOW))

    def _show_found(self, message_id: int) -> None:
        widget = self.conversation.query_one(f"#message-{message_id}")
        widget.add_class("-found")
        # Anchored, a short conversation sits at the bottom with a negative scroll
        # offset, which scroll_to_widget does not undo: drop the anchor and start
        # from the top.
        self.conversation.anchor(False)

        def scroll() -> None:
            self.conversation.scroll_y = self.conversation.scroll_target_y = 0
            self.conversation.scroll_to_widget(widget, top=True, animate=False)

        # Markdown lays its blocks out after mounting: scroll once they are drawn,
        # and again a moment later, when heights above the message have settled.
        self.call_after_refresh(scroll)
        self.set_timer(0.2, scroll)

    @on(ConversationsPane.SearchChanged)
    async def _search(self, event: ConversationsPane.SearchChanged) -> None:
        if self.store is None:
            return
        if not event.text.strip():
            await self._refresh_pane()
            return
        try:
            hits = self.store.search(event.text)
        except StoreError as e:
            self._notice(str(e), error=True)
            return
        await self.pane.show_hits(hits)

    @on(ConversationsPane.RenameRequested)
    @work(exclusive=True, group="dialog")
    async def _rename(self, event: ConversationsPane.RenameRequested) -> None:
        title = await self.app.push_screen_wait(RenameDialog(event.conversation.title))
        if title is None or self.store is None:
            return
        try:
            self.store.rename(event.conversation.id, title)
        except StoreError as e:
            self._notice(str(e), error=True)
        await self._refresh_pane()

    @on(ConversationsPane.DeleteRequested)
    @work(exclusive=True, group="dialog")
    async def _delete(self, event: ConversationsPane.DeleteRequested) -> None:
        conv = event.conversation
        question = f"Delete “{conv.title}” and all its messages? This cannot be undone."
        if not await self.app.push_screen_wait(ConfirmDialog(question)) or self.store is None:
            return
        try:
            self.store.delete(conv.id)
        except StoreError as e:
            self._notice(str(e), error=True)
            return
        if conv.id == self.conversation_id:
            await self._clear()
        await self._refresh_pane()

    async def action_toggle_conversations(self) -> None:
        """Show or hide the conversations pane."""
        self.pane.display = not self.pane.display
        if self.pane.display:
            await self._refresh_pane()
            self.pane.list_view.focus()
        else:
            self.prompt.focus()

    async def action_search(self) -> None:
        """Open the pane with the cursor in the search box."""
        if not self.pane.display:
            self.pane.display = True
            await self._refresh_pane()
        self.pane.search_input.focus()

    async def _clear(self) -> None:
        self.turns.clear()
        self._dropped = 0
        self.conversation_id = None
        self._history = []
        self._shown_from = 0
        await self.conversation.remove_children()
        self.conversation.anchor()
        self.status.stats = None
        self.status.streamed = 0
