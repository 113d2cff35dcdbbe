"""discover -> diff against the manifest -> parse -> chunk -> embed -> upsert, crash-safe.

Unchanged files (same size and mtime, or same content hash) cost a stat or a hash, nothing more.
Files whose content is already in the collection under another path (a copy or a rename) reuse
the stored vectors. Files that disappeared from a folder being ingested are removed from the
collection.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from assistant.embedding import Embedder
from assistant.settings import Settings
from assistant.store import Store, check_collection_name
from ingest.chunking import Chunk, Chunker
from ingest.manifest import Manifest
from ingest.readers import UnreadableFile, UnsupportedFile, file_type, is_supported, read_file

log = logging.getLogger(__name__)

# Files are embedded together once this many chunks are waiting: big batches keep the CPU busy.
EMBED_BATCH_CHUNKS = 128


@dataclass
class IngestReport:
    collection: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_reused: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_json(self) -> dict:
        return {
            "collection": self.collection,
            "added": self.added, "updated": self.updated, "unchanged": len(self.unchanged),
            "removed": self.removed,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "chunks_embedded": self.chunks_embedded, "chunks_reused": self.chunks_reused,
            "seconds": round(self.seconds, 2),
        }


class Progress(Protocol):
    def start(self, total_files: int) -> None: ...
    def advance(self, files: int, chunks: int) -> None: ...
    def close(self) -> None: ...


class _NoProgress:
    def start(self, total_files: int) -> None:
        pass

    def advance(self, files: int, chunks: int) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class _Candidate:
    path: str
    size: int
    mtime: float
    content_hash: str
    existed: bool
    chunks: list[Chunk] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def chunk_id(path: str, content_hash: str, index: int) -> str:
    return f"{hashlib.sha1(path.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}-{content_hash[:16]}-{index}"


def discover(roots: Iterable[Path], report: IngestReport) -> Iterator[Path]:
    """Every file under the roots, recursively; links to folders are not followed (no loops)."""
    for root in roots:
        if root.is_file():
            yield root
            continue
        for folder, dirs, files in os.walk(root, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in dirs:
                if os.path.islink(os.path.join(folder, name)):
                    report.skipped.append((os.path.join(folder, name), "link to a folder, not followed"))
            for name in sorted(files):
                if not name.startswith("."):
                    yield Path(folder) / name


def _under(path: str, roots: list[Path]) -> bool:
    for root in roots:
        root_s = str(root)
        if path == root_s or path.startswith(root_s.rstrip(os.sep) + os.sep):
            return True
    return False


class IngestPipeline:
    def __init__(self, settings: Settings, store: Store, embedder: Embedder, manifest: Manifest):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.manifest = manifest
        self._chunker: Chunker | None = None

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            self._chunker = Chunker(self.embedder.count_tokens, self.settings.chunk_tokens,
                                    self.settings.chunk_overlap, tokenize=self.embedder.tokenize)
        return self._chunker

    # ------------------------------------------------------------------ public
    def run(self, paths: Iterable[Path], collection: str, progress: Progress | None = None,
            remove_missing: bool = True) -> IngestReport:
        check_collection_name(collection)
        progress = progress or _NoProgress()
        started = time.monotonic()
        report = IngestReport(collection=collection)
        roots = [Path(os.path.abspath(p)) for p in paths]
        self.recover(collection)
        self.store.create_collection(collection)
        known = self.manifest.files(collection)
        files = list(discover(roots, report))
        progress.start(len(files))
        seen: set[str] = set()
        waiting: list[_Candidate] = []
        for path in files:
            key = str(path)
            seen.add(key)
            candidate = self._examine(path, known.get(key), report)
            if candidate is None:
                progress.advance(1, 0)
                continue
            if self._reuse_copy(candidate, collection, report):
                progress.advance(1, len(candidate.chunks))
                continue
            waiting.append(candidate)
            if sum(len(c.chunks) for c in waiting) >= EMBED_BATCH_CHUNKS:
                self._write(waiting, collection, report, progress)
                waiting = []
        self._write(waiting, collection, report, progress)
        if remove_missing:
            for path, record in known.items():
                if path not in seen and _under(path, roots):
                    self._remove(collection, path, record.chunk_ids)
                    report.removed.append(path)
        progress.close()
        report.seconds = time.monotonic() - started
        return report

    def recover(self, collection: str | None = None) -> int:
        """Undo the writes of runs that were killed mid-file; their files are ingested again."""
        pending = self.manifest.pending(collection)
        for record in pending:
            log.info("repairing interrupted ingest of %s", record.path)
            self.store.delete(record.collection, record.chunk_ids + record.pending_ids)
            self.manifest.remove(record.collection, record.path)
        return len(pending)

    def remove_source(self, collection: str, path: str) -> bool:
        record = self.manifest.get(collection, path)
        if record is None:
            return False
        self._remove(collection, path, record.chunk_ids + record.pending_ids)
        return True

    # ------------------------------------------------------------------ steps
    def _examine(self, path: Path, record, report: IngestReport) -> _Candidate | None:
        """Decide what a file needs; parse it if it is new or changed. None when nothing to do."""
        key = str(path)
        if not is_supported(path):
            report.skipped.append((key, f"unsupported file type {path.suffix or '(no extension)'}"))
            return None
        try:
            stat = path.stat()
        except OSError as e:
            reason = "broken link or link loop" if path.is_symlink() else f"cannot read ({e.strerror})"
            report.failed.append((key, reason))
            return None
        if not path.is_file():
            report.skipped.append((key, "not a regular file"))
            return None
        if record is not None and record.state == "done" and record.size == stat.st_size and record.mtime == stat.st_mtime:
            report.unchanged.append(key)
            return None
        if stat.st_size == 0:
            report.failed.append((key, "empty file (0 bytes)"))
            return None
        limit = self.settings.max_file_mb * 1024 * 1024
        if stat.st_size > limit:
            report.failed.append((key, f"too large: {stat.st_size / 1048576:.1f} MB is over the "
                                       f"{self.settings.max_file_mb:g} MB limit (ASSISTANT_MAX_FILE_MB)"))
            return None
        try:
            content_hash = _sha256(path)
        except PermissionError:
            report.failed.append((key, "permission denied"))
            return None
        except OSError as e:
            report.failed.append((key, f"cannot read ({e.strerror})"))
            return None
        if record is not None and record.state == "done" and record.content_hash == content_hash:
            self.manifest.touch(report.collection, key, stat.st_size, stat.st_mtime)
            report.unchanged.append(key)
            return None
        candidate = _Candidate(key, stat.st_size, stat.st_mtime, content_hash, existed=record is not None)
        if self.manifest.done_with_hash(report.collection, content_hash) is not None:
            return candidate  # a copy: vectors are reused, no parsing needed
        try:
            sections = read_file(path)
        except (UnreadableFile, UnsupportedFile) as e:
            report.failed.append((key, str(e)))
            return None
        candidate.chunks = self.chunker.split(sections)
        if not candidate.chunks:
            report.failed.append((key, "no text found"))
            return None
        return candidate

    def _metadata(self, candidate: _Candidate, chunk: Chunk) -> dict:
        meta = {"source": candidate.path, "file_name": os.path.basename(candidate.path),
                "file_type": file_type(Path(candidate.path)), "heading": chunk.heading,
                "mtime": candidate.mtime, "chunk_index": chunk.index, "content_hash": candidate.content_hash}
        if chunk.page is not None:
            meta["page"] = chunk.page
        return meta

    def _reuse_copy(self, candidate: _Candidate, collection: str, report: IngestReport) -> bool:
        if candidate.chunks:
            return False
        original = self.manifest.done_with_hash(collection, candidate.content_hash)
        stored = self.store.get(collection, original.chunk_ids, with_embeddings=True)
        ids, texts, vectors, metas = [], [], [], []
        for old_id, text, meta, vector in zip(stored["ids"], stored["documents"], stored["metadatas"],
                                              stored["embeddings"]):
            index = int(meta.get("chunk_index", len(ids)))
            ids.append(chunk_id(candidate.path, candidate.content_hash, index))
            texts.append(text)
            vectors.append(list(vector))
            metas.append(dict(meta, source=candidate.path, file_name=os.path.basename(candidate.path),
                              mtime=candidate.mtime))
            candidate.chunks.append(Chunk(text=text, page=meta.get("page"), heading=meta.get("heading", ""),
                                          index=index))
        self._commit_file(candidate, collection, ids, vectors, texts, metas)
        (report.updated if candidate.existed else report.added).append(candidate.path)
        report.chunks_reused += len(ids)
        return True

    def _write(self, waiting: list[_Candidate], collection: str, report: IngestReport, progress: Progress) -> None:
        if not waiting:
            return
        texts = [chunk.embedding_text(Path(c.path).stem) for c in waiting for chunk in c.chunks]
        vectors = self.embedder.embed(texts)
        offset = 0
        for candidate in waiting:
            n = len(candidate.chunks)
            ids = [chunk_id(candidate.path, candidate.content_hash, chunk.index) for chunk in candidate.chunks]
            self._commit_file(candidate, collection, ids, vectors[offset:offset + n],
                              [chunk.text for chunk in candidate.chunks],
                              [self._metadata(candidate, chunk) for chunk in candidate.chunks])
            offset += n
            (report.updated if candidate.existed else report.added).append(candidate.path)
            report.chunks_embedded += n
            progress.advance(1, n)

    def _commit_file(self, candidate: _Candidate, collection: str, ids, vectors, texts, metas) -> None:
        previous = self.manifest.get(collection, candidate.path)
        self.manifest.begin(collection, candidate.path, candidate.content_hash, candidate.size, candidate.mtime, ids)
        self.store.upsert(collection, ids, vectors, texts, metas)
        if previous is not None:
            stale = set(previous.chunk_ids) - set(ids)
            self.store.delete(collection, sorted(stale))
        self.manifest.commit(collection, candidate.path)

    def _remove(self, collection: str, path: str, ids: list[str]) -> None:
        self.store.delete(collection, ids)
        self.manifest.remove(collection, path)
