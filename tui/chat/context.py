"""What is sent to the model: the conversation's turns, and what is left out when
they no longer fit its context.

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


def to_send(system: str | None, turns: list[ChatMessage]) -> list[ChatMessage]:
    """The system prompt and the turns, as the model is asked for a reply."""
    sent: list[ChatMessage] = [{"role": "system", "content": system}] if system else []
    for turn in turns:
        # A message whose reply was stopped before it began has no answer: it joins
        # the next one, since many templates insist that roles alternate.
        if sent and sent[-1]["role"] == turn["role"] == "user":
            sent[-1] = {"role": "user", "content": f"{sent[-1]['content']}\n\n{turn['content']}"}
        else:
            sent.append(turn)
    return sent


NO_ROOM_TO_CONTINUE = (
    "This reply and the message it answers fill the context: there is no room to "
    "continue it. Ctrl+N starts a new conversation; a larger context (--ctx, or ctx in "
    "the model's profile) gives it room."
)


def continuable(finish: str, earlier_turns: bool, policy: Policy) -> bool:
    """Whether a reply that ended so can be carried on: cut by its token limit, or by
    the full context where older turns can be left out to make room ("trim"; a reply
    that filled the context with only its question before it has no room to go on)."""
    return finish == "length" or (finish == "context" and earlier_turns and policy == "trim")


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
    *,
    continuing: bool = False,
) -> Fitted:
    """The messages that fit `n_ctx` with `room` tokens left for the reply.

    `continuing`: the last message is a reply being carried on; it and the message
    it answers stay together.

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
    keep = 2 if continuing else 1  # the last user message, and the reply carried on
    while len(body) > keep:
        cut = 1
        while cut < len(body) - keep and body[cut]["role"] != "user":
            cut += 1
        body = body[cut:]
        dropped += cut
        tokens = count(head + body)
        if tokens <= target:
            break
    if tokens + room > n_ctx and continuing:
        raise ContextFull(
            f"This reply and the message it answers are {tokens:,} tokens with the system "
            f"prompt, and the context holds {n_ctx:,} (with {room:,} kept for more): there "
            "is no room to continue it. Load the model with a larger context (--ctx, or "
            "ctx in its profile)."
        )
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
