"""The conversations pane: saved conversations, newest first, search, rename and
delete. It owns its dealings with the history store; the chat screen hears which
conversation to open and which was deleted."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import MountError
from textual.widgets import Input, Label, ListItem, ListView

from llamatui.tui.chat.sanitize import strip_controls
from llamatui.tui.history.records import Conversation, SearchHit
from llamatui.tui.history.store import Store, StoreError
from llamatui.tui.screens.dialogs import ConfirmDialog, RenameDialog
from llamatui.tui.widgets.single_layout import SingleLayout


def _when(ts: float, now: float | None = None) -> str:
    """When a conversation last changed, with its day: "today 14:05", "yesterday
    09:12", "Tue 18:40" within the week, else the date."""
    now = time.time() if now is None else now
    days = (datetime.fromtimestamp(now).date() - datetime.fromtimestamp(ts).date()).days
    day = time.localtime(ts)
    clock = time.strftime("%H:%M", day)
    if days <= 0:
        return f"today {clock}"
    if days == 1:
        return f"yesterday {clock}"
    if days < 7:
        return time.strftime("%a %H:%M", day)
    return time.strftime("%Y-%m-%d", day)


class SearchBox(Input):
    """The search box: Esc clears it, and an empty one gives the focus back (the pane
    hides)."""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            event.stop()
            event.prevent_default()
            if self.value:
                self.value = ""
            else:
                await self.run_action("screen.toggle_conversations")
            return
        await super()._on_key(event)


class ItemLabel(Label, SingleLayout):
    """A line of a conversation in the list (placed in one layout, not two)."""


class ConversationItem(ListItem, SingleLayout):
    """A conversation in the list: one is added as a chat's first message is sent,
    while its reply begins (in one layout, not two)."""

    def __init__(self, conv: Conversation, *, current: bool) -> None:
        super().__init__(classes="-current" if current else "")
        self.conversation = conv

    def compose(self) -> ComposeResult:
        yield ItemLabel(Content(strip_controls(self.conversation.title)), classes="title")
        yield ItemLabel(Content(_when(self.conversation.updated_at)), classes="when")

    def show(self, conv: Conversation, *, current: bool) -> None:
        """Show `conv` (this conversation, as stored now): only what changed is redrawn."""
        self.set_class(current, "-current")
        before, self.conversation = self.conversation, conv
        if conv.title != before.title:
            self.query_one(".title", Label).update(Content(strip_controls(conv.title)))
        if _when(conv.updated_at) != _when(before.updated_at):
            self.query_one(".when", Label).update(Content(_when(conv.updated_at)))


# Words kept before the first match in a search result: the pane is narrow, and a
# match further along would be cut off.
LEAD = 12


def snippet_line(role: str, snippet: str) -> Content:
    """A search result's line: the match near its start and in bold (the store marks
    matches «like this»)."""
    text = " ".join(strip_controls(snippet).split())
    first = text.find("«")
    if first > LEAD:
        space = text.find(" ", first - LEAD, first)
        text = "…" + text[(space + 1 if space >= 0 else first) :]
    parts: list[tuple[str, str]] = [(f"{role}: ", "")]
    for i, piece in enumerate(text.replace("»", "«").split("«")):
        if piece:
            parts.append((piece, "bold underline" if i % 2 else ""))
    return Content.assemble(*parts)


class HitItem(ListItem):
    """A search result: the conversation and a snippet around the match."""

    def __init__(self, hit: SearchHit) -> None:
        super().__init__()
        self.hit = hit

    def compose(self) -> ComposeResult:
        yield Label(Content(strip_controls(self.hit.conversation_title)), classes="title")
        yield Label(snippet_line(self.hit.role, self.hit.snippet), classes="snippet")


