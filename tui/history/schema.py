"""The history database's schema, as migration steps keyed on `PRAGMA user_version`."""

from __future__ import annotations

# Each step takes the schema from version i to i + 1.
MIGRATIONS: list[str] = [
    # 1: conversations and their messages.
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    """,
    # 2: what each reply came from and how it went; renamed titles; full-text search.
    """
    ALTER TABLE conversations ADD COLUMN renamed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'complete';
    ALTER TABLE messages ADD COLUMN updated_at REAL;
    ALTER TABLE messages ADD COLUMN model TEXT;
    ALTER TABLE messages ADD COLUMN engine TEXT;
    ALTER TABLE messages ADD COLUMN sampling TEXT;
    ALTER TABLE messages ADD COLUMN prompt_tokens INTEGER;
    ALTER TABLE messages ADD COLUMN generated_tokens INTEGER;
    ALTER TABLE messages ADD COLUMN tokens_per_s REAL;
    ALTER TABLE messages ADD COLUMN ttft_s REAL;
    UPDATE messages SET updated_at = created_at;
    CREATE INDEX conversations_by_update ON conversations(updated_at DESC);
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='id', tokenize='unicode61'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
    """,
    # 3: versions and branches (each message hangs under the one it answers or
    # follows; the conversation shows the path to its leaf), and each conversation's
    # own settings (JSON). Conversations so far are one path, in id order.
    """
    ALTER TABLE messages ADD COLUMN parent_id INTEGER;
    ALTER TABLE conversations ADD COLUMN leaf_id INTEGER;
    ALTER TABLE conversations ADD COLUMN settings TEXT;
    UPDATE messages SET parent_id = (
        SELECT max(p.id) FROM messages p
        WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id
    );
    UPDATE conversations SET leaf_id = (
        SELECT max(id) FROM messages WHERE conversation_id = conversations.id
    );
    CREATE INDEX messages_by_parent ON messages(parent_id);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
