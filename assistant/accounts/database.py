"""Opening the accounts database and bringing its schema to the newest migration.

SQLite (the default, ASSISTANT_HOME/accounts.sqlite) or any SQLAlchemy URL; the SQL is the same.
Python's sqlite3 runs DDL outside transactions and starts writes "deferred", so two writers can
both read and then fail to write: on SQLite the driver's own transaction handling is switched off
and every write transaction starts with BEGIN IMMEDIATE, which waits (up to 30 s) for the other.
The upgrade runs in one such transaction, so of two processes opening a new database at once one
creates the tables and the other, once it gets the lock, finds them at head.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from assistant.errors import AssistantError
from assistant.settings import make_private_dirs

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WRITE = "accounts_write"  # execution option: this transaction will write
BUSY_TIMEOUT_S = 30
_UPGRADING = threading.Lock()  # alembic's `context` is one per process: one upgrade at a time in it


def open_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        make_private_dirs(path.parent)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))  # password hashes: owner only, from the start
        os.chmod(path, 0o600)
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN (below), not the driver's
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        enable_wal(cursor)  # readers do not wait for a writer
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get(WRITE) else "BEGIN")

    return engine


def enable_wal(cursor, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Switch the file to write-ahead logging, waiting for another connection doing the same.

    Two connections switching a new file at once can deadlock on its lock, so SQLite fails one of
    them at once with "database is locked" instead of waiting the busy timeout: try again."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _current(connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def upgrade(engine: Engine) -> None:
    """Apply the migrations not yet applied; tolerant of another process doing the same at once."""
    with _UPGRADING:
        _upgrade(engine)


def _upgrade(engine: Engine) -> None:
    config = _alembic_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with engine.connect() as connection:
        at_head = _current(connection) == heads
        connection.rollback()
    if at_head:
        return
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**{WRITE: True})
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
    except SQLAlchemyError:
        # Without a lock for DDL (a server database), the other process may have won the race.
        with engine.connect() as connection:
            if _current(connection) != heads:
                raise
        log.info("accounts schema was brought to head by another process")


class DatabaseUnreachable(AssistantError, RuntimeError):
    """The accounts database server (accounts_url) did not answer; the message says which, without its password."""


class Database:
    """One open accounts database at its newest schema, shared by the services over it (accounts,
    audit, conversations): reads in plain transactions, writes in BEGIN IMMEDIATE ones on SQLite."""

    def __init__(self, url: str):
        self.engine = open_engine(url)
        try:
            upgrade(self.engine)
        except OperationalError as e:
            self.engine.dispose()
            if self.engine.dialect.name == "sqlite":
                raise  # a file here: a lock or a disk problem, not a server that is down
            reason = str(e.orig or e).strip().splitlines()[0]
            where = self.engine.url.render_as_string(hide_password=True)
            raise DatabaseUnreachable(f"cannot reach the accounts database at {where}: {reason} "
                                      "(check accounts_url, and that the server is running)") from None
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(self.engine.execution_options(**{WRITE: True}), expire_on_commit=False)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._reads() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        with self._writes() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
