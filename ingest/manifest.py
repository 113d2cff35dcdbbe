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

Where it lives: a SQLite file in ASSISTANT_HOME (this class), or, with a Chroma server and an
`accounts_url` naming a PostgreSQL database, tables of that database (ingest/manifest_sql.py: the
same SQL, steps and API), so that ingests on several machines share one collection;
`open_manifest` picks by the settings.

Each finished run is also kept as a row of `ingest_runs` (its counts, and the files that failed or
were skipped with their one-line reasons), so the admin page can say when a collection was last
ingested and which files it could not read: the `files` table holds only what was stored. The
last RUNS_KEPT runs of each collection are kept (a watch writes one every round).
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
from typing import Callable, Iterable, Iterator

from assistant.errors import UsageError
from assistant.settings import Settings, make_private_dirs

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
    # version 2
    """
    CREATE TABLE IF NOT EXISTS ingest_runs (  -- IF NOT EXISTS: two processes may upgrade at once
        id              INTEGER PRIMARY KEY,
        collection      TEXT NOT NULL,
        finished_at     REAL NOT NULL,
        seconds         REAL NOT NULL,
        roots           TEXT NOT NULL,       -- JSON list: the files and folders given
        added           INTEGER NOT NULL,
        updated         INTEGER NOT NULL,
        unchanged       INTEGER NOT NULL,
        removed         INTEGER NOT NULL,
        chunks_embedded INTEGER NOT NULL,
        interrupted     INTEGER NOT NULL,
        failed          TEXT NOT NULL,       -- JSON {"count": N, "items": [[path, reason], ...]}
        skipped         TEXT NOT NULL,       -- the same
        notes           TEXT NOT NULL        -- JSON list of [path, note]
    );
    CREATE INDEX IF NOT EXISTS ingest_runs_by_collection ON ingest_runs (collection, finished_at);
    """,
]
RUNS_KEPT = 20
# A run over a tree of unsupported files could list thousands: the counts stay exact, the lists are cut.
LISTED_PER_RUN = 1000


class CollectionBusy(UsageError):
    """Another process is writing this collection right now."""


class StoppedWaiting(UsageError):
    """Ctrl-C (or SIGTERM) while waiting for another process's lock: nothing was written."""

    exit_status = 130


LOCK_POLL_S = 1.0  # how often a waiting ingest asks for the lock again (and hears a Ctrl-C)


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


@dataclass
class IngestRun:
    """One finished ingest of a collection, as the admin page shows it."""

    collection: str
    finished_at: float  # time.time()
    seconds: float
    roots: list[str]
    added: int
    updated: int
    unchanged: int
    removed: int
    chunks_embedded: int
    interrupted: bool
    failed: list[tuple[str, str]]
    skipped: list[tuple[str, str]]
    notes: list[tuple[str, str]]
    failed_count: int = 0  # the lists may be cut at LISTED_PER_RUN; these are the real numbers
    skipped_count: int = 0
    id: int = 0


def open_manifest(settings: Settings) -> Manifest:
    """The manifest the settings name: in the accounts database when it is shared (see
    shares_manifest), else ASSISTANT_HOME/manifest.sqlite."""
    if shares_manifest(settings):
        from ingest.manifest_sql import PostgresManifest

        return PostgresManifest(settings.accounts_url.get_secret_value())
    return Manifest(settings.manifest_path)


def shares_manifest(settings: Settings) -> bool:
    """Whether the manifest lives in the PostgreSQL accounts database, shared by every machine
    that ingests into the same Chroma server. Only with a Chroma server: the manifest says what one
    vector store holds, and an embedded store is one home's (a manifest shared by two homes would
    call one machine's chunks present in the other's store)."""
    return settings.chroma_mode == "server" and is_postgresql(settings.accounts_url.get_secret_value())


def is_postgresql(url: str) -> bool:
    if not url:
        return False
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).get_backend_name() == "postgresql"
    except ArgumentError:
        return False  # not a URL: the accounts database says so, in its own words


# Told the busy message when a caller chose to wait for another process's lock (Manifest.lock).
OnWait = Callable[[str], None]


