"""What the keys do to a selected message: regenerate a reply (the old version
stays), edit and resend a message (a new branch), edit a reply, continue it, step
between versions, delete, copy it or its code blocks.

Every change is made in the history first (the tree of versions and branches in
`tui/history/tree.py`; written in a thread, as every write is, so a second copy of
the app holding the lock never freezes the keys), then the conversation is shown
again from it: what is on screen is always what is stored, and survives a restart.
"""

from __future__ import annotations

from asyncio import to_thread
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt

from llamatui.tui.chat.engines import Busy
from llamatui.tui.chat.reply import ReplyJob
from llamatui.tui.chat.sampling import ChatSettings
from llamatui.tui.history.records import Message as StoredMessage
from llamatui.tui.history.store import Store, StoreError
from llamatui.tui.history.tree import Deletion, deletion, step_version
from llamatui.tui.screens.dialogs import ConfirmDialog, EditDialog
from llamatui.tui.widgets.conversation_view import ChatMessage

if TYPE_CHECKING:
    from llamatui.tui.screens.chat import ChatScreen

COPIED = "over SSH and in tmux the terminal must allow OSC 52 (tmux: set-clipboard on)"


def code_blocks(text: str) -> list[str]:
    """The fenced and indented code blocks of Markdown text, in order."""
    tokens = MarkdownIt("commonmark").parse(text)
    return [t.content for t in tokens if t.type in ("fence", "code_block")]


