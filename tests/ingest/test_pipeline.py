"""Incremental sync with the real embedder and a real Chroma: what is stored after each change.

Assertions read Chroma and the manifest directly; the pipeline's own report is checked against them.
"""
from __future__ import annotations

import os
import shutil
import time

import pytest

from ingest.manifest import CollectionBusy, Manifest
from ingest.pipeline import IngestPipeline
from tests.conftest import chroma_ids, chroma_rows, components_for, ingest
from tests.ingest.conftest import age, assert_consistent, document, manifest_rows, stored, write_corpus

COLLECTION = "docs"


@pytest.fixture
def components(home, embedder):
    return components_for(home, embedder)


def pipeline_for(components) -> tuple[IngestPipeline, Manifest]:
    manifest = Manifest(components.settings.manifest_path)
    return IngestPipeline(components.settings, components.store, components.embedder, manifest), manifest


def sources(chunks: dict) -> set[str]:
    return {meta["source"] for _, meta in chunks.values()}


def texts_of(chunks: dict, path) -> list[str]:
    return [doc for doc, meta in sorted(chunks.values(), key=lambda c: c[1]["chunk_index"])
            if meta["source"] == str(path)]


def test_unchanged_tree_of_2000_files_embeds_nothing_and_costs_a_stat_per_file(components, tmp_path):
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus, 2000, paragraphs=0)  # one short sentence each: one chunk per file

    started = time.monotonic()
    first = ingest(components, [corpus], COLLECTION)
    first_seconds = time.monotonic() - started
    assert first.ok, first.failed[:3]
    assert len(first.added) == 2000 and first.chunks_embedded == 2000 and first.chunks_reused == 0

    started = time.monotonic()
    again = ingest(components, [corpus], COLLECTION)
    again_seconds = time.monotonic() - started
    print(f"\n2000 files: first ingest {first_seconds:.1f} s, unchanged re-run {again_seconds:.2f} s "
          f"(pipeline {again.seconds:.2f} s)")
    assert again.ok
    assert len(again.unchanged) == 2000
    assert (again.added, again.updated, again.removed) == ([], [], [])
    assert again.chunks_embedded == 0 and again.chunks_reused == 0
    assert again.files_hashed == 0, "an unchanged file must cost a stat, not a read"

    # New modification times, same bytes (a copy tool that does not keep times): each file is
    # hashed once, found unchanged, and its new stat remembered.
    age(files, 600)
    touched = ingest(components, [corpus], COLLECTION)
    assert len(touched.unchanged) == 2000 and touched.files_hashed == 2000 and touched.chunks_embedded == 0
    after = ingest(components, [corpus], COLLECTION)
    assert len(after.unchanged) == 2000 and after.files_hashed == 0

    chunks, rows = assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
    assert len(chunks) == 2000 and len(rows) == 2000
    assert texts_of(chunks, files[1234]) == [document(1234, paragraphs=0).strip()]


def test_a_changed_file_has_its_old_chunks_replaced(components, tmp_path):
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus, 6)
    changed = files[2]
    first = ingest(components, [corpus], COLLECTION)
    assert first.ok and len(first.added) == 6
    before = stored(components.store, COLLECTION)
    old_ids = {i for i, (_, meta) in before.items() if meta["source"] == str(changed)}
    assert len(old_ids) >= 3
    assert any("marker00002" in doc for doc, _ in before.values())

    # A shorter file that no longer mentions its old marker.
    changed.write_text("Document two was rewritten: the zeppelin hangar moves to Lyon in spring.\n")
    report = ingest(components, [corpus], COLLECTION)

    assert report.updated == [str(changed)] and report.added == [] and report.removed == []
    assert len(report.unchanged) == 5
    assert report.chunks_embedded == 1
    after, rows = assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
    assert not old_ids & set(after), "old chunks of the changed file are still stored"
    assert not any("marker00002" in doc for doc, _ in after.values())
    assert texts_of(after, changed) == ["Document two was rewritten: the zeppelin hangar moves to Lyon in spring."]
    assert rows[str(changed)]["chunk_ids"] == [i for i, (_, m) in after.items() if m["source"] == str(changed)]
    # The other files' chunks are untouched.
    assert {i: c for i, c in before.items() if c[1]["source"] != str(changed)} == \
           {i: c for i, c in after.items() if c[1]["source"] != str(changed)}

    # ... and the new text is what a search finds.
    hits = components.store.query(COLLECTION, components.embedder.get_query_embedding("zeppelin hangar in Lyon"), 3)
    assert hits[0].source == str(changed) and "zeppelin" in hits[0].text


