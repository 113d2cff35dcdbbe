"""The ingest manifest in the PostgreSQL accounts database (accounts_url), for ingests run on
several machines into one Chroma server: every machine reads and writes the same rows, and the
one-writer-per-collection lock is a PostgreSQL advisory lock instead of a file on one disk.

Same tables as the SQLite manifest (named ingest_files and ingest_runs beside the accounts' own),
same SQL, same three crash-safe steps (ingest/manifest.py): a write is committed by the server
before the next step starts, and a run killed half-way leaves 'pending' rows the next run repairs,
whichever machine it is on.

The lock: pg_advisory_lock on a key derived from the collection's name, held on a connection of
its own for the whole run, so the server frees it the moment that connection drops (the process
was killed, the machine went away). The connection is named after the process (application_name
"assistant ingest pid N on HOST"), which is how a refused or waiting caller is told who holds it.
A run reads the manifest only once it has the lock, on its own connection (autocommit: each
statement sees what the previous holder committed).

The schema is created and upgraded inside one transaction holding a transaction-level advisory
lock, so of two processes starting at once on an empty database one creates the tables and the
other then finds them (CREATE TABLE IF NOT EXISTS alone races in PostgreSQL's catalog).
The schema belongs to the ingest package, not to the accounts' alembic migrations: the accounts
code never reads these tables.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from typing import Callable, Iterator

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from assistant.accounts.database import DatabaseUnreachable
from ingest.manifest import CollectionBusy, Manifest, OnWait, wait_a_moment

# Advisory locks are (namespace, key) pairs of int4 shared by every application of the database:
# ours are under this namespace ('ingt'), the key a hash of the collection's name (a collision
# between two names only makes their ingests take turns).
LOCK_NAMESPACE = 0x696E6774
SCHEMA_LOCK_KEY = 0  # no collection hashes to 0 (see _lock_key)

SCHEMA = [
    # version 1: ingest/manifest.py's versions 1 and 2, in PostgreSQL's types. Paths compare
    # byte-wise (COLLATE "C"), as in SQLite: Manifest.under finds a folder's files by prefix range.
    [
        """CREATE TABLE ingest_files (
               collection   TEXT COLLATE "C" NOT NULL,
               path         TEXT COLLATE "C" NOT NULL,
               content_hash TEXT NOT NULL,
               size         BIGINT NOT NULL,
               mtime        DOUBLE PRECISION NOT NULL,
               chunk_ids    TEXT NOT NULL,
               pending_ids  TEXT NOT NULL DEFAULT '[]',
               state        TEXT NOT NULL CHECK (state IN ('pending', 'done')),
               updated_at   DOUBLE PRECISION NOT NULL,
               PRIMARY KEY (collection, path))""",
        "CREATE INDEX ingest_files_by_hash ON ingest_files (collection, content_hash)",
        """CREATE TABLE ingest_runs (
               id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
               collection      TEXT COLLATE "C" NOT NULL,
               finished_at     DOUBLE PRECISION NOT NULL,
               seconds         DOUBLE PRECISION NOT NULL,
               roots           TEXT NOT NULL,
               added           INTEGER NOT NULL,
               updated         INTEGER NOT NULL,
               unchanged       INTEGER NOT NULL,
               removed         INTEGER NOT NULL,
               chunks_embedded INTEGER NOT NULL,
               interrupted     INTEGER NOT NULL,
               failed          TEXT NOT NULL,
               skipped         TEXT NOT NULL,
               notes           TEXT NOT NULL)""",
        "CREATE INDEX ingest_runs_by_collection ON ingest_runs (collection, finished_at)",
    ],
]
VERSION_TABLE = "ingest_manifest_version"


def _lock_key(collection: str) -> int:
    """A positive int4 for the collection (pg_locks shows keys as unsigned oids: positive keeps them equal)."""
    return int.from_bytes(hashlib.sha256(collection.encode()).digest()[:4], "big") % 0x7FFFFFFF + 1


def _holder_name() -> str:
    return f"assistant ingest pid {os.getpid()} on {socket.gethostname()}"[:63]  # NAMEDATALEN - 1


class PostgresManifest(Manifest):
    """A Manifest whose rows are in PostgreSQL; the pipeline cannot tell it from the SQLite one."""

    FILES = "ingest_files"
    RUNS = "ingest_runs"

    def __init__(self, url: str):
        self.path = None  # no file: the rows are on the server
        # No pool: the manifest keeps one connection for its statements, and each lock opens one
        # that is really closed (and its lock freed) when the lock is let go.
        self._engine = create_engine(make_url(url), poolclass=NullPool)
        self._where = self._engine.url.render_as_string(hide_password=True)
        self._db = self._connect()
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def _connect(self):
        try:
            connection = self._engine.raw_connection()
        except OperationalError as e:
            reason = str(e.orig or e).strip().splitlines()[0]
            raise DatabaseUnreachable(f"cannot reach the database of the ingest manifest at {self._where}: {reason} "
                                      "(check accounts_url, and that the server is running)") from None
        connection.dbapi_connection.autocommit = True  # BEGIN/COMMIT written out, as on SQLite
        return connection

    def close(self) -> None:
        self._db.close()
        self._engine.dispose()

    def _migrate(self) -> None:
        with self._transaction():
            self._execute("SELECT pg_advisory_xact_lock(CAST(? AS integer), CAST(? AS integer))",
                          (LOCK_NAMESPACE, SCHEMA_LOCK_KEY))
            self._execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL)")
            row = self._execute(f"SELECT version FROM {VERSION_TABLE}").fetchone()
            version = row[0] if row else 0
            for number, statements in enumerate(SCHEMA[version:], version + 1):
                for statement in statements:
                    self._execute(statement)
                self._execute(f"DELETE FROM {VERSION_TABLE}")
                self._execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (?)", (number,))

    # ------------------------------------------------------------------ primitives
    # The SQL is Manifest's, written with SQLite's '?' placeholders; psycopg's are '%s' (and no
    # statement of it holds a literal '?' or '%').
    def _execute(self, sql: str, params: tuple = ()):
        cursor = self._db.cursor()
        cursor.execute(sql.replace("?", "%s"), params)
        return cursor

    def _executemany(self, sql: str, rows: list[tuple]) -> None:
        if rows:
            self._db.cursor().executemany(sql.replace("?", "%s"), rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._execute("BEGIN")
        try:
            yield
        except BaseException:
            self._execute("ROLLBACK")
            raise
        self._execute("COMMIT")

    # ------------------------------------------------------------------ the lock
    @contextlib.contextmanager
    def lock(self, collection: str, on_wait: OnWait | None = None,
             should_stop: Callable[[], bool] | None = None) -> Iterator[None]:
        """Hold the collection's advisory lock for the block, on a connection of its own (see the
        module docstring). CollectionBusy when another process holds it, or, given on_wait, tell
        it who holds it and wait until it is freed (Manifest.lock says who waits)."""
        keys = (LOCK_NAMESPACE, _lock_key(collection))
        connection = self._connect()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT set_config('application_name', %s, false)", (_holder_name(),))
            cursor.execute("SELECT pg_try_advisory_lock(CAST(%s AS integer), CAST(%s AS integer))", keys)
            if not cursor.fetchone()[0]:
                holder = self._holder(cursor, keys)
                message = f"collection {collection!r} is being written by another process ({holder})"
                if on_wait is None:
                    raise CollectionBusy(f"{message}; try again when it has finished")
                on_wait(message)
                # Asked again each second rather than waited for in the server: a blocking
                # pg_advisory_lock would not hear Ctrl-C until the other ingest had finished.
                while True:
                    wait_a_moment(should_stop)
                    cursor.execute("SELECT pg_try_advisory_lock(CAST(%s AS integer), CAST(%s AS integer))", keys)
                    if cursor.fetchone()[0]:
                        break
            try:
                yield
            finally:
                with contextlib.suppress(Exception):  # a dropped connection has freed the lock already
                    cursor.execute("SELECT pg_advisory_unlock(CAST(%s AS integer), CAST(%s AS integer))", keys)
        finally:
            connection.close()

    @staticmethod
    def _holder(cursor, keys: tuple[int, int]) -> str:
        """The holder's application_name: 'assistant ingest pid N on HOST' (or '?': it just left)."""
        cursor.execute(
            """SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                 AND CAST(l.classid AS bigint) = CAST(%s AS bigint)
                 AND CAST(l.objid AS bigint) = CAST(%s AS bigint)""", keys)
        row = cursor.fetchone()
        name = row[0] if row and row[0] else "?"
        return name.removeprefix("assistant ingest ")
