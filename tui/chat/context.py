"""What to send when a conversation no longer fits the model's context.

`trim` (the default) drops the oldest user/assistant turns, never the system prompt,
and drops down to 75% of the room in one go: the next few turns then fit without
trimming again, so the prompt's start (and llama.cpp's cached prefix) stays the same
between turns. `refuse` says so and sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from llamatui.engines.templates import ChatMessage

Policy = Literal["trim", "refuse"]
POLICIES: tuple[Policy, ...] = ("trim", "refuse")
TRIM_TO = 0.75


class ContextFull(Exception):
    """The next turn cannot be sent; the message says what to do."""


@dataclass(frozen=True)
class Fitted:
    """The messages to send, and how many older turns were left out."""

    messages: list[ChatMessage]
    dropped: int
    tokens: int


def reply_room(n_ctx: int, max_tokens: int) -> int:
    """Tokens kept free for the reply: its limit, but at most a quarter of the context."""
    return min(max_tokens, n_ctx // 4)


def fit_context(
    messages: list[ChatMessage],
    count: Callable[[list[ChatMessage]], int],
    n_ctx: int,
    room: int,
    policy: Policy,
) -> Fitted:
    """The messages that fit `n_ctx` with `room` tokens left for the reply.

    Raises:
        ContextFull: the policy is `refuse` and the conversation does not fit, or
            even the last message alone does not.
    """
    head = [m for m in messages[:1] if m["role"] == "system"]
    body = messages[len(head) :]
    tokens = count(messages)
    if tokens + room <= n_ctx:
        return Fitted(messages, 0, tokens)
    if policy == "refuse":
        raise ContextFull(
            f"The conversation is {tokens:,} tokens and the context holds {n_ctx:,} "
            f"(with {room:,} kept for the reply). Start a new conversation (Ctrl+N), or "
            "load the model with a larger context (--ctx, or ctx in its profile)."
        )
    target = int(n_ctx * TRIM_TO) - room
    dropped = 0
    # Drop whole turns from the oldest: up to and including the next user message's
    # reply, so what is sent still starts with a user turn.
    while len(body) > 1:
        cut = 1
        while cut < len(body) - 1 and body[cut]["role"] != "user":
            cut += 1
        body = body[cut:]
        dropped += cut
        tokens = count(head + body)
        if tokens <= target:
            break
    if tokens + room > n_ctx:
        raise ContextFull(
            f"Your message alone is {tokens:,} tokens with the system prompt, and the "
            f"context holds {n_ctx:,} (with {room:,} kept for the reply). Shorten it, "
            "or load the model with a larger context."
        )
    return Fitted(head + body, dropped, tokens)


def trim_notice(dropped: int, n_ctx: int) -> str:
    """What the user is told when old messages are left out to fit the context."""
    which = "oldest message is" if dropped == 1 else f"{dropped} oldest messages are"
    return (
        f"The {which} left out of what the model sees, so the conversation fits its "
        f'{n_ctx:,}-token context; the system prompt is kept. (context_policy = "trim"; '
        '"refuse" stops instead.)'
    )