def wait_a_moment(should_stop: Callable[[], bool] | None) -> None:
    """One wait between two asks for a lock; StoppedWaiting once should_stop says so."""
    if should_stop is not None and should_stop():
        raise StoppedWaiting("stopped while waiting for the other process; nothing was written")
    time.sleep(LOCK_POLL_S)
    if should_stop is not None and should_stop():
        raise StoppedWaiting("stopped while waiting for the other process; nothing was written")


class Manifest:
    FILES = "files"  # table names: the PostgreSQL manifest shares a database with the accounts
    RUNS = "ingest_runs"

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

    # The three primitives the SQL below goes through (the PostgreSQL manifest has its own).
    def _execute(self, sql: str, params: tuple = ()):
        return self._db.execute(sql, params)

    def _executemany(self, sql: str, rows: list[tuple]) -> None:
        self._db.executemany(sql, rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def lock(self, collection: str, on_wait: OnWait | None = None,
             should_stop: Callable[[], bool] | None = None) -> Iterator[None]:
        """Hold the write lock of a collection. When another process has it: CollectionBusy, or,
        given on_wait, tell it the reason once and wait until the lock is free (a killed holder's
        lock is freed by the operating system, a PostgreSQL one's by the server), asking it again
        each LOCK_POLL_S; StoppedWaiting as soon as should_stop says so.

        Which callers wait: `assistant ingest` when the manifest is in PostgreSQL (ingests on several
        machines queue for a collection; see IngestService.shares_manifest); on SQLite, one machine,
        it is refused at once, as are the web upload, removals and --watch rounds on either."""
        folder = self.path.parent / "locks"
        make_private_dirs(folder)
        fd = os.open(folder / f"{collection}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                message = f"collection {collection!r} is being written by another process (pid {holder})"
                if on_wait is None:
                    raise CollectionBusy(f"{message}; try again when it has finished") from None
                on_wait(message)
                while True:
                    wait_a_moment(should_stop)
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        pass
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

    def _select(self, where: str, params: tuple = ()) -> list[FileRecord]:
        rows = self._execute(f"SELECT {self._COLUMNS} FROM {self.FILES} WHERE {where}", params)
        return [self._record(row) for row in rows]

    def files(self, collection: str) -> dict[str, FileRecord]:
        return {record.path: record for record in self._select("collection = ?", (collection,))}

    def get(self, collection: str, path: str) -> FileRecord | None:
        found = self._select("collection = ? AND path = ?", (collection, path))
        return found[0] if found else None

    def under(self, collection: str, folder: str) -> list[FileRecord]:
        """Records of the files inside a folder (by path prefix), using the primary key's index."""
        prefix = folder.rstrip(os.sep) + os.sep
        upper = prefix[:-1] + chr(ord(os.sep) + 1)
        return self._select("collection = ? AND path >= ? AND path < ?", (collection, prefix, upper))

    def pending(self, collection: str | None = None) -> list[FileRecord]:
        if collection:
            return self._select("state = 'pending' AND collection = ?", (collection,))
        return self._select("state = 'pending'")

    def done_with_hash(self, collection: str, content_hash: str, limit: int = 20) -> list[FileRecord]:
        """Files of the collection, fully written, with this content (by the hash index)."""
        return self._select("collection = ? AND content_hash = ? AND state = 'done' ORDER BY path LIMIT ?",
                            (collection, content_hash, limit))

    def collections(self) -> list[str]:
        return [row[0] for row in self._execute(f"SELECT DISTINCT collection FROM {self.FILES} ORDER BY 1")]

    def file_count(self, collection: str) -> int:
        return self._execute(f"SELECT COUNT(*) FROM {self.FILES} WHERE collection = ?", (collection,)).fetchone()[0]

    # ------------------------------------------------------------------ writes
    def begin(self, collection: str, writes: Iterable[PendingWrite]) -> None:
        """Step 1, for several files in one transaction: record the intent to write their new ids
        (each file's current ids stay listed, so that a repair deletes both)."""
        with self._transaction():
            self._executemany(
                f"""INSERT INTO {self.FILES} (collection, path, content_hash, size, mtime, chunk_ids, pending_ids,
                                              state, updated_at)
                   VALUES (?, ?, ?, ?, ?, '[]', ?, 'pending', ?)
                   ON CONFLICT (collection, path) DO UPDATE SET
                       content_hash = excluded.content_hash, size = excluded.size, mtime = excluded.mtime,
                       pending_ids = excluded.pending_ids, state = 'pending', updated_at = excluded.updated_at""",
                [(collection, w.path, w.content_hash, w.size, w.mtime, json.dumps(w.new_ids), w.checked_at)
                 for w in writes])

    def commit(self, collection: str, paths: Iterable[str]) -> None:
        """Step 3: the pending ids are now the files' chunks."""
        with self._transaction():
            self._executemany(f"UPDATE {self.FILES} SET chunk_ids = pending_ids, pending_ids = '[]', state = 'done' "
                              "WHERE collection = ? AND path = ?", [(collection, path) for path in paths])

    def begin_removal(self, collection: str, paths: Iterable[str]) -> None:
        """Step 1 of a removal: a repair will delete these files' chunks and drop their rows."""
        with self._transaction():
            self._executemany(f"UPDATE {self.FILES} SET state = 'pending', updated_at = ? "
                              "WHERE collection = ? AND path = ?", [(time.time(), collection, path) for path in paths])

    def remove(self, collection: str, paths: Iterable[str]) -> None:
        with self._transaction():
            self._executemany(f"DELETE FROM {self.FILES} WHERE collection = ? AND path = ?",
                              [(collection, path) for path in paths])

    def touch(self, collection: str, path: str, size: int, mtime: float, checked_at: float) -> None:
        """Same content, new stat: remember the stat so the next run need not hash the file."""
        self._execute(f"UPDATE {self.FILES} SET size = ?, mtime = ?, updated_at = ? WHERE collection = ? AND path = ?",
                      (size, mtime, checked_at, collection, path))

    def begin_collection_removal(self, collection: str) -> None:
        self._execute(f"UPDATE {self.FILES} SET state = 'pending' WHERE collection = ?", (collection,))

    def remove_collection(self, collection: str) -> None:
        self._execute(f"DELETE FROM {self.FILES} WHERE collection = ?", (collection,))

    # ------------------------------------------------------------------ runs
    def record_run(self, run: IngestRun) -> None:
        """Keep a finished run; the oldest beyond RUNS_KEPT for its collection go."""
        with self._transaction():
            self._execute(
                f"""INSERT INTO {self.RUNS} (collection, finished_at, seconds, roots, added, updated, unchanged,
                                             removed, chunks_embedded, interrupted, failed, skipped, notes)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (run.collection, run.finished_at, run.seconds, json.dumps(run.roots), run.added, run.updated,
                 run.unchanged, run.removed, run.chunks_embedded, int(run.interrupted),
                 json.dumps(_listed(run.failed, run.failed_count)), json.dumps(_listed(run.skipped, run.skipped_count)),
                 json.dumps(run.notes[:LISTED_PER_RUN])))
            self._execute(f"""DELETE FROM {self.RUNS} WHERE collection = ? AND id NOT IN (
                                  SELECT id FROM {self.RUNS} WHERE collection = ? ORDER BY id DESC LIMIT ?)""",
                          (run.collection, run.collection, RUNS_KEPT))

    def runs(self, collection: str | None = None, limit: int = RUNS_KEPT) -> list[IngestRun]:
        """The recorded runs, newest first (of one collection, or of all)."""
        where = "WHERE collection = ? " if collection else ""
        rows = self._execute(
            "SELECT id, collection, finished_at, seconds, roots, added, updated, unchanged, removed, chunks_embedded, "
            f"interrupted, failed, skipped, notes FROM {self.RUNS} {where}ORDER BY id DESC LIMIT ?",
            ((collection,) if collection else ()) + (limit,))
        return [_run(row) for row in rows]


def _listed(pairs: list[tuple[str, str]], count: int) -> dict:
    return {"count": max(count, len(pairs)), "items": [list(p) for p in pairs[:LISTED_PER_RUN]]}


def _run(row) -> IngestRun:
    failed, skipped = json.loads(row[11]), json.loads(row[12])
    return IngestRun(
        id=row[0], collection=row[1], finished_at=row[2], seconds=row[3], roots=json.loads(row[4]), added=row[5],
        updated=row[6], unchanged=row[7], removed=row[8], chunks_embedded=row[9], interrupted=bool(row[10]),
        failed=[tuple(p) for p in failed["items"]], skipped=[tuple(p) for p in skipped["items"]],
        notes=[tuple(p) for p in json.loads(row[13])], failed_count=failed["count"], skipped_count=skipped["count"])
