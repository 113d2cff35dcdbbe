"""Keyword search (BM25) over the same chunks as the vector store, in SQLite FTS5.

Dense embeddings miss exact tokens (`nocheck`, `65534`, a product name) and a small English
embedder misses French; BM25 finds them. The index is written by the Store together with Chroma,
so every path that adds or removes chunks (ingest, removal, crash repair) keeps both in step.
"""
from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from pathlib import Path
from typing import Sequence

from assistant.settings import make_private_dirs
from assistant.text import fold

_WORD = re.compile(r"[a-z0-9]+")


def _table(collection: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9]", "_", collection)[:40]
    return f"fts_{safe}_{hashlib.sha1(collection.encode()).hexdigest()[:8]}"


def match_expression(query: str, stopwords: frozenset[str] = frozenset()) -> str:
    """An FTS5 OR-query of the query's words: BM25 then weighs the rare ones."""
    words = [w for w in _WORD.findall(fold(query)) if w not in stopwords and (len(w) > 1 or w.isdigit())]
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


class KeywordIndex:
    def __init__(self, path: Path):
        make_private_dirs(path.parent)
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()
        self._known: set[str] = set()

    def close(self) -> None:
        self._db.close()

    def _ensure(self, collection: str) -> str:
        table = _table(collection)
        if table not in self._known:
            self._db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5("
                             "chunk_id UNINDEXED, text, tokenize='porter unicode61 remove_diacritics 2')")
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {table}_ids (chunk_id TEXT PRIMARY KEY, row INTEGER NOT NULL)")
            self._known.add(table)
        return table

    def upsert(self, collection: str, ids: Sequence[str], texts: Sequence[str]) -> None:
        with self._lock:
            table = self._ensure(collection)
            self._db.execute("BEGIN")
            try:
                self._delete(table, ids)
                for chunk_id, text in zip(ids, texts):
                    row = self._db.execute(f"INSERT INTO {table} (chunk_id, text) VALUES (?, ?)",
                                           (chunk_id, text)).lastrowid
                    self._db.execute(f"INSERT INTO {table}_ids (chunk_id, row) VALUES (?, ?)", (chunk_id, row))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _delete(self, table: str, ids: Sequence[str]) -> None:
        for chunk_id in ids:
            found = self._db.execute(f"SELECT row FROM {table}_ids WHERE chunk_id = ?", (chunk_id,)).fetchone()
            if found:
                self._db.execute(f"DELETE FROM {table} WHERE rowid = ?", (found[0],))
                self._db.execute(f"DELETE FROM {table}_ids WHERE chunk_id = ?", (chunk_id,))

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        with self._lock:
            table = self._ensure(collection)
            self._db.execute("BEGIN")
            self._delete(table, ids)
            self._db.execute("COMMIT")

    def drop(self, collection: str) -> None:
        with self._lock:
            table = _table(collection)
            self._db.execute(f"DROP TABLE IF EXISTS {table}")
            self._db.execute(f"DROP TABLE IF EXISTS {table}_ids")
            self._known.discard(table)

    def count(self, collection: str) -> int:
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM {self._ensure(collection)}_ids").fetchone()[0]

    def chunk_counts(self, collection: str, terms: Sequence[str], limit: int) -> dict[str, int]:
        """How many chunks contain each term (after stemming and accent folding), counted up to
        `limit`: enough to tell a word the documents never or hardly use."""
        counts = {}
        with self._lock:
            table = self._ensure(collection)
            for term in terms:
                words = _WORD.findall(fold(term))
                if not words:
                    continue
                expression = " ".join(f'"{w}"' for w in words)
                counts[term] = self._db.execute(
                    f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH ? LIMIT ?)",
                    (expression, limit)).fetchone()[0]
        return counts

    def search(self, collection: str, query: str, k: int, stopwords: frozenset[str] = frozenset()) -> list[tuple[str, float]]:
        """(chunk id, BM25 score; higher is better), best first."""
        expression = match_expression(query, stopwords)
        if not expression:
            return []
        with self._lock:
            table = self._ensure(collection)
            rows = self._db.execute(f"SELECT chunk_id, bm25({table}) FROM {table} WHERE {table} MATCH ? "
                                    f"ORDER BY bm25({table}) LIMIT ?", (expression, k)).fetchall()
        return [(chunk_id, -score) for chunk_id, score in rows]
