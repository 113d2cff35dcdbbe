"""The one place that opens the ingest manifest and runs the pipeline with it: ingest, watch,
remove a source, delete a collection, list what is stored, and the throwaway home an evaluation
ingests into. The CLI, the web upload and the tests all go through here, so the wiring (and its
closing) is written once."""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from assistant.components import Components
from assistant.errors import CollectionNotFound
from assistant.settings import Settings
from assistant.store import check_collection_name
from ingest.manifest import FileRecord, IngestRun, Manifest, OnWait, open_manifest, shares_manifest
from ingest.pipeline import IngestPipeline, IngestReport, Progress
from ingest.watch import watch


@dataclass
class CollectionSummary:
    name: str
    files: int
    chunks: int
    embedding_model: str


class IngestService:
    def __init__(self, components: Components):
        self.components = components

    @contextlib.contextmanager
    def _manifest(self) -> Iterator[Manifest]:
        manifest = open_manifest(self.components.settings)
        try:
            yield manifest
        finally:
            manifest.close()

    @property
    def shares_manifest(self) -> bool:
        """The manifest is in the PostgreSQL accounts database, shared with other machines: an
        `assistant ingest` there waits for another one of the same collection, not refused."""
        return shares_manifest(self.components.settings)

    @contextlib.contextmanager
    def _pipeline(self) -> Iterator[IngestPipeline]:
        with self._manifest() as manifest:
            c = self.components
            yield IngestPipeline(c.settings, c.store, c.embedder, manifest)

    def ingest(self, paths: Iterable[Path], collection: str, progress: Progress | None = None,
               remove_missing: bool = True, should_stop: Callable[[], bool] | None = None,
               on_wait: OnWait | None = None) -> IngestReport:
        """Bring `collection` in line with the files under `paths` (see IngestPipeline.run; with
        on_wait, a collection another process is writing is waited for, not refused)."""
        with self._pipeline() as pipeline:
            return pipeline.run([Path(p) for p in paths], collection, progress=progress,
                                remove_missing=remove_missing, should_stop=should_stop, on_wait=on_wait)

    def ingest_each(self, paths: Iterable[Path], collection: str) -> Iterator[tuple[Path, IngestReport]]:
        """Ingest files one at a time, yielding each one's report when it is in: for a face that
        shows progress file by file (the web upload). Each file is a run of its own, under the
        collection's lock and crash-safe like any other; nothing is removed."""
        with self._pipeline() as pipeline:
            for path in paths:
                yield Path(path), pipeline.run([Path(path)], collection, remove_missing=False)

    def watch(self, paths: Iterable[Path], collection: str, *, interval: float, stop: threading.Event,
              on_report: Callable[[IngestReport, int], None], remove_missing: bool = True,
              progress: Callable[[], Progress] | None = None, on_busy: Callable[[str], None] | None = None,
              max_rounds: int | None = None) -> int:
        with self._pipeline() as pipeline:
            return watch(pipeline, [Path(p) for p in paths], collection, interval=interval, stop=stop,
                         on_report=on_report, remove_missing=remove_missing, progress=progress, on_busy=on_busy,
                         max_rounds=max_rounds)

    def remove_sources(self, collection: str, paths: Iterable[str]) -> tuple[list[str], list[str]]:
        """Remove files (or every file under a folder) from a collection: (removed, not found)."""
        self.components.store.require(collection)
        removed, not_found = [], []
        with self._pipeline() as pipeline:
            for path in paths:
                gone = pipeline.remove_source(collection, os.path.abspath(path))
                removed.extend(gone)
                if not gone:
                    not_found.append(path)
        return removed, not_found

    def delete_collection(self, name: str) -> None:
        """Delete a collection and its manifest rows, crash-safe: the rows are first marked
        pending, so a kill half-way leaves rows the next ingest repairs."""
        check_collection_name(name)
        with self._manifest() as manifest, manifest.lock(name):
            manifest.begin_collection_removal(name)
            try:
                self.components.store.delete_collection(name)
            except CollectionNotFound:
                if not manifest.file_count(name):
                    raise
            manifest.remove_collection(name)

    def collections(self) -> list[CollectionSummary]:
        store = self.components.store
        with self._manifest() as manifest:
            return [CollectionSummary(name, manifest.file_count(name), store.count(name), store.embedder_of(name))
                    for name in store.collection_names()]

    def file_record(self, collection: str, path: str) -> FileRecord | None:
        """What the manifest holds of one file of a collection (the document route's check)."""
        with self._manifest() as manifest:
            return manifest.get(collection, path)

    def sources(self, collection: str) -> list[FileRecord]:
        self.components.store.require(collection)
        with self._manifest() as manifest:
            return sorted(manifest.files(collection).values(), key=lambda r: r.path)

    def runs(self, collection: str | None = None) -> list[IngestRun]:
        """The last ingests recorded (of one collection, or of all), newest first, with their failures."""
        with self._manifest() as manifest:
            return manifest.runs(collection)


@contextlib.contextmanager
def throwaway_home(settings: Settings) -> Iterator[Components]:
    """Components over a temporary ASSISTANT_HOME with the user's settings, for an evaluation:
    the user's collections are not touched, and the assembled model is shared, not copied."""
    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as scratch:
        home = Path(scratch)
        if settings.models_path.is_dir():
            (home / "models").symlink_to(settings.models_path, target_is_directory=True)
        yield Components(settings.model_copy(update={"home": home}))