def test_a_file_that_disappeared_is_removed_unless_asked_to_keep_it(components, tmp_path):
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus, 5)
    ingest(components, [corpus], COLLECTION)
    files[0].unlink()

    pipeline, manifest = pipeline_for(components)
    try:
        kept = pipeline.run([corpus], COLLECTION, remove_missing=False)
        assert kept.removed == [] and str(files[0]) in sources(stored(components.store, COLLECTION))

        report = pipeline.run([corpus], COLLECTION)
    finally:
        manifest.close()
    assert report.removed == [str(files[0])] and len(report.unchanged) == 4
    assert report.chunks_removed >= 3
    chunks, rows = assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
    assert sources(chunks) == {str(p) for p in files[1:]} == set(rows)
    assert not any("marker00000" in doc for doc, _ in chunks.values())

    # Ingesting one subfolder removes nothing outside it.
    other = ingest(components, [corpus / "team1"], COLLECTION)
    assert other.removed == [] and sources(stored(components.store, COLLECTION)) == {str(p) for p in files[1:]}


def test_a_folder_that_is_gone_removes_nothing(components, tmp_path):
    corpus = tmp_path / "share"
    files = write_corpus(corpus, 3)
    ingest(components, [corpus], COLLECTION)
    shutil.move(corpus, tmp_path / "unmounted")  # a network share that is not mounted tonight

    report = ingest(components, [corpus], COLLECTION)
    assert report.removed == []
    assert report.failed == [(str(corpus), "no such file or folder; what was ingested from it is kept")]
    assert not report.ok
    assert sources(stored(components.store, COLLECTION)) == {str(p) for p in files}


def test_renamed_and_copied_files_are_not_embedded_again(components, tmp_path):
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus, 4)
    ingest(components, [corpus], COLLECTION)
    before = chroma_rows(components.store, COLLECTION, chroma_ids(components.store, COLLECTION), with_embeddings=True)
    vector_of = {doc: list(vec) for doc, vec in zip(before["documents"], before["embeddings"])}
    renamed_from, copied_from = files[0], files[1]
    old_texts = texts_of(stored(components.store, COLLECTION), renamed_from)
    copy_texts = texts_of(stored(components.store, COLLECTION), copied_from)

    renamed = corpus / "archive" / "renamed.txt"
    renamed.parent.mkdir()
    renamed_from.rename(renamed)
    copy = corpus / "team9" / "copy of doc.txt"
    copy.parent.mkdir()
    shutil.copy2(copied_from, copy)
    report = ingest(components, [corpus], COLLECTION)

    assert report.chunks_embedded == 0
    assert report.chunks_reused == len(old_texts) + len(copy_texts) > 0
    assert sorted(report.added) == sorted([str(renamed), str(copy)])
    assert report.removed == [str(renamed_from)]
    chunks, rows = assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
    assert texts_of(chunks, renamed) == old_texts and texts_of(chunks, renamed_from) == []
    assert texts_of(chunks, copy) == copy_texts == texts_of(chunks, copied_from)
    after = chroma_rows(components.store, COLLECTION, rows[str(copy)]["chunk_ids"], with_embeddings=True)
    for doc, meta, vector in zip(after["documents"], after["metadatas"], after["embeddings"]):
        assert meta["source"] == str(copy) and meta["file_name"] == "copy of doc.txt"
        assert list(vector) == pytest.approx(vector_of[doc])


def test_identical_files_met_in_one_run_are_embedded_once(components, tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "a").mkdir(parents=True)
    (corpus / "b").mkdir()
    (corpus / "a" / "minutes.txt").write_text(document(7))
    (corpus / "b" / "minutes (1).txt").write_text(document(7))
    report = ingest(components, [corpus], COLLECTION)
    assert len(report.added) == 2
    assert report.chunks_embedded == report.chunks_reused > 0
    chunks, _ = assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
    assert texts_of(chunks, corpus / "a" / "minutes.txt") == texts_of(chunks, corpus / "b" / "minutes (1).txt")


def test_a_rewrite_within_the_timestamp_granularity_is_still_seen(components, tmp_path):
    """A file rewritten right after it was read, with the same size and (on a file system with
    coarse timestamps) the same mtime, is hashed again rather than trusted."""
    path = tmp_path / "corpus" / "notes.txt"
    path.parent.mkdir()
    path.write_text("The meeting is on Monday.\n")
    ingest(components, [path.parent], COLLECTION)
    stamp = os.stat(path).st_mtime_ns
    path.write_text("The meeting is on Friday.\n")  # same size
    os.utime(path, ns=(stamp, stamp))

    report = ingest(components, [path.parent], COLLECTION)
    assert report.updated == [str(path)]
    assert texts_of(stored(components.store, COLLECTION), path) == ["The meeting is on Friday."]


