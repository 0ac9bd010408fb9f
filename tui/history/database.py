"""The history database: opening, checking, migrating, and a connection per thread.

WAL mode with a busy timeout, so two copies of the app can write at once; every
write is a `BEGIN IMMEDIATE` transaction, so a writer waits for the lock up front
instead of failing halfway. The schema is migrated in `PRAGMA user_version` steps.
The file and its WAL/SHM files are private (0600). A database that fails
`PRAGMA quick_check` at open is moved aside, never deleted.

Connections are per thread (sqlite3 objects must stay in the thread that made
them): the UI thread and the generation worker each get their own.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llamatui.tui.history.files import move_aside, private_file, private_sidecars
from llamatui.tui.history.schema import MIGRATIONS, SCHEMA_VERSION

# A reply still marked "streaming" whose last checkpoint is older than this was
# left by an app that died: checkpoints come at least once a second.
STALE_STREAM_S = 10.0


class StoreError(Exception):
    """History could not be read or saved; the message says why, in words."""


def _explain(e: sqlite3.Error) -> str:
    text = str(e)
    if "disk is full" in text or "database or disk is full" in text:
        return "the disk is full"
    if "locked" in text or "busy" in text:
        return "another copy of llamatui held the history database too long"
    if "readonly" in text or "read-only" in text:
        return "the history database is read-only"
    return text


class Database:
    """The history's file: opened, checked, migrated; a connection per thread."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.moved_aside: Path | None = None
        """Where a corrupt database was moved at open, if one was."""
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._open_checked()

    # Opening ---------------------------------------------------------------------

    def _open_checked(self) -> None:
        ok = False
        try:
            private_file(self.path)
            conn = self._conn()
            ok = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except sqlite3.DatabaseError:
            ok = False
        if not ok:
            self.close()
            self.moved_aside = move_aside(self.path)
            private_file(self.path)
        self._migrate(self._conn())
        private_sidecars(self.path)
        self._mark_stale_streams()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # Each connection is used by the thread that made it; close() may run
            # on another thread once those are done, hence check_same_thread=False.
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=0, check_same_thread=False
            )
            try:
                conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
                conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode: a crash of the app loses nothing, a power cut
                # may lose the last commits, and commits do not wait for fsync.
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error:
                conn.close()
                raise
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A `BEGIN IMMEDIATE` transaction; sqlite errors become StoreError."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"could not save to the history: {_explain(e)}") from e

    def _migrate(self, conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        while version < target:
            # executescript commits first; wrap each step so it applies whole.
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[version]}\n"
                f"PRAGMA user_version = {version + 1};\nCOMMIT;"
            )
            version += 1

    def _mark_stale_streams(self) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE messages SET status = 'interrupted' "
                "WHERE status = 'streaming' AND updated_at < ?",
                (time.time() - STALE_STREAM_S,),
            )

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise StoreError(f"could not read the history: {_explain(e)}") from e

    def quick_check(self) -> bool:
        """Whether SQLite finds the database sound."""
        return bool(self._read("PRAGMA quick_check")[0][0] == "ok")