class MessageActions:
    """The message actions of one chat screen."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self._code_at: dict[int, int] = {}  # per message: the code block copied last

    @property
    def store(self) -> Store | None:
        return self.screen.store

    def notify(self, text: str, *, warning: bool = False) -> None:
        self.screen.notify(text, severity="warning" if warning else "information", markup=False)

    async def run(self, action: str, widget: ChatMessage) -> None:
        """Do `action` to the message `widget` shows."""
        if action == "copy":
            return self._copy(widget.text, "the message")
        if action == "copy_code":
            return self._copy_code(widget)
        if action == "continue" and widget is self.screen.conversation.last_reply():
            return self.screen.action_continue_reply()
        if self.screen.session.generating:
            return self.notify("A reply is streaming: Esc stops it first.", warning=True)
        cid = self.screen.session.conversation_id
        if self.store is None or cid is None or widget.message_id is None:
            return self.notify(
                "This message is not in the history: it cannot change.", warning=True
            )
        try:
            tree = self.store.tree(cid)
            path = self.store.messages(cid)
        except StoreError as e:
            return self.notify(str(e), warning=True)
        at = next((i for i, m in enumerate(path) if m.id == widget.message_id), None)
        if at is None:
            return self.notify("That message is no longer in the conversation.", warning=True)
        try:
            await self._change(action, cid, tree, path, at)
        except (StoreError, Busy) as e:
            self.notify(str(e), warning=True)

    async def _change(
        self, action: str, cid: int, tree: list[StoredMessage], path: list[StoredMessage], at: int
    ) -> None:
        assert self.store is not None
        message = path[at]
        if action in ("previous", "next"):
            leaf = step_version(tree, message.id, -1 if action == "previous" else 1)
            if leaf is None:
                n, total = message.version
                return self.notify(f"This is version {n} of {total}.")
            await to_thread(self.store.set_leaf, cid, leaf)
            await self.reopen(select=at)
        elif action == "regenerate":
            if message.role == "user":  # its reply, another version
                at += 1
            if at == 0 or at > len(path) or path[at - 1].role != "user":
                return self.notify("There is no reply to regenerate here.", warning=True)
            await self._regenerate(cid, path[:at])
        elif action == "edit":
            await self._edit(cid, message, path[:at])
        elif action == "continue":  # a reply further up: a new version of it goes on
            if message.role != "assistant":
                return self.notify("Select a reply to continue.", warning=True)
            await to_thread(self.store.edit_version, message.id, message.content)
            await self.reopen(select=at)
            self.screen.action_continue_reply()
            self.notify("Continuing it as a new version: what followed the old one stays.")
        elif action == "delete":
            gone = deletion(tree, message.id, path[-1].id)  # the path ends at the leaf
            if gone is None:
                return self.notify("The system prompt is changed in the settings (F4).")

            async def confirmed(yes: bool | None) -> None:
                if yes and self.store is not None:
                    try:
                        await to_thread(self.store.delete_messages, cid, gone)
                    except StoreError as e:
                        return self.notify(str(e), warning=True)
                    await self.reopen(select=max(0, at - 1))

            self.screen.app.push_screen(ConfirmDialog(f"Delete {gone.what}?"), confirmed)

    async def _regenerate(self, cid: int, upto: list[StoredMessage]) -> None:
        """Another reply to the last message of `upto` (a user's)."""
        screen = self.screen
        session = screen.session
        session.open(cid, upto, session.chat)
        job = session.regenerate(upto[-1].id)
        await screen.conversation.show_history(upto)
        await screen.start_streaming(job, None)

    async def _edit(self, cid: int, message: StoredMessage, before: list[StoredMessage]) -> None:
        """Edit a user's message and send it as a new branch, or edit a reply (a new
        version of it, to continue from)."""
        screen = self.screen
        user = message.role == "user"
        title = "Edit and resend (a new branch; the old one stays)" if user else "Edit the reply"

        async def edited(text: str | None) -> None:
            if text is None or text == message.content or self.store is None:
                return
            if user:
                session = screen.session
                try:
                    session.open(cid, before, session.chat)
                    job = session.send(text, parent=message.parent_id)
                except Busy as e:
                    return self.notify(str(e), warning=True)
                await screen.conversation.show_history(before)
                await screen.start_streaming(job, text)
                return
            try:
                await to_thread(self.store.edit_version, message.id, text)
            except StoreError as e:
                return self.notify(str(e), warning=True)
            await self.reopen(select=len(before))
            self.notify("Saved as a new version: t or Ctrl+T continues it.")

        screen.app.push_screen(EditDialog(title, message.content), edited)

    async def reopen(self, *, select: int | None = None) -> None:
        """Show the open conversation again as stored (keeping the figures of the
        last reply), selecting the message at `select`."""
        screen = self.screen
        session = screen.session
        cid = session.conversation_id
        if self.store is None or cid is None or session.generating:
            return  # while a reply streams, its end shows the conversation again
        stats, cut = session.last_stats, session.cut
        try:
            conv = self.store.conversation(cid)
            history = self.store.messages(cid)
        except StoreError as e:
            return self.notify(str(e), warning=True)
        if conv is None:  # deleted from the pane meanwhile
            return await screen.action_new_chat()
        session.open(cid, history, ChatSettings.from_data(conv.settings))
        session.last_stats, session.cut = stats, cut
        chat = [m for m in history[: (select or 0) + 1] if m.role in ("user", "assistant")]
        chat = chat or [m for m in history if m.role in ("user", "assistant")][:1]
        wanted = chat[-1].id if select is not None and chat else None
        await screen.conversation.show_history(history, wanted, mark=False)
        await screen.shown_again()
        if wanted is not None:
            view = screen.conversation
            view.focus()
            view.call_after_refresh(view.select_id, wanted)

    async def discard(self, job: ReplyJob) -> None:
        """Take away a new version of a reply that ended with no text, and show the
        path as it was before it."""
        cid = job.conversation_id
        if self.store is None or cid is None or job.reply_id is None:
            return
        empty = Deletion((job.reply_id,), (), job.leaf_before, "")
        try:
            await to_thread(self.store.delete_messages, cid, empty)
        except StoreError as e:
            self.notify(str(e), warning=True)

    def _copy(self, text: str, what: str) -> None:
        self.screen.app.copy_to_clipboard(text)
        self.notify(f"Copied {what} ({len(text):,} characters): {COPIED}.")

    def _copy_code(self, widget: ChatMessage) -> None:
        blocks = code_blocks(widget.text)
        if not blocks:
            return self.notify("This message has no code block.", warning=True)
        key = widget.message_id if widget.message_id is not None else id(widget)
        n = (self._code_at.get(key, -1) + 1) % len(blocks)
        self._code_at[key] = n
        self._copy(blocks[n], f"code block {n + 1} of {len(blocks)}")
