"""Chat history: round trips, migration, search, export/import, permissions, corruption."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from llamatui.tui.history.export import (
    AlreadyImported,
    ExportFormatError,
    import_json,
    to_json,
    to_markdown,
)
from llamatui.tui.history.schema import MIGRATIONS, SCHEMA_VERSION
from llamatui.tui.history.store import ReplyMeta, Store, StoreError

META = ReplyMeta(
    model="/models/SmolLM2-135M-Instruct.Q4_1.gguf",
    engine="llama.cpp",
    sampling={"temperature": 0.7, "top_k": 40},
    prompt_tokens=38,
    generated_tokens=120,
    tokens_per_s=165.5,
    ttft_s=0.081,
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "data" / "history.db")
    yield s
    s.close()


def fill(store: Store) -> int:
    cid = store.new_conversation("Dragons")
    store.add_message(cid, "user", "Tell me about dragons.")
    rid = store.add_message(cid, "assistant", "", status="streaming", meta=META)
    store.checkpoint_reply(rid, "Dragons are")
    store.finish_reply(rid, "Dragons are winged reptiles of legend.", "complete", META)
    return cid


def test_round_trip_keeps_every_field(store: Store) -> None:
    cid = fill(store)
    [conv] = store.conversations()
    assert (conv.id, conv.title, conv.renamed) == (cid, "Dragons", False)
    user, reply = store.messages(cid)
    assert (user.role, user.content, user.status) == ("user", "Tell me about dragons.", "complete")
    assert reply.role == "assistant"
    assert reply.content == "Dragons are winged reptiles of legend."
    assert reply.status == "complete"
    assert reply.meta == META
    assert store.message_count(cid) == 2
    assert store.messages(cid, last=1) == [reply]


def test_newest_first_rename_delete(store: Store) -> None:
    a = store.new_conversation("first")
    time.sleep(0.01)
    b = store.new_conversation("second")
    assert [c.id for c in store.conversations()] == [b, a]
    store.add_message(a, "user", "bump")
    assert [c.id for c in store.conversations()] == [a, b]
    store.rename(b, "Renamed")
    conv = store.conversation(b)
    assert conv is not None and conv.title == "Renamed" and conv.renamed
    store.delete(a)
    assert [c.id for c in store.conversations()] == [b]
    assert store.messages(a) == []
    assert store.search("bump") == []


def test_migration_from_the_first_schema(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    conn.execute("INSERT INTO conversations VALUES (1, 'old chat', 1.0, 2.0)")
    conn.execute("INSERT INTO messages VALUES (1, 1, 'user', 'an ancient question', 1.0)")
    conn.execute("INSERT INTO messages VALUES (2, 1, 'assistant', 'a venerable answer', 2.0)")
    conn.commit()
    conn.close()
    store = Store(path)
    try:
        assert store._conn().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        user, reply = store.messages(1)
        assert user.content == "an ancient question"
        assert reply.content == "a venerable answer" and reply.status == "complete"
        assert reply.meta == ReplyMeta()
        [hit] = store.search("venerable")
        assert hit.message_id == 2 and "«venerable»" in hit.snippet
    finally:
        store.close()


def test_search_finds_a_word_from_an_old_reply(store: Store) -> None:
    for i in range(30):
        cid = store.new_conversation(f"chat {i}")
        store.add_message(cid, "user", f"question number {i}")
        store.add_message(cid, "assistant", f"answer {i} mentions the word zephyr{i}")
    [hit] = store.search("zephyr7")
    assert hit.conversation_title == "chat 7" and hit.role == "assistant"
    assert len(store.search("answer mentions")) == 30
    # FTS syntax in user text is just text.
    assert store.search('zephyr" OR "x') == []
    assert store.search("NEAR(") == []


def test_stale_streaming_reply_is_marked_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    s = Store(path)
    cid = s.new_conversation("c")
    rid = s.add_message(cid, "assistant", "half a rep", status="streaming")
    s._conn().execute("UPDATE messages SET updated_at = 0 WHERE id = ?", (rid,))
    fresh = s.add_message(cid, "assistant", "still going", status="streaming")
    s.close()
    s = Store(path)
    statuses = {m.id: m.status for m in s.messages(cid)}
    assert statuses == {rid: "interrupted", fresh: "streaming"}
    s.close()


def test_export_then_import_gives_the_same_conversation(store: Store) -> None:
    cid = fill(store)
    conv = store.conversation(cid)
    assert conv is not None
    text = to_json(conv, store.messages(cid))
    with pytest.raises(AlreadyImported, match=f"as conversation {cid}"):
        import_json(store, text)  # it is there already
    new = import_json(store, text, again=True)
    assert new != cid
    a, b = store.messages(cid), store.messages(new)
    assert [(m.role, m.content, m.status, m.meta, m.created_at) for m in a] == [
        (m.role, m.content, m.status, m.meta, m.created_at) for m in b
    ]
    again = store.conversation(new)
    assert again is not None and again.title == conv.title
    md = to_markdown(conv, a)
    assert md.startswith("# Dragons\n")
    assert "## User\n\nTell me about dragons." in md
    assert "tokens_per_s: 165.5" in md


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        json.dumps({"format": "other"}),
        json.dumps(
            {"format": "llamatui.conversation", "messages": [{"role": "robot", "content": "x"}]}
        ),
    ],
)
def test_import_refuses_what_is_not_an_export(store: Store, text: str) -> None:
    with pytest.raises(ExportFormatError):
        import_json(store, text)
    assert store.conversations() == []


def test_files_are_private(store: Store) -> None:
    fill(store)
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(store.path) + suffix)
        assert p.exists(), p
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_corrupt_database_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    junk = os.urandom(64 * 1024)
    path.write_bytes(junk)
    s = Store(path)
    try:
        assert s.moved_aside is not None
        assert s.moved_aside.read_bytes() == junk
        assert s.moved_aside.name.startswith("history.db.corrupt-")
        assert s.quick_check()
        cid = s.new_conversation("fresh")
        assert s.conversation(cid) is not None
    finally:
        s.close()


def test_full_disk_is_a_store_error(tmp_path: Path) -> None:
    s = Store(tmp_path / "h.db")
    try:
        cid = s.new_conversation("c")
        s._conn().execute("PRAGMA max_page_count = 1")  # no room to grow
        with pytest.raises(StoreError, match="the disk is full"):
            s.add_message(cid, "user", "x" * 100_000)
        s._conn().execute("PRAGMA max_page_count = 1073741823")
        s.add_message(cid, "user", "fits again")
        assert [m.content for m in s.messages(cid)] == ["fits again"]
    finally:
        s.close()
