"""The message that carries a session worker's event to the chat screen."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from llamatui.tui.chat import events as ev


@dataclass
class SessionEvent(Message, bubble=False):
    """Something a session worker reported, to the chat screen alone (several times
    a second while a reply streams: not passed on to the app, which has nothing to
    do with it)."""

    event: ev.Event

    def can_replace(self, message: Message) -> bool:
        # A newer count replaces one not yet shown.
        return (
            isinstance(message, SessionEvent)
            and isinstance(message.event, ev.ContextCounted)
            and isinstance(self.event, ev.ContextCounted)
        )
