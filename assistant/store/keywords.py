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


# A word in more chunks than this does not choose candidates (it still counts in their score).
# An OR-query scores every chunk holding any of its words: at 100,000 chunks a question's common
# words made that 35 ms p50 / 117 ms p95 (bench/DECISIONS.md, 2026-12-03). Below this size no word is that common, so results are exactly the plain OR-query's.
FREQUENT_IN_CHUNKS = 2000
# The frequent words are listed from FTS5's vocabulary (0.8 s at 100,000 chunks, once per process
# and collection) and listed again once the collection has grown or shrunk by this fraction.
RELIST_AFTER_CHANGE = 0.1
_TOKENIZER = "porter unicode61 remove_diacritics 2"


def query_words(query: str, stopwords: frozenset[str] = frozenset()) -> list[str]:
    return list(dict.fromkeys(w for w in _WORD.findall(fold(query)) if w not in stopwords and (len(w) > 1 or w.isdigit())))


def _any_of(words: Sequence[str]) -> str:
    return " OR ".join(f'"{w}"' for w in words)


def match_expression(words: Sequence[str], frequent: Sequence[str] = ()) -> str:
    """An FTS5 query of the words: any of them (BM25 then weighs the rare ones), or, when some are
    frequent, chunks holding one of the others, scored by all."""
    choosing = [w for w in words if w not in frequent]
    if not frequent or not choosing:
        return _any_of(words)
    return f"({_any_of(choosing)}) AND ({_any_of(words)})"


class KeywordIndex:
    def __init__(self, path: Path):
        make_private_dirs(path.parent)
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._frequent: dict[str, tuple[int, dict[str, int]]] = {}  # table -> (rows when listed, stem -> chunks)
        self._stemmer_ready = False

    def close(self) -> None:
        self._db.close()

    def _ensure(self, collection: str) -> str:
        table = _table(collection)
        if table not in self._known:
            self._db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5("
                             f"chunk_id UNINDEXED, text, tokenize='{_TOKENIZER}')")
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
            self._db.execute(f"DROP TABLE IF EXISTS temp.{table}_vocab")
            self._db.execute(f"DROP TABLE IF EXISTS {table}")
            self._db.execute(f"DROP TABLE IF EXISTS {table}_ids")
            self._known.discard(table)
            self._frequent.pop(table, None)

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
        words = query_words(query, stopwords)
        if not words:
            return []
        with self._lock:
            table = self._ensure(collection)
            frequent = self._frequent_among(table, words)
            expression = match_expression(words, frequent)
            rows = self._db.execute(f"SELECT chunk_id, bm25({table}) FROM {table} WHERE {table} MATCH ? "
                                    f"ORDER BY bm25({table}) LIMIT ?", (expression, k)).fetchall()
        return [(chunk_id, -score) for chunk_id, score in rows]

    def _frequent_among(self, table: str, words: Sequence[str]) -> list[str]:
        """The words of the query in more than FREQUENT_IN_CHUNKS chunks, but never all of them:
        when all are, the rarest still chooses (the lock is held)."""
        chunks = self._frequent_stems(table)
        if not chunks:
            return []
        by_word = {w: chunks.get(stem, 0) for w, stem in zip(words, self._stems(words))}
        frequent = [w for w in words if by_word[w] > FREQUENT_IN_CHUNKS]
        if len(frequent) == len(words):
            frequent.remove(min(words, key=by_word.__getitem__))
        return frequent

    def _frequent_stems(self, table: str) -> dict[str, int]:
        rows = self._db.execute(f"SELECT count(*) FROM {table}_ids").fetchone()[0]
        if rows <= FREQUENT_IN_CHUNKS:
            return {}
        listed = self._frequent.get(table)
        if listed is None or abs(rows - listed[0]) > RELIST_AFTER_CHANGE * listed[0]:
            self._db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_vocab USING fts5vocab(main, {table}, 'row')")
            listed = rows, dict(self._db.execute(f"SELECT term, doc FROM temp.{table}_vocab WHERE doc > ?",
                                                 (FREQUENT_IN_CHUNKS,)).fetchall())
            self._frequent[table] = listed
        return listed[1]

    def _stems(self, words: Sequence[str]) -> list[str | None]:
        """Each word as the index holds it (stemmed, folded), by the index's own tokenizer: the
        words go through a private in-memory FTS5 table and come back from its vocabulary."""
        if not self._stemmer_ready:
            self._db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.stemmer USING fts5(word, tokenize='{_TOKENIZER}')")
            self._db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.stemmer_vocab USING fts5vocab(temp, stemmer, 'instance')")
            self._stemmer_ready = True
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT INTO temp.stemmer (rowid, word) VALUES (?, ?)", list(enumerate(words, 1)))
            stems = dict(self._db.execute("SELECT doc, term FROM temp.stemmer_vocab").fetchall())
            self._db.execute("DELETE FROM temp.stemmer")
        finally:
            self._db.execute("COMMIT")
        return [stems.get(i) for i in range(1, len(words) + 1)]
