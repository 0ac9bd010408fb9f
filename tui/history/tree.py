"""A conversation as a tree: each message hangs under the one it answers or follows.

A regenerated reply is another child of the same user message, an edited message
another child of the same parent: its versions. The conversation on screen is one
path, from the first message to the conversation's leaf; stepping to another version
follows that version's newest branch down. Pure functions over stored messages.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from llamatui.tui.history.records import Message


def children_of(tree: list[Message]) -> dict[int | None, list[Message]]:
    """Each message's children, oldest first (by id), keyed by parent (None: roots)."""
    kids: dict[int | None, list[Message]] = defaultdict(list)
    for m in sorted(tree, key=lambda m: m.id):
        kids[m.parent_id].append(m)
    return kids


def versions_of(tree: list[Message], message: Message) -> list[Message]:
    """The versions of a message: its siblings of the same role, itself included."""
    kids = children_of(tree)[message.parent_id]
    return [m for m in kids if m.role == message.role]


def newest_leaf(tree: list[Message], start: int) -> int:
    """The end of the newest branch below `start` (itself when it has no children)."""
    kids = children_of(tree)
    while kids.get(start):
        start = kids[start][-1].id
    return start


def path_to(tree: list[Message], leaf: int | None) -> list[Message]:
    """The messages from the first to `leaf`, each with its version; the newest
    branch when `leaf` is None or not in the tree."""
    by_id = {m.id: m for m in tree}
    if not by_id:
        return []
    kids = children_of(tree)
    if leaf not in by_id:
        roots = kids[None]
        leaf = newest_leaf(tree, roots[-1].id) if roots else max(by_id)
    path: list[Message] = []
    seen: set[int] = set()
    at: int | None = leaf
    while at is not None and at in by_id and at not in seen:  # a loop cannot hang it
        seen.add(at)
        m = by_id[at]
        same = [k for k in kids[m.parent_id] if k.role == m.role]
        path.append(replace(m, version=(same.index(m) + 1, len(same))))
        at = m.parent_id
    path.reverse()
    return path


def step_version(tree: list[Message], message_id: int, step: int) -> int | None:
    """The leaf to show for the version `step` away from message `message_id` (-1 the
    one before, +1 the one after); None when there is none that way."""
    message = next((m for m in tree if m.id == message_id), None)
    if message is None:
        return None
    same = versions_of(tree, message)
    i = same.index(message) + step
    if not 0 <= i < len(same):
        return None
    return newest_leaf(tree, same[i].id)


@dataclass(frozen=True)
class Deletion:
    """What deleting a message takes away, and how the rest hangs together after."""

    ids: tuple[int, ...]
    """The messages deleted."""
    adopt: tuple[tuple[int, int | None], ...]
    """(message, new parent) for the messages that followed them and stay."""
    leaf: int | None
    """The leaf to show after."""
    what: str
    """What is deleted, in words, for the confirmation."""


def deletion(tree: list[Message], message_id: int, leaf: int | None) -> Deletion | None:
    """What deleting message `message_id` means.

    A reply or a message with other versions goes alone, with what followed it on
    its branch (that branch answered this version). Otherwise the exchange goes: the
    user's message with its replies (every version); what followed them joins the
    message before, so the turns still alternate, as chat templates require.
    """
    by_id = {m.id: m for m in tree}
    message = by_id.get(message_id)
    if message is None:
        return None
    kids = children_of(tree)

    def below(start: int) -> list[int]:
        out, todo = [], [start]
        while todo:
            at = todo.pop()
            out.append(at)
            todo += [k.id for k in kids.get(at, [])]
        return out

    on_path = {m.id for m in path_to(tree, leaf)}

    def version_alone(message: Message, what: str) -> Deletion:
        # What followed it answered this version: it goes too.
        ids = below(message.id)
        others = [m for m in versions_of(tree, message) if m.id != message.id]
        new_leaf = newest_leaf(tree, others[-1].id) if message.id in on_path else leaf
        n = len(ids) - 1
        what += f" and the {n} messages after it" if n else ""
        return Deletion(tuple(ids), (), new_leaf, what)

    if message.role == "assistant" and len(versions_of(tree, message)) > 1:
        return version_alone(message, "this version of the reply")
    if message.role == "assistant" and message.parent_id in by_id:
        message = by_id[message.parent_id]  # the exchange it answers
    if message.role == "system":
        return None
    if len(versions_of(tree, message)) > 1:  # an edited message: its own branch goes
        return version_alone(message, "this version of the message")
    replies = kids.get(message.id, [])
    ids = [message.id, *(r.id for r in replies)]
    adopt = tuple((k.id, message.parent_id) for r in replies for k in kids.get(r.id, []))
    new_leaf = leaf
    if leaf in ids:  # the path ended in it: it ends where it came from, or a sibling
        others = [m for m in kids[message.parent_id] if m.id != message.id]
        new_leaf = newest_leaf(tree, others[-1].id) if others else message.parent_id
    what = "this message and its reply" if replies else "this message"
    if len(replies) > 1:
        what = f"this message and its {len(replies)} versions of the reply"
    return Deletion(tuple(ids), adopt, new_leaf, what)