class ConversationList(ListView):
    """The list, with keys to manage the highlighted conversation."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rename", "Rename", id="conversations.rename", tooltip="Rename"),
        Binding("delete,d", "delete", "Delete", id="conversations.delete", tooltip="Delete (asks)"),
    ]

    def _highlighted_conversation(self) -> Conversation | None:
        item = self.highlighted_child
        return item.conversation if isinstance(item, ConversationItem) else None

    def action_rename(self) -> None:
        conv = self._highlighted_conversation()
        if conv is not None:
            self.post_message(ConversationsPane.RenameRequested(conv))

    def action_delete(self) -> None:
        conv = self._highlighted_conversation()
        if conv is not None:
            self.post_message(ConversationsPane.DeleteRequested(conv))


class ConversationsPane(Vertical):
    """Saved conversations and full-text search over every message."""

    DEFAULT_CSS = """
    ConversationsPane {
        width: 34;
        dock: left;
        border-right: vkey $panel;
        & > Input { margin: 0 0 1 0; }
        & ListView { background: transparent; }
        & ListItem { padding: 0 1; }
        & ListItem.-current .title { text-style: bold; color: $accent; }
        & .when, & .snippet { color: $text-muted; }
        & .title, & .snippet { text-wrap: nowrap; text-overflow: ellipsis; }
    }
    """

    @dataclass
    class Opened(Message):
        """Open a conversation, at a message when one is given."""

        conversation_id: int
        message_id: int | None = None

    @dataclass
    class RenameRequested(Message):
        """The user asked to rename a conversation."""

        conversation: Conversation

    @dataclass
    class DeleteRequested(Message):
        """The user asked to delete a conversation."""

        conversation: Conversation

    @dataclass
    class Deleted(Message):
        """A conversation and its messages were deleted."""

        conversation_id: int

    def __init__(self, store: Store | None = None) -> None:
        super().__init__()
        self.store = store
        self.current: int | None = None
        """The conversation open in the chat, marked in the list."""

    def compose(self) -> ComposeResult:
        yield SearchBox(placeholder="Search all messages", id="conversation-search")
        yield ConversationList(id="conversation-list")

    @property
    def search_input(self) -> Input:
        """The search box."""
        return self.query_one("#conversation-search", Input)

    @property
    def list_view(self) -> ConversationList:
        """The list of conversations or search results."""
        return self.query_one(ConversationList)

    async def show_conversations(self, convs: list[Conversation], current: int | None) -> None:
        """List conversations (newest first).

        The list is shown again at the start and the end of every reply, while the
        model works: the items it has are updated and moved, not made anew (a
        history of hundreds would be hundreds of widgets mounted and laid out).
        """
        lv = self.list_view
        items = [c for c in lv.children if isinstance(c, ConversationItem)]
        if len(items) != len(lv.children):  # search results: the list anew
            await lv.clear()
            items = []
        ids = [c.id for c in convs]
        kept = set(ids)
        gone = [i for i, item in enumerate(items) if item.conversation.id not in kept]
        if gone:
            await lv.remove_items(gone)
        by_id = {item.conversation.id: item for item in items}
        for i, conv in enumerate(convs):
            item = by_id.get(conv.id)
            if item is None:
                await lv.insert(i, [ConversationItem(conv, current=conv.id == current)])
                continue
            item.show(conv, current=conv.id == current)
            if lv.children[i] is not item:
                lv.move_child(item, before=i)
        if convs:
            lv.index = ids.index(current) if current in ids else 0

    async def show_hits(self, hits: list[SearchHit], query: str = "") -> None:
        """List search results (or say there are none)."""
        lv = self.list_view
        await lv.clear()
        if not hits:
            none = Label(Content(f"No message matches “{strip_controls(query)}”."))
            await lv.append(ListItem(none, disabled=True, classes="no-hits"))
            return
        await lv.extend(HitItem(h) for h in hits)
        lv.index = 0

    async def refresh_list(self) -> None:
        """List the stored conversations again (unless a search is showing)."""
        if self.store is None or not self.display or self.search_input.value:
            return
        if not self.list_view.is_mounted:
            self.call_after_refresh(self.refresh_list)  # right after start-up
            return
        try:
            convs = self.store.conversations()
        except StoreError as e:
            self.notify(str(e), severity="error", markup=False)
            return
        # A quit right after a reply can close the app under this refresh.
        with contextlib.suppress(MountError):
            await self.show_conversations(convs, self.current)

    @on(Input.Changed, "#conversation-search")
    async def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.store is None:
            return
        if not event.value.strip():
            await self.refresh_list()
            return
        try:
            hits = self.store.search(event.value)
        except StoreError as e:
            self.notify(str(e), severity="error", markup=False)
            return
        await self.show_hits(hits, event.value.strip())

    @on(RenameRequested)
    @work(exclusive=True, group="dialog")
    async def _rename(self, event: RenameRequested) -> None:
        title = await self.app.push_screen_wait(RenameDialog(event.conversation.title))
        if title is None or self.store is None:
            return
        try:  # a write may wait for another copy of the app: never on the UI thread
            await asyncio.to_thread(self.store.rename, event.conversation.id, title)
        except StoreError as e:
            self.notify(str(e), severity="error", markup=False)
        await self.refresh_list()

    @on(DeleteRequested)
    @work(exclusive=True, group="dialog")
    async def _delete(self, event: DeleteRequested) -> None:
        conv = event.conversation
        question = f"Delete “{conv.title}” and all its messages? This cannot be undone."
        if not await self.app.push_screen_wait(ConfirmDialog(question)) or self.store is None:
            return
        try:
            await asyncio.to_thread(self.store.delete, conv.id)
        except StoreError as e:
            self.notify(str(e), severity="error", markup=False)
            return
        self.post_message(self.Deleted(conv.id))
        await self.refresh_list()

    @on(Input.Submitted, "#conversation-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.list_view.focus()
        if self.list_view.index is None and self.list_view.children:
            self.list_view.index = 0

    @on(ListView.Selected)
    def _selected(self, event: ListView.Selected) -> None:
        event.stop()
        item = event.item
        if isinstance(item, ConversationItem):
            self.post_message(self.Opened(item.conversation.id))
        elif isinstance(item, HitItem):
            self.post_message(self.Opened(item.hit.conversation_id, item.hit.message_id))
