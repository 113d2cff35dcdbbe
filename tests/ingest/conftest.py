"""Helpers for the ingest tests: small generated corpora, and what a collection really holds
(read from Chroma and from the manifest's SQLite file, not from the pipeline's own report)."""
from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ASSISTANT, NETGUARD, chroma_ids, chroma_rows

WORDS = ("budget invoice travel policy laptop security backup holiday contract supplier meeting "
         "quarter report training onboarding payroll audit server network printer office badge "
         "parking mentor review deadline project client archive license vendor refund").split()


def paragraph(rng: random.Random, words: int) -> str:
    out = []
    for start in range(0, words, 12):
        sentence = " ".join(rng.choice(WORDS) for _ in range(min(12, words - start)))
        out.append(sentence.capitalize() + ".")
    return " ".join(out)


def document(number: int, paragraphs: int = 3, words: int = 140, marker: str | None = None) -> str:
    """A deterministic text with a unique marker word, about one chunk per paragraph."""
    rng = random.Random(number)
    marker = marker or f"marker{number:05d}"
    parts = [f"Document {number} is about {marker}."]
    parts += [paragraph(rng, words) for _ in range(paragraphs)]
    return "\n\n".join(parts) + "\n"


def markdown_document(number: int, sections: int = 3, words: int = 30) -> str:
    """Markdown whose every section is a short chunk of its own: cheap to embed, several per file."""
    rng = random.Random(number)
    parts = [f"# Document {number}", f"About marker{number:05d}."]
    for section in range(sections):
        parts += [f"## Part {section + 1}", paragraph(rng, words)]
    return "\n\n".join(parts) + "\n"


def write_corpus(folder: Path, count: int, paragraphs: int = 3, words: int = 140, start: int = 0,
                 age_seconds: float = 3600, markdown: bool = False) -> list[Path]:
    """`count` text (or Markdown) files in a few subfolders. Their mtime is set `age_seconds` in
    the past, like files of a shared folder that were written long before the nightly ingest."""
    paths = []
    for number in range(start, start + count):
        path = folder / f"team{number % 4}" / f"doc-{number:05d}.{'md' if markdown else 'txt'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown_document(number, paragraphs, words) if markdown else document(number, paragraphs, words))
        paths.append(path)
    if age_seconds:
        age(paths, age_seconds)
    return paths


def age(paths, seconds: float = 3600) -> None:
    past = time.time() - seconds
    for path in paths:
        os.utime(path, (past, past))


# ------------------------------------------------------------------ what is stored
def stored(store, collection: str) -> dict[str, tuple[str, dict]]:
    """Every chunk of the collection in Chroma: id -> (document, metadata)."""
    ids = chroma_ids(store, collection)
    if not ids:
        return {}
    got = chroma_rows(store, collection, ids)
    return {i: (doc, meta) for i, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])}


def manifest_rows(manifest_path: Path, collection: str) -> dict[str, dict]:
    """The manifest's rows for a collection: path -> row (without the time it was written)."""
    db = sqlite3.connect(str(manifest_path))
    try:
        rows = db.execute("SELECT path, content_hash, size, mtime, chunk_ids, pending_ids, state FROM files "
                          "WHERE collection = ?", (collection,)).fetchall()
    finally:
        db.close()
    return {r[0]: {"content_hash": r[1], "size": r[2], "mtime": r[3], "chunk_ids": json.loads(r[4]),
                   "pending_ids": json.loads(r[5]), "state": r[6]} for r in rows}


def assert_consistent(store, manifest_path: Path, collection: str) -> tuple[dict, dict]:
    """Every manifest row is 'done' and its chunks are in Chroma; every Chroma chunk is named by
    exactly one row, and says so in its metadata. Returns (stored, rows)."""
    chunks = stored(store, collection)
    rows = manifest_rows(manifest_path, collection)
    owners: dict[str, list[str]] = {}
    for path, row in rows.items():
        assert row["state"] == "done", f"row left {row['state']}: {path}"
        assert row["pending_ids"] == []
        assert row["chunk_ids"], f"row without chunks: {path}"
        for chunk_id in row["chunk_ids"]:
            owners.setdefault(chunk_id, []).append(path)
    missing = sorted(set(owners) - set(chunks))
    assert not missing, f"manifest names chunks that are not stored: {missing[:5]}"
    orphans = sorted(set(chunks) - set(owners))
    assert not orphans, f"stored chunks no manifest row names: {orphans[:5]}"
    shared = {i: p for i, p in owners.items() if len(p) > 1}
    assert not shared, f"chunks named by several rows: {list(shared.items())[:3]}"
    for chunk_id, (_, meta) in chunks.items():
        assert meta["source"] == owners[chunk_id][0]
        assert meta["content_hash"] == rows[meta["source"]]["content_hash"]
    return chunks, rows


# ------------------------------------------------------------------ the real command
def cli_env(home: Path, **extra) -> dict:
    # One embedding thread: these tests are about what gets stored, and on a shared 2-core
    # machine two torch threads competing with other processes embed several times slower.
    env = dict(os.environ, ASSISTANT_HOME=str(home), PYTHONPATH=str(NETGUARD), ASSISTANT_LLM_THREADS="1")
    env.update(extra)
    return env


def run_assistant(*args, home: Path, timeout: float = 600, **extra_env) -> subprocess.CompletedProcess:
    """The real `assistant` command run to its end (like tests/conftest.py's run_cli)."""
    return subprocess.run([ASSISTANT, *args], env=cli_env(home, **extra_env), capture_output=True, text=True,
                          timeout=timeout)


def start_cli(*args, home: Path, **popen) -> subprocess.Popen:
    """The real `assistant` command, started and left running (for kills and --watch)."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    popen.setdefault("text", True)
    return subprocess.Popen([ASSISTANT, *args], env=cli_env(home), **popen)


# Runs `assistant` with a fault injected: the process kills itself with SIGKILL when the named
# manifest step is reached for the Nth time, i.e. at an exact point inside a write.
KILL_AT = r"""
import os, signal, sys
from ingest import manifest
step, nth = sys.argv[1], int(sys.argv[2])
original = getattr(manifest.Manifest, step)
calls = [0]
def dying(self, *args, **kwargs):
    calls[0] += 1
    if calls[0] >= nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, *args, **kwargs)
setattr(manifest.Manifest, step, dying)
from ui.cli import main
sys.exit(main(sys.argv[3:]))
"""


def run_cli_killed_at(step: str, nth: int, *args, home: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", KILL_AT, step, str(nth), *args], env=cli_env(home),
                          capture_output=True, text=True, timeout=timeout)
