"""kill -9 at several points of real `assistant ingest` runs, then run it again: the collection
must end up exactly as one clean run leaves it (same chunk ids, texts, metadata and vectors;
same manifest rows), with every manifest chunk in Chroma and every Chroma chunk in one row.

Two kinds of kill, both a real SIGKILL of the real command:
  - from outside, when the manifest (polled from this process) shows the run has reached a
    given point: a batch being written, a batch done;
  - from inside, at an exact step: the process kills itself when the pipeline calls a given
    manifest method (e.g. just before marking written chunks 'done'), which a poll could miss.
"""
from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import chroma_rows, components_for, make_home
from tests.ingest.conftest import (assert_consistent, markdown_document, run_assistant, run_cli_killed_at,
                                   start_cli, write_corpus)

COLLECTION = "crash-test"
FILES = 60


def manifest_state(path: Path) -> tuple[int, int] | None:
    """(done rows, pending rows) of the collection, read while the ingest runs; None before it exists."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(str(path), timeout=1)
        try:
            counts = dict(db.execute("SELECT state, COUNT(*) FROM files WHERE collection = ? GROUP BY state",
                                     (COLLECTION,)).fetchall())
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet, or busy for a moment
        return None
    return counts.get("done", 0), counts.get("pending", 0)


def kill_when(home: Path, corpus: Path, condition, log: Path, after: float = 0.0) -> tuple[int, tuple | None]:
    """Start a real ingest and SIGKILL it once condition(done, pending) holds (or `after` seconds
    have passed, when given). Returns (exit status, manifest state seen at the kill)."""
    manifest = home / "manifest.sqlite"
    with log.open("a") as err:
        process = start_cli("ingest", str(corpus), "--collection", COLLECTION, home=home,
                            stdout=subprocess.DEVNULL, stderr=err)
        started = time.monotonic()
        seen = None
        try:
            while process.poll() is None and time.monotonic() - started < 300:
                state = manifest_state(manifest)
                if (after and time.monotonic() - started >= after) or (state and condition(*state)):
                    process.send_signal(signal.SIGKILL)
                    seen = state
                    break
                time.sleep(0.002)
        finally:
            if process.poll() is None and seen is None:
                process.kill()
            process.wait(timeout=60)
    return process.returncode, seen


def clean_ingest(home: Path, corpus: Path) -> None:
    result = run_assistant("ingest", str(corpus), "--collection", COLLECTION, home=home)
    assert result.returncode == 0, result.stderr[-2000:]


def snapshot(home: Path):
    """Chunks (id -> text, metadata, vector) and manifest rows (path -> row), checked for consistency."""
    components = components_for(home)
    chunks, rows = assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
    ids = sorted(chunks)
    vectors = chroma_rows(components.store, COLLECTION, ids, with_embeddings=True)
    by_id = {i: [float(x) for x in v] for i, v in zip(vectors["ids"], vectors["embeddings"])}
    return chunks, rows, by_id


def assert_same(crashed_home: Path, clean_home: Path, compare_vectors: bool = True) -> int:
    chunks, rows, vectors = snapshot(crashed_home)
    clean_chunks, clean_rows, clean_vectors = snapshot(clean_home)
    assert rows == clean_rows
    assert sorted(chunks) == sorted(clean_chunks), "chunk ids differ from a clean run's"
    for chunk_id, (text, meta) in clean_chunks.items():
        assert chunks[chunk_id] == (text, meta), chunk_id
        if compare_vectors:
            assert vectors[chunk_id] == pytest.approx(clean_vectors[chunk_id], abs=1e-4), chunk_id
    return len(chunks)


def pending_rows(home: Path) -> int:
    state = manifest_state(home / "manifest.sqlite")
    return state[1] if state else 0


def test_killed_ingests_end_as_one_clean_run(tmp_path, shared_models_dir):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, FILES, paragraphs=3, words=25, markdown=True)  # 4 short chunks per file
    log = tmp_path / "stderr.log"
    clean = make_home(tmp_path / "clean", shared_models_dir)
    crashed = make_home(tmp_path / "crashed", shared_models_dir)
    kills = []
    started = time.monotonic()

    clean_ingest(clean, corpus)
    clean_seconds = time.monotonic() - started

    # 1. During start-up, before anything is written.
    kills.append(("start-up", *kill_when(crashed, corpus, lambda d, p: False, log, after=1.0)))
    # 2. While the first batch is being written to Chroma (rows pending).
    kills.append(("first batch being written", *kill_when(crashed, corpus, lambda d, p: p > 0, log)))
    # 3. Once a batch is done: the next one is being embedded or written.
    kills.append(("a batch done", *kill_when(crashed, corpus, lambda d, p: d > 0, log)))
    # 4. Exactly between writing a batch's chunks and marking them done.
    result = run_cli_killed_at("commit", 1, "ingest", str(corpus), "--collection", COLLECTION, home=crashed)
    kills.append(("chunks written, rows not yet done", result.returncode, manifest_state(crashed / "manifest.sqlite")))
    assert pending_rows(crashed) > 0, "the kill inside the write left nothing to repair"
    # 5. In the middle of repairing that: chunks deleted, rows not yet dropped.
    result = run_cli_killed_at("remove", 1, "ingest", str(corpus), "--collection", COLLECTION, home=crashed)
    kills.append(("repair half-done", result.returncode, manifest_state(crashed / "manifest.sqlite")))
    assert pending_rows(crashed) > 0

    for what, status, state in kills:
        print(f"\nkilled at {what}: exit {status}, manifest (done, pending) = {state}")
        assert status == -signal.SIGKILL, f"{what}: the ingest was not killed (exit {status})"
    assert any(state and 0 < state[0] < FILES for _, _, state in kills), "no kill landed in the middle of the run"

    again = time.monotonic()
    result = run_assistant("ingest", str(corpus), "--collection", COLLECTION, "--json", home=crashed)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"repaired": 0' not in result.stdout, "the last kill left rows to repair, the re-run should say so"
    chunks = assert_same(crashed, clean)
    assert chunks == FILES * 4
    print(f"clean run {clean_seconds:.1f} s; 5 kills and the completing run: {time.monotonic() - started:.1f} s "
          f"in all (final run {time.monotonic() - again:.1f} s)")


def test_killed_updates_end_as_one_clean_run(tmp_path, shared_models_dir):
    """The same for a re-run over a changed tree: updated, removed, renamed, copied and new files."""
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus, 24, paragraphs=3, words=25, markdown=True)
    log = tmp_path / "stderr.log"
    crashed = make_home(tmp_path / "crashed", shared_models_dir)
    clean_ingest(crashed, corpus)

    for path in files[:5]:  # updated: one section more
        path.write_text(path.read_text() + "\n## Addendum\n\nThe supplier refund deadline moved to June.\n")
    for path in files[5:10]:  # removed
        path.unlink()
    files[10].rename(corpus / "team0" / "renamed.md")
    shutil.copy2(files[11], corpus / "team1" / "copy.md")
    for number in range(100, 105):  # new
        (corpus / "team2" / f"new-{number}.md").write_text(markdown_document(number))

    kills = [("update batch being written", *kill_when(crashed, corpus, lambda d, p: p > 0, log))]
    result = run_cli_killed_at("commit", 1, "ingest", str(corpus), "--collection", COLLECTION, home=crashed)
    kills.append(("updated chunks written and old ones deleted, rows not done", result.returncode,
                  manifest_state(crashed / "manifest.sqlite")))
    # The file being written when the ingest died is edited again before the next run: the
    # chunks of the version that was being written must go too.
    files[0].write_text(markdown_document(0, sections=2))

    clean = make_home(tmp_path / "clean", shared_models_dir)
    clean_ingest(clean, corpus)  # one clean run of the final tree, from nothing
    # Let the repair and the writes finish, then die while removing the files that disappeared
    # (5 deleted, 1 renamed away: their chunks deleted, their rows not yet dropped); `remove` is
    # called once by the repair first.
    result = run_cli_killed_at("remove", 2, "ingest", str(corpus), "--collection", COLLECTION, home=crashed)
    kills.append(("missing files' chunks deleted, rows not dropped", result.returncode,
                  manifest_state(crashed / "manifest.sqlite")))
    assert pending_rows(crashed) == 6, "the kill during removal should leave the 6 files gone pending"

    for what, status, state in kills:
        print(f"\nkilled at {what}: exit {status}, manifest (done, pending) = {state}")
        assert status == -signal.SIGKILL, f"{what}: the ingest was not killed (exit {status})"

    result = run_assistant("ingest", str(corpus), "--collection", COLLECTION, "--json", home=crashed)
    assert result.returncode == 0, result.stderr[-2000:]
    # A renamed or copied file reuses stored vectors (embedded with the original's title), so
    # vectors are compared in the first test only; ids, texts, metadata and rows must be equal.
    # 13 untouched files, 4 updated with a 5th section and 1 cut to 3, 1 renamed, 1 copy, 5 new.
    assert assert_same(crashed, clean, compare_vectors=False) == 13 * 4 + 4 * 5 + 3 + 4 + 4 + 5 * 4


def test_a_killed_collection_delete_is_finished_by_the_next_ingest(tmp_path, shared_models_dir):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 4, paragraphs=1, words=20, markdown=True)
    home = make_home(tmp_path / "home", shared_models_dir)
    clean_ingest(home, corpus)

    # Killed once the store has dropped the collection, before the manifest forgets its files.
    result = run_cli_killed_at("remove_collection", 1, "collections", "delete", COLLECTION, home=home)
    assert result.returncode == -signal.SIGKILL
    assert pending_rows(home) == 4
    listed = run_assistant("collections", "list", "--json", home=home)
    assert '"name": "crash-test"' not in listed.stdout

    result = run_assistant("ingest", str(corpus), "--collection", COLLECTION, "--json", home=home)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"chunks_embedded": 8' in result.stdout  # everything ingested again, nothing believed present
    components = components_for(home)
    chunks, rows = assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
    assert len(rows) == 4 and len(chunks) == 8
