"""What was ingested from where: one SQLite row per (collection, file) with its content hash and
the ids of the chunks it produced.

Files are written in three steps so that a run killed at any point can be repaired by the next:
  1. mark the rows 'pending' with the chunk ids about to be written (their old ids stay listed);
  2. write the chunks to the vector store and delete the replaced ones;
  3. mark the rows 'done'.
Removing a file goes the same way: mark it 'pending', delete its chunks, drop the row.
On start, every 'pending' row's chunks (old and new) are deleted and the row dropped, so the file
is ingested again from scratch. Chunks never exist without a row that names them, and a 'done'
row's chunks are all in the store.

Only one process writes a collection at a time (`Manifest.lock`); a killed process's lock is
released by the operating system.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from assistant.errors import UsageError
from assistant.settings import make_private_dirs

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


class CollectionBusy(UsageError):
    """Another process is writing this collection right now."""


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
    updated_at: float = 0.0


@dataclass
class PendingWrite:
    """Step 1 for one file: the chunk ids about to be written for it."""

    path: str
    content_hash: str
    size: int
    mtime: float
    new_ids: list[str]
    checked_at: float  # when the file's stat was taken, before it was read (see pipeline.RACY_SECONDS)


class Manifest:
    def __init__(self, path: Path):
        make_private_dirs(path.parent)
        self.path = path
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        # WAL + NORMAL: a committed transaction survives the process being killed (not a power cut,
        # which at worst loses the last transactions: those files are simply ingested again).
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(SCHEMA[version:], version + 1):
            self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def lock(self, collection: str) -> Iterator[None]:
        """Hold the write lock of a collection; CollectionBusy when another process has it."""
        folder = self.path.parent / "locks"
        make_private_dirs(folder)
        fd = os.open(folder / f"{collection}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise CollectionBusy(f"collection {collection!r} is being written by another process "
                                     f"(pid {holder}); try again when it has finished") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ reads
    _COLUMNS = "collection, path, content_hash, size, mtime, chunk_ids, pending_ids, state, updated_at"

    @staticmethod
    def _record(row) -> FileRecord:
        return FileRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), json.loads(row[6]), row[7],
                          row[8])

    def files(self, collection: str) -> dict[str, FileRecord]:
        rows = self._db.execute(f"SELECT {self._COLUMNS} FROM files WHERE collection = ?", (collection,))
        return {row[1]: self._record(row) for row in rows}

    def get(self, collection: str, path: str) -> FileRecord | None:
        row = self._db.execute(f"SELECT {self._COLUMNS} FROM files WHERE collection = ? AND path = ?",
                               (collection, path)).fetchone()
        return self._record(row) if row else None

    def under(self, collection: str, folder: str) -> list[FileRecord]:
        """Records of the files inside a folder (by path prefix), using the primary key's index."""
        prefix = folder.rstrip(os.sep) + os.sep
        upper = prefix[:-1] + chr(ord(os.sep) + 1)
        rows = self._db.execute(f"SELECT {self._COLUMNS} FROM files WHERE collection = ? AND path >= ? AND path < ?",
                                (collection, prefix, upper))
        return [self._record(row) for row in rows]

    def pending(self, collection: str | None = None) -> list[FileRecord]:
        query = f"SELECT {self._COLUMNS} FROM files WHERE state = 'pending'"
        rows = self._db.execute(query + (" AND collection = ?" if collection else ""),
                                (collection,) if collection else ())
        return [self._record(row) for row in rows]

    def done_with_hash(self, collection: str, content_hash: str, limit: int = 20) -> list[FileRecord]:
        """Files of the collection, fully written, with this content (by the hash index)."""
        rows = self._db.execute(f"SELECT {self._COLUMNS} FROM files WHERE collection = ? AND content_hash = ? "
                                "AND state = 'done' ORDER BY path LIMIT ?", (collection, content_hash, limit))
        return [self._record(row) for row in rows]

    def collections(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT DISTINCT collection FROM files ORDER BY 1")]

    def file_count(self, collection: str) -> int:
        return self._db.execute("SELECT COUNT(*) FROM files WHERE collection = ?", (collection,)).fetchone()[0]

    # ------------------------------------------------------------------ writes
    def begin(self, collection: str, writes: Iterable[PendingWrite]) -> None:
        """Step 1, for several files in one transaction: record the intent to write their new ids
        (each file's current ids stay listed, so that a repair deletes both)."""
        with self._transaction() as db:
            db.executemany(
                """INSERT INTO files (collection, path, content_hash, size, mtime, chunk_ids, pending_ids, state, updated_at)
                   VALUES (?, ?, ?, ?, ?, '[]', ?, 'pending', ?)
                   ON CONFLICT (collection, path) DO UPDATE SET
                       content_hash = excluded.content_hash, size = excluded.size, mtime = excluded.mtime,
                       pending_ids = excluded.pending_ids, state = 'pending', updated_at = excluded.updated_at""",
                [(collection, w.path, w.content_hash, w.size, w.mtime, json.dumps(w.new_ids), w.checked_at)
                 for w in writes])

    def commit(self, collection: str, paths: Iterable[str]) -> None:
        """Step 3: the pending ids are now the files' chunks."""
        with self._transaction() as db:
            db.executemany("UPDATE files SET chunk_ids = pending_ids, pending_ids = '[]', state = 'done' "
                           "WHERE collection = ? AND path = ?", [(collection, path) for path in paths])

    def begin_removal(self, collection: str, paths: Iterable[str]) -> None:
        """Step 1 of a removal: a repair will delete these files' chunks and drop their rows."""
        with self._transaction() as db:
            db.executemany("UPDATE files SET state = 'pending', updated_at = ? WHERE collection = ? AND path = ?",
                           [(time.time(), collection, path) for path in paths])

    def remove(self, collection: str, paths: Iterable[str]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM files WHERE collection = ? AND path = ?",
                           [(collection, path) for path in paths])

    def touch(self, collection: str, path: str, size: int, mtime: float, checked_at: float) -> None:
        """Same content, new stat: remember the stat so the next run need not hash the file."""
        self._db.execute("UPDATE files SET size = ?, mtime = ?, updated_at = ? WHERE collection = ? AND path = ?",
                         (size, mtime, checked_at, collection, path))

    def begin_collection_removal(self, collection: str) -> None:
        self._db.execute("UPDATE files SET state = 'pending' WHERE collection = ?", (collection,))

    def remove_collection(self, collection: str) -> None:
        self._db.execute("DELETE FROM files WHERE collection = ?", (collection,))