def test_removing_one_document_touches_only_its_own_chunks(components, tmp_path):
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus, 30)
    ingest(components, [corpus], COLLECTION)
    target = files[11]
    rows = manifest_rows(components.settings.manifest_path, COLLECTION)
    own = rows[str(target)]["chunk_ids"]
    total = len(stored(components.store, COLLECTION))
    assert 0 < len(own) < total

    calls = spy_on_chroma(components.store)
    pipeline, manifest = pipeline_for(components)
    try:
        assert pipeline.remove_source(COLLECTION, str(target)) == [str(target)]
    finally:
        manifest.close()
    assert_reads_and_writes_only(calls, own)

    # The same holds when the removal is a file that disappeared from a re-ingested folder.
    target.unlink()  # else the next ingest of its folder brings it back
    gone = files[20]
    own = rows[str(gone)]["chunk_ids"]
    gone.unlink()
    calls.clear()
    report = ingest(components, [corpus], COLLECTION)
    assert report.removed == [str(gone)] and report.files_hashed == 0
    assert_reads_and_writes_only(calls, own)

    chunks, rows = assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
    assert len(chunks) == total - 2 * len(own) and str(target) not in rows and str(gone) not in rows


def test_sources_under_a_folder_can_be_removed_together(components, tmp_path):
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus, 8)
    ingest(components, [corpus], COLLECTION)
    pipeline, manifest = pipeline_for(components)
    try:
        removed = pipeline.remove_source(COLLECTION, str(corpus / "team1"))
        assert pipeline.remove_source(COLLECTION, str(corpus / "team")) == []  # a prefix, not a folder
    finally:
        manifest.close()
    assert removed == sorted(str(p) for p in files if p.parent.name == "team1") and len(removed) == 2
    chunks, _ = assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
    assert sources(chunks) == {str(p) for p in files if p.parent.name != "team1"}


def test_one_writer_per_collection(components, tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 1)
    holder = Manifest(components.settings.manifest_path)
    try:
        with holder.lock(COLLECTION):
            with pytest.raises(CollectionBusy, match=f"pid {os.getpid()}"):
                ingest(components, [corpus], COLLECTION)
            assert ingest(components, [corpus], "other").ok  # another collection is free
    finally:
        holder.close()
    assert ingest(components, [corpus], COLLECTION).ok


def test_stopping_early_writes_what_was_finished_and_removes_nothing(components, tmp_path):
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus, 6)
    ingest(components, [corpus], COLLECTION)
    files[0].unlink()
    extra = write_corpus(corpus, 3, start=100)
    asked = []

    def should_stop():
        asked.append(1)
        return len(asked) > 2

    pipeline, manifest = pipeline_for(components)
    try:
        report = pipeline.run([corpus], COLLECTION, should_stop=should_stop)
        assert report.interrupted and not report.ok and report.removed == []
        assert str(files[0]) in sources(stored(components.store, COLLECTION))
        assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
        report = pipeline.run([corpus], COLLECTION)
    finally:
        manifest.close()
    assert report.removed == [str(files[0])] and sorted(report.added) == sorted(map(str, extra))
    chunks, _ = assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
    assert sources(chunks) == {str(p) for p in files[1:] + extra}


# ------------------------------------------------------------------ a spy on the real Chroma
class _CollectionSpy:
    def __init__(self, collection, calls):
        self._collection, self._calls = collection, calls

    def __getattr__(self, name):
        attribute = getattr(self._collection, name)
        if not callable(attribute):
            return attribute

        def recorded(*args, **kwargs):
            self._calls.append((name, kwargs.get("ids"), kwargs.get("limit")))
            return attribute(*args, **kwargs)
        return recorded


class _ClientSpy:
    def __init__(self, client, calls):
        self._client, self._calls = client, calls

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name in ("get_collection", "get_or_create_collection"):
            return lambda *a, **k: _CollectionSpy(attribute(*a, **k), self._calls)
        return attribute


def spy_on_chroma(store) -> list:
    """Record every call the Store makes on its Chroma collections (the real ones answer)."""
    calls: list = []
    store._client = _ClientSpy(store._client, calls)
    return calls


def assert_reads_and_writes_only(calls: list, own: list[str]) -> None:
    data_calls = [c for c in calls if c[0] in ("get", "delete", "upsert", "add", "update", "query", "peek", "count")]
    assert data_calls, "no call reached Chroma"
    for name, ids, limit in data_calls:
        assert name in ("get", "delete"), f"{name} during a removal"
        assert ids is not None, f"{name} without ids reads the whole collection"
        assert set(ids) <= set(own), f"{name} of chunks that are not the removed file's"
    deleted = [i for name, ids, _ in data_calls if name == "delete" for i in ids]
    assert sorted(deleted) == sorted(own)
