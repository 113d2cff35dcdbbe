"""Where the manifest lives, who waits for a collection's lock, and what a run over part of a
folder may remove. The PostgreSQL manifest itself is tested against a real server in
tests/servers/test_manifest_postgresql.py."""
from __future__ import annotations

import os
import threading

import pytest

from assistant.settings import load_settings
from ingest.manifest import CollectionBusy, Manifest, open_manifest, shares_manifest
from tests.conftest import components_for, ingest
from tests.ingest.conftest import assert_consistent, write_corpus

POSTGRES = "postgresql+psycopg://assistant@db.internal:5432/assistant"


@pytest.mark.parametrize("settings, shared", [
    ({}, False),
    ({"accounts_url": "sqlite:////srv/accounts.sqlite", "chroma_mode": "server"}, False),
    ({"accounts_url": POSTGRES}, False),  # an embedded Chroma is this home's: so is its manifest
    ({"accounts_url": POSTGRES, "chroma_mode": "server"}, True),
])
def test_the_manifest_is_shared_only_in_postgresql_beside_a_chroma_server(home, settings, shared):
    assert shares_manifest(load_settings(home=home, **settings)) is shared


def test_by_default_the_manifest_is_the_sqlite_file_in_the_home(home):
    manifest = open_manifest(load_settings(home=home))
    try:
        assert type(manifest) is Manifest and manifest.path == home / "manifest.sqlite"
    finally:
        manifest.close()


def test_a_caller_that_waits_is_told_who_holds_the_lock_and_gets_it_once_freed(tmp_path):
    holder, waiter = Manifest(tmp_path / "manifest.sqlite"), Manifest(tmp_path / "manifest.sqlite")
    locked, release, told, order = threading.Event(), threading.Event(), [], []

    def hold():
        with holder.lock("docs"):
            locked.set()
            release.wait()
            order.append("holder lets go")

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        locked.wait()
        with pytest.raises(CollectionBusy):
            with waiter.lock("docs"):
                pass

        def on_wait(message: str) -> None:
            told.append(message)
            release.set()  # the holder finishes only once the waiter has been told

        with waiter.lock("docs", on_wait=on_wait):
            order.append("waiter has it")
    finally:
        release.set()
        thread.join()
        holder.close()
        waiter.close()
    assert told == [f"collection 'docs' is being written by another process (pid {os.getpid()})"]
    assert order == ["holder lets go", "waiter has it"]


def test_the_lock_is_not_waited_for_when_free(tmp_path):
    manifest = Manifest(tmp_path / "manifest.sqlite")
    told = []
    try:
        with manifest.lock("docs", on_wait=told.append):
            pass
    finally:
        manifest.close()
    assert told == []


def test_a_run_over_one_half_of_a_folder_never_removes_the_other_half(home, embedder, tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 4, paragraphs=1, words=30)  # team0 .. team3, one file each
    components = components_for(home, embedder)
    halves = [[corpus / "team0", corpus / "team1"], [corpus / "team2", corpus / "team3"]]
    assert ingest(components, halves[0], "docs").ok and ingest(components, halves[1], "docs").ok
    (corpus / "team0" / "doc-00000.txt").unlink()

    report = ingest(components, halves[0], "docs")

    assert report.removed == [str(corpus / "team0" / "doc-00000.txt")]
    _, rows = assert_consistent(components.store, components.settings.manifest_path, "docs")
    assert sorted(rows) == sorted(str(p) for p in corpus.rglob("*.txt"))
