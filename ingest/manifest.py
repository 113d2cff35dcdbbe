"""What was ingested from where: one SQLite row per (collection, file) with its content hash and
the ids of the chunks it produced.

A file is written in three steps so that a run killed at any point can be repaired by the next:
  1. mark the row 'pending' with the chunk ids about to be written (and those being replaced);
  2. write the chunks to the vector store and delete the replaced ones;
  3. mark the row 'done'.
On start, every 'pending' row's chunks (old and new) are deleted and the row dropped, so the file
is ingested again from scratch. Chunks never exist without a row that names them.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = [
    # version 1
    """
    CREATE TABLE files (
        collection   TEXT NOT NULL,
        path         TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        size         INTEGER NOT NULL,
        mtime        REAL NOT NULL,
        chunk_ids    TEXT NOT NULL,          -- JSON list: the chunks this file has in the store
        pending_ids  TEXT NOT NULL DEFAULT '[]', -- JSON list: chunks being written (state=pending)
        state        TEXT NOT NULL CHECK (state IN ('pending', 'done')),
        updated_at   REAL NOT NULL,
        PRIMARY KEY (collection, path)
    );
    CREATE INDEX files_by_hash ON files (collection, content_hash);
    """,
]


@dataclass
class FileRecord:
    collection: str
    path: str
    content_hash: str
    size: int
    mtime: float
    chunk_ids: list[str]
    pending_ids: list[str]
    state: str


class Manifest:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(SCHEMA[version:], version + 1):
            self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    @staticmethod
    def _record(row) -> FileRecord:
        return FileRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), json.loads(row[6]), row[7])

    _COLUMNS = "collection, path, content_hash, size, mtime, chunk_ids, pending_ids, state"

    def files(self, collection: str) -> dict[str, FileRecord]:
        rows = self._db.execute(f"SELECT {self._COLUMNS} FROM files WHERE collection = ?", (collection,))
        return {row[1]: self._record(row) for row in rows}

    def get(self, collection: str, path: str) -> FileRecord | None:
        row = self._db.execute(f"SELECT {self._COLUMNS} FROM files WHERE collection = ? AND path = ?",
                               (collection, path)).fetchone()
        return self._record(row) if row else None

    def pending(self, collection: str | None = None) -> list[FileRecord]:
        query = f"SELECT {self._COLUMNS} FROM files WHERE state = 'pending'"
        rows = self._db.execute(query + (" AND collection = ?" if collection else ""),
                                (collection,) if collection else ())
        return [self._record(row) for row in rows]

    def done_with_hash(self, collection: str, content_hash: str) -> FileRecord | None:
        row = self._db.execute(f"SELECT {self._COLUMNS} FROM files WHERE collection = ? AND content_hash = ? "
                               "AND state = 'done' LIMIT 1", (collection, content_hash)).fetchone()
        return self._record(row) if row else None

    def begin(self, collection: str, path: str, content_hash: str, size: int, mtime: float,
              new_ids: list[str]) -> None:
        """Step 1: record the intent to write new_ids for this file (its old ids stay listed)."""
        self._db.execute(
            """INSERT INTO files (collection, path, content_hash, size, mtime, chunk_ids, pending_ids, state, updated_at)
               VALUES (?, ?, ?, ?, ?, '[]', ?, 'pending', ?)
               ON CONFLICT (collection, path) DO UPDATE SET
                   content_hash = excluded.content_hash, size = excluded.size, mtime = excluded.mtime,
                   pending_ids = excluded.pending_ids, state = 'pending', updated_at = excluded.updated_at""",
            (collection, path, content_hash, size, mtime, json.dumps(new_ids), time.time()))

    def commit(self, collection: str, path: str) -> None:
        """Step 3: the pending ids are now the file's chunks."""
        self._db.execute("UPDATE files SET chunk_ids = pending_ids, pending_ids = '[]', state = 'done', "
                         "updated_at = ? WHERE collection = ? AND path = ?", (time.time(), collection, path))

    def touch(self, collection: str, path: str, size: int, mtime: float) -> None:
        """Same content, new stat: remember the stat so the next run need not hash the file."""
        self._db.execute("UPDATE files SET size = ?, mtime = ? WHERE collection = ? AND path = ?",
                         (size, mtime, collection, path))

    def remove(self, collection: str, path: str) -> None:
        self._db.execute("DELETE FROM files WHERE collection = ? AND path = ?", (collection, path))

    def remove_collection(self, collection: str) -> None:
        self._db.execute("DELETE FROM files WHERE collection = ?", (collection,))

    def collections(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT DISTINCT collection FROM files ORDER BY 1")]
