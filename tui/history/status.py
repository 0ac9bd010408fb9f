"""How a stored reply ended: the one vocabulary the store, the export, the recorder
and the screens share."""

from __future__ import annotations

from typing import Literal, get_args

from llamatui.engines.protocol import FinishReason

ReplyStatus = Literal["streaming", "complete", "stopped", "cut", "interrupted"]
STATUSES: frozenset[str] = frozenset(get_args(ReplyStatus))

STATUS_OF_FINISH: dict[FinishReason, ReplyStatus] = {
    "stop": "complete",
    "length": "cut",
    "context": "cut",
    "cancelled": "stopped",
}

# What the line under a reply says about how it ended; nothing for a complete one.
FINISH_NOTES: dict[FinishReason, str] = {
    "stop": "",
    "length": "cut off: reached the reply token limit",
    "context": "cut off: the context is full",
    "cancelled": "stopped",
}
STATUS_NOTES: dict[ReplyStatus, str] = {
    "streaming": "",  # another copy of the app is writing it now
    "complete": "",
    "stopped": "stopped",
    "cut": "cut off",
    "interrupted": "interrupted",
}
