"""The history as a tree (issue 12): versions of a reply, edited messages as
branches, the path shown, deleting, a database from before branches migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from llamatui.tui.history.export import to_json, to_markdown
from llamatui.tui.history.records import ReplyMeta
from llamatui.tui.history.schema import MIGRATIONS
from llamatui.tui.history.store import Store
from llamatui.tui.history.tree import deletion, step_version


def exchange(store: Store, cid: int | None, prompt: str, reply: str) -> tuple[int, int, int]:
    cid, pid, rid = store.save_prompt(cid, prompt, ReplyMeta())
    store.finish_reply(rid, reply, "complete", ReplyMeta())
    return cid, pid, rid


def texts(store: Store, cid: int) -> list[str]:
    return [m.content for m in store.messages(cid)]


def test_versions_and_branches_keep_every_path(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    cid, p1, _ = exchange(store, None, "one?", "first")
    _, p2, _ = exchange(store, cid, "two?", "second")
    # Another version of the last reply: a sibling of r2, now on the path.
    r2b = store.add_message(cid, "assistant", "second, again", parent=p2)
    assert texts(store, cid) == ["one?", "first", "two?", "second, again"]
    assert store.messages(cid)[-1].version == (2, 2)
    # The first question edited: a new branch from the start, the old one kept.
    _, p1b, r1b = store.save_prompt(cid, "one, edited?", ReplyMeta(), parent=None)
    store.finish_reply(r1b, "first, edited", "complete", ReplyMeta())
    assert texts(store, cid) == ["one, edited?", "first, edited"]
    assert store.messages(cid)[0].version == (2, 2)
    tree = store.tree(cid)
    # Back to the first version of the question: its newest branch comes back.
    leaf = step_version(tree, p1b, -1)
    assert leaf == r2b
    store.set_leaf(cid, leaf)
    assert texts(store, cid) == ["one?", "first", "two?", "second, again"]
    assert step_version(tree, p1, -1) is None  # there is none before the first
    store.set_leaf(cid, step_version(tree, r2b, -1))
    assert texts(store, cid)[-1] == "second"
    store.close()
    # All of it survives a reopen: the path chosen, every version.
    again = Store(tmp_path / "h.db")
    assert texts(again, cid) == ["one?", "first", "two?", "second"]
    assert len(again.tree(cid)) == 7
    again.close()


def test_deleting_a_version_or_an_exchange(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    cid, _, r1 = exchange(store, None, "one?", "first")
    _, p2, r2 = exchange(store, cid, "two?", "second")
    _, p3, r3 = exchange(store, cid, "three?", "third")
    r2b = store.add_message(cid, "assistant", "second, again", parent=p2)
    conv = store.conversation(cid)
    assert conv is not None and conv.leaf_id == r2b
    # A reply with another version goes alone; the path moves to the other.
    gone = deletion(store.tree(cid), r2b, r2b)
    assert gone is not None and gone.ids == (r2b,) and gone.what == "this version of the reply"
    store.delete_messages(cid, gone)
    assert texts(store, cid) == ["one?", "first", "two?", "second", "three?", "third"]
    # An exchange in the middle: what followed joins the message before it.
    gone = deletion(store.tree(cid), p2, r3)
    assert gone is not None and set(gone.ids) == {p2, r2} and gone.adopt == ((p3, r1),)
    assert gone.what == "this message and its reply"
    store.delete_messages(cid, gone)
    assert texts(store, cid) == ["one?", "first", "three?", "third"]
    # The last exchange, chosen by its reply: the path ends where it came from.
    gone = deletion(store.tree(cid), r3, r3)
    assert gone is not None and gone.leaf == r1
    store.delete_messages(cid, gone)
    assert texts(store, cid) == ["one?", "first"]
    store.close()


def test_deleting_an_edited_message_takes_its_branch_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    cid, _, r1 = exchange(store, None, "one?", "first")
    _, p2, _ = exchange(store, cid, "two?", "second")
    _, p2b, _ = store.save_prompt(cid, "two, edited?", ReplyMeta(), parent=r1)
    _, _, r3 = exchange(store, cid, "three?", "third")
    gone = deletion(store.tree(cid), p2b, r3)
    assert gone is not None and gone.adopt == () and len(gone.ids) == 4
    assert gone.what == "this version of the message and the 3 messages after it"
    store.delete_messages(cid, gone)
    path = store.messages(cid)
    assert [m.content for m in path] == ["one?", "first", "two?", "second"]
    assert path[2].id == p2 and path[2].version == (1, 1)  # no stranger as a version
    store.close()


def test_an_edited_reply_is_a_new_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    cid, _, rid = store.save_prompt(None, "Name a fruit.", ReplyMeta(model="llamacpp:/m"))
    store.finish_reply(rid, "Apple", "complete", ReplyMeta(generated_tokens=2, tokens_per_s=9.0))
    new = store.edit_version(rid, "Banana, and")
    path = store.messages(cid)
    assert [m.content for m in path] == ["Name a fruit.", "Banana, and"]
    assert path[-1].id == new and path[-1].version == (2, 2)
    # Where it came from stays; the old text's figures do not.
    assert path[-1].meta == ReplyMeta(model="llamacpp:/m")
    store.close()


def test_a_system_prompt_taken_away_stays_away(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    cid, _, _ = exchange(store, None, "Hi.", "Hello.")
    store.set_settings(cid, {}, "")  # none stored, the model's profile has one: cleared
    first = store.messages(cid)[0]
    assert (first.role, first.content) == ("system", "")
    assert [m.content for m in store.messages(cid)[1:]] == ["Hi.", "Hello."]
    store.close()


def test_a_database_from_before_branches_keeps_its_order(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for step in MIGRATIONS[:2]:
        conn.executescript(step)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO conversations VALUES (1, 'old', 1.0, 2.0, 0)")
    for i, (role, text) in enumerate([("user", "a"), ("assistant", "b"), ("user", "c")]):
        conn.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at, updated_at)"
            " VALUES (1, ?, ?, ?, ?)",
            (role, text, 1.0 + i, 1.0 + i),
        )
    conn.commit()
    conn.close()
    store = Store(path)
    assert texts(store, 1) == ["a", "b", "c"]
    assert [m.parent_id for m in store.messages(1)] == [None, 1, 2]
    store.add_message(1, "assistant", "d")
    assert texts(store, 1) == ["a", "b", "c", "d"]
    store.close()


def test_the_export_shows_the_chosen_path_and_the_settings(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    cid, pid, _ = exchange(store, None, "Name a colour.", "Red")
    store.add_message(cid, "assistant", "Blue", parent=pid)
    store.set_settings(cid, {"preset": "precise", "seed": 7}, "Be brief.")
    conv = store.conversation(cid)
    assert conv is not None and conv.settings == {"preset": "precise", "seed": 7}
    messages = store.messages(cid)
    assert [m.content for m in messages] == ["Be brief.", "Name a colour.", "Blue"]
    md = to_markdown(conv, messages)
    assert "Red" not in md and "Blue" in md
    assert "version 2 of 2" in md and "preset: precise" in md and "seed: 7" in md
    data = to_json(conv, messages)
    assert '"seed": 7' in data and '"version": [\n        2,\n        2\n      ]' in data
    store.close()
