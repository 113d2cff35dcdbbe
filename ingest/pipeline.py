"""discover -> diff against the manifest -> parse -> chunk -> embed -> upsert, crash-safe.

Unchanged files cost a stat (same size and modification time as recorded), or a hash when the
stat changed or cannot be trusted; nothing more. Files whose content is already in the
collection under another path (a copy or a rename), or met earlier in the same run, reuse those
vectors instead of being embedded again. Files that disappeared from a folder being ingested are
removed from the collection, at a cost proportional to their own chunks.

Links: links to folders are not followed (no loops). A link to a file is followed only when its
target, fully resolved (os.path.realpath), lies inside the folder being ingested and is not hidden:
that is content of the same folder, which the run would read under its own name anyway (its
passages are then stored twice, once per name; the copy reuse above embeds them once). A link
that leads out of that folder (another team's folder, /etc/shadow), however many links the chain
has, is skipped with a reason, and what was ingested under its name is removed like a file that
disappeared: whoever can write into a shared folder must not be able to pull into the collection
a file they cannot read themselves but the account running the ingest can. A file named as a
PATH is in its parent folder: a link named so gets the same rule, and is told to name its target.
The check is made just before the file is examined, not when the folder is listed; what it cannot
see is a file or folder swapped for a link between that check and the reading (the readers open
files by name: closing that window needs them to read from a descriptor opened once).
Hard links and bind mounts cannot be told apart from the files themselves, and are read.

Scans (PDF pages without a text layer, images) are read by OCR, about a second a page: the
next few scans of the list are read ahead in threads while the files before them are examined,
so a folder of scans keeps `ocr_workers` tesseract processes busy (ingest/readers/ocr.py). What
is read ahead is used only if the file's hash is still the one read ahead; a file the manifest
holds with the same content is not read ahead at all: an unchanged folder is never OCR'd again.
Pages OCR read with a confidence below `ocr_min_confidence` are ingested and listed in the
report's notes; a scan met without the OCR engine installed is skipped, never failed.

Crash safety (see ingest/manifest.py): rows are marked 'pending' before their chunks are written
and 'done' after; the next run deletes whatever a 'pending' row names and ingests the file again.
Chunk ids are derived from (path, content hash, position), so a repaired run writes exactly the
ids and texts a clean run writes.
"""
from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from llama_index.core.schema import TextNode

from assistant.embedding import Embedder
from assistant.passage import HeadingPath, MetadataKey, chunk_metadata, ocr_confidence_of, page_of
from assistant.settings import Settings
from assistant.store import Store, check_collection_name
from assistant.store.space import disk_full
from ingest.chunking import Chunk, Chunker
from ingest.manifest import FileRecord, IngestRun, Manifest, OnWait, PendingWrite
from ingest.readers import OcrUnavailable, Section, UnreadableFile, UnsupportedFile, file_type, is_supported, read_file
from ingest.readers import ocr

log = logging.getLogger(__name__)

# Files are embedded together once this many chunks are waiting: big batches keep the CPU busy,
# and one store write per batch instead of one per file keeps small files cheap.
EMBED_BATCH_CHUNKS = 128
# Chunks reused from the store also wait for the batch write; this bounds the memory they take.
MAX_WAITING_CHUNKS = 4096
# A recorded (size, mtime) is trusted only if the file had not been modified within this many
# seconds before it was read: on file systems with coarse timestamps (FAT: 2 s, some network
# shares: 1 s) a file rewritten right after it was read could otherwise keep the same stat.
RACY_SECONDS = 2.0
# Files that may need OCR, read ahead of the loop (see the module docstring).
MAY_BE_SCANNED = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})


@dataclass
class IngestReport:
    collection: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # ingested, with something to check ("page 3: low OCR confidence")
    chunks_embedded: int = 0
    chunks_reused: int = 0
    chunks_removed: int = 0
    files_hashed: int = 0  # files whose stat did not match the manifest and were read to hash them
    repaired: int = 0  # files left half-written by a killed run, repaired before this one
    interrupted: bool = False  # stopped early on request: nothing was removed, the rest waits for the next run
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

    def as_run(self, roots: list[str]) -> IngestRun:
        return IngestRun(collection=self.collection, finished_at=time.time(), seconds=self.seconds, roots=roots,
                         added=len(self.added), updated=len(self.updated), unchanged=len(self.unchanged),
                         removed=len(self.removed), chunks_embedded=self.chunks_embedded,
                         interrupted=self.interrupted, failed=self.failed, skipped=self.skipped, notes=self.notes,
                         failed_count=len(self.failed), skipped_count=len(self.skipped))

    def as_json(self) -> dict:
        return {
            "collection": self.collection,
            "added": self.added, "updated": self.updated, "unchanged": len(self.unchanged),
            "removed": self.removed,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "notes": [{"path": p, "note": n} for p, n in self.notes],
            "chunks_embedded": self.chunks_embedded, "chunks_reused": self.chunks_reused,
            "chunks_removed": self.chunks_removed, "files_hashed": self.files_hashed,
            "repaired": self.repaired, "interrupted": self.interrupted,
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
    """A new or changed file on its way into the store."""

    path: str
    size: int
    mtime: float
    checked_at: float  # when its stat was taken, before it was read
    content_hash: str
    previous: FileRecord | None
    root: str = ""  # the folder it is ingested from: sources show the path inside it
    chunks: list[Chunk] = field(default_factory=list)
    vectors: list | None = None  # set when reused instead of embedded
    metas: list[dict] | None = None
    copy_of: _Candidate | None = None  # same content as a file earlier in this batch

    @property
    def ids(self) -> list[str]:
        return [chunk_id(self.path, self.content_hash, chunk.index) for chunk in self.chunks]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _hash_and_read(path: Path, known_hash: str | None) -> tuple[str, list[Section] | None]:
    """For a read ahead: the file's hash, and its sections unless that hash is the one already stored.
    A file that cannot be read is left for the loop to read again and report."""
    try:
        content_hash = _sha256(path)
    except OSError:
        return "", None
    if content_hash == known_hash:
        return content_hash, None
    try:
        return content_hash, read_file(path)
    except (UnreadableFile, UnsupportedFile):
        return content_hash, None


def chunk_id(path: str, content_hash: str, index: int) -> str:
    return f"{hashlib.sha1(path.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}-{content_hash[:16]}-{index}"


def discover(roots: Iterable[Path], report: IngestReport, unlisted: list[str] | None = None) -> Iterator[Path]:
    """Every file under the roots, recursively; links to folders are not followed (no loops).
    Links to files are yielded: which of them are followed is decided when each is examined.

    A root that does not exist or a folder that cannot be listed is reported as failed and added
    to `unlisted`: what was ingested from there must be kept, not taken for deleted."""
    unlisted = unlisted if unlisted is not None else []

    def cannot_list(error: OSError) -> None:
        name = error.filename or "?"
        report.failed.append((str(name), f"cannot list folder ({error.strerror}); "
                                         "what was ingested from it is kept"))
        unlisted.append(str(name))

    for root in roots:
        if not os.path.lexists(root):
            report.failed.append((str(root), "no such file or folder; what was ingested from it is kept"))
            unlisted.append(str(root))
            continue
        if not root.is_dir():
            yield root  # a file, or something that is neither: reported when examined
            continue
        for folder, dirs, files in os.walk(root, followlinks=False, onerror=cannot_list):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in dirs:
                if os.path.islink(os.path.join(folder, name)):
                    report.skipped.append((os.path.join(folder, name), "link to a folder, not followed"))
            for name in sorted(files):
                if not name.startswith("."):
                    yield Path(folder) / name


def ingested_root(path: Path, folders: list[tuple[str, str]]) -> str:
    """The folder a file is ingested from, as given (the innermost folder root holding it; its own
    folder for a file named as a PATH): kept with its chunks, so that sources show the path inside it."""
    key = str(path)
    holding = [given for given, _ in folders if _under(key, [given])]
    return max(holding, key=len) if holding else str(path.parent)


def _under(path: str, roots: Iterable[str]) -> bool:
    for root in roots:
        if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False


LINK_OUT_OF_FOLDER = "link to a file outside the folder being ingested, not followed"
LINK_TO_HIDDEN = "link to a hidden file or folder, not followed (hidden files and folders are not ingested)"


def _link_not_followed(path: Path, folders: list[tuple[str, str]]) -> str | None:
    """Why a link to a file is not followed (see the module docstring), or None: not a link, a
    broken one (reported as such when examined), or one that stays inside the folder being
    ingested. `folders` are the folder roots of the run, each as given and fully resolved."""
    if not os.path.islink(path) or not os.path.exists(path):
        return None
    target = os.path.realpath(path)
    key = str(path)
    inside = [real for given, real in folders if _under(key, [given])]
    named = not inside  # a file named as a PATH: the folder being ingested is the one it lies in
    if named:
        inside = [os.path.realpath(path.parent)]
    if not _under(target, inside):
        reason = LINK_OUT_OF_FOLDER
    else:
        folder = max((real for real in inside if _under(target, [real])), key=len)
        if not any(part.startswith(".") for part in Path(os.path.relpath(target, folder)).parts):
            return None
        reason = LINK_TO_HIDDEN
    return f"{reason}; to ingest {target}, name it itself" if named else reason


class IngestPipeline:
    def __init__(self, settings: Settings, store: Store, embedder: Embedder, manifest: Manifest):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.manifest = manifest
        self._chunker: Chunker | None = None
        ocr.configure(ocr.OcrOptions(languages=settings.ocr_languages, workers=settings.ocr_workers))
        self._ahead: dict[str, Future | None] = {}  # path -> its read ahead; None: looked at, not read

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            self._chunker = Chunker(self.embedder.count_tokens, self.settings.chunk_tokens,
                                    self.settings.chunk_overlap, tokenize=self.embedder.tokenize)
        return self._chunker

    # ------------------------------------------------------------------ public
    def run(self, paths: Iterable[Path], collection: str, progress: Progress | None = None,
            remove_missing: bool = True, should_stop: Callable[[], bool] | None = None,
            on_wait: OnWait | None = None) -> IngestReport:
        """Bring `collection` in line with the files under `paths`.

        should_stop is asked between files; when it answers True the run ends early, writing
        nothing more and removing nothing (the next run picks up where this one stopped).
        on_wait: when another process is writing the collection, wait for it (after telling
        on_wait why) instead of raising CollectionBusy; the manifest is read once the lock is ours."""
        check_collection_name(collection)
        paths = list(paths)
        with self.manifest.lock(collection, on_wait=on_wait, should_stop=should_stop):
            try:
                report = self._run(paths, collection, progress or _NoProgress(), remove_missing,
                                   should_stop or (lambda: False))
            except Exception as e:  # a full disk reaches us in each store's own words, or in none
                full = disk_full(e, self.settings.home)
                if full is None:
                    raise
                raise full from e
            self.manifest.record_run(report.as_run([os.path.abspath(p) for p in paths]))  # for the admin page
            return report

    def recover(self, collection: str | None = None) -> int:
        """Undo the writes of runs that were killed mid-file; their files are ingested again."""
        pending = self.manifest.pending(collection)
        by_collection: dict[str, list[FileRecord]] = {}
        for record in pending:
            log.info("repairing interrupted ingest of %s", record.path)
            by_collection.setdefault(record.collection, []).append(record)
        for name, records in by_collection.items():
            self.store.delete(name, [i for r in records for i in r.chunk_ids + r.pending_ids])
            self.manifest.remove(name, [r.path for r in records])
        return len(pending)

    def remove_source(self, collection: str, path: str) -> list[str]:
        """Remove one file, or every file under a folder, from a collection; the paths removed."""
        check_collection_name(collection)
        with self.manifest.lock(collection):
            self.recover(collection)
            record = self.manifest.get(collection, path)
            records = [record] if record is not None else self.manifest.under(collection, path)
            self._remove(collection, records)
            return sorted(r.path for r in records)

    # ------------------------------------------------------------------ run
    def _run(self, paths: Iterable[Path], collection: str, progress: Progress, remove_missing: bool,
             should_stop: Callable[[], bool]) -> IngestReport:
        started = time.monotonic()
        report = IngestReport(collection=collection)
        roots = list(dict.fromkeys(Path(os.path.abspath(p)) for p in paths))
        report.repaired = self.recover(collection)
        if not self.store.has_collection(collection):
            # Rows of a collection the store no longer has name no chunks (a deletion was killed
            # half-way, or the store was wiped): forget them so that their files are ingested again.
            self.manifest.remove_collection(collection)
            self.store.create_collection(collection)
        known = self.manifest.files(collection)
        unlisted: list[str] = []
        files = list(discover(roots, report, unlisted))
        folders = [(str(root), os.path.realpath(root)) for root in roots if root.is_dir()]
        progress.start(len(files))
        seen: set[str] = set()
        not_followed: set[str] = set()  # links out of the folder: what came from them goes, as if missing
        waiting: list[_Candidate] = []
        waiting_by_hash: dict[tuple[str, str], _Candidate] = {}
        to_embed = in_memory = 0  # chunks of the waiting files: to embed, and in all
        readers = ThreadPoolExecutor(max_workers=self.settings.ocr_workers, thread_name_prefix="read-ahead")
        try:
            for position, path in enumerate(files):
                self._read_ahead(readers, files, position, known)
                if should_stop():
                    report.interrupted = True
                    break
                key = str(path)
                if key in seen:  # the same file under two of the roots given
                    progress.advance(1, 0)
                    continue
                seen.add(key)
                reason = _link_not_followed(path, folders)
                if reason is not None:
                    report.skipped.append((key, reason))
                    not_followed.add(key)
                    progress.advance(1, 0)
                    continue
                candidate = self._examine(path, known.get(key), report, waiting_by_hash,
                                          ingested_root(path, folders))
                if candidate is None:
                    progress.advance(1, 0)
                    continue
                waiting.append(candidate)
                waiting_by_hash.setdefault((candidate.content_hash, file_type(path)), candidate)
                progress.advance(0, 0)  # read and split: counted once written, but the clock moves
                size = len((candidate.copy_of or candidate).chunks)
                to_embed += size if candidate.vectors is None and candidate.copy_of is None else 0
                in_memory += size
                if to_embed >= EMBED_BATCH_CHUNKS or in_memory >= MAX_WAITING_CHUNKS:
                    self._write(waiting, collection, report, progress)
                    waiting, waiting_by_hash = [], {}
                    to_embed = in_memory = 0
            if not report.interrupted:
                self._write(waiting, collection, report, progress)
                if remove_missing:
                    gone = [record for key, record in known.items()
                            if (key not in seen or key in not_followed) and _under(key, map(str, roots))
                            and not _under(key, unlisted)]
                    report.chunks_removed += self._remove(collection, gone)
                    report.removed.extend(sorted(r.path for r in gone))
        finally:
            readers.shutdown(wait=True, cancel_futures=True)
            self._ahead.clear()
            progress.close()
            report.seconds = time.monotonic() - started
        return report

    # ------------------------------------------------------------------ steps
    def _examine(self, path: Path, record: FileRecord | None, report: IngestReport,
                 waiting_by_hash: dict[tuple[str, str], _Candidate], root: str) -> _Candidate | None:
        """Decide what a file needs; parse it if it is new or changed. None when nothing to do."""
        key = str(path)
        if not is_supported(path):
            report.skipped.append((key, f"unsupported file type {path.suffix or '(no extension)'}"))
            return None
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            report.failed.append((key, "file name is not valid UTF-8; rename the file"))
            return None
        checked_at = time.time()
        try:
            st = os.stat(path)
        except OSError as e:
            reason = "broken link or link loop" if path.is_symlink() else f"cannot read ({e.strerror})"
            report.failed.append((key, reason))
            return None
        if not stat.S_ISREG(st.st_mode):
            report.skipped.append((key, "not a regular file"))
            return None
        if (record is not None and record.state == "done" and record.size == st.st_size
                and record.mtime == st.st_mtime and record.mtime < record.updated_at - RACY_SECONDS):
            report.unchanged.append(key)
            return None
        if st.st_size == 0:
            report.failed.append((key, "empty file (0 bytes)"))
            return None
        limit = self.settings.max_file_mb * 1024 * 1024
        if st.st_size > limit:
            report.failed.append((key, f"too large: {st.st_size / 1048576:.1f} MB is over the "
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
        report.files_hashed += 1
        if record is not None and record.state == "done" and record.content_hash == content_hash:
            self.manifest.touch(report.collection, key, st.st_size, st.st_mtime, checked_at)
            report.unchanged.append(key)
            return None
        candidate = _Candidate(key, st.st_size, st.st_mtime, checked_at, content_hash, previous=record, root=root)
        same = waiting_by_hash.get((content_hash, file_type(path)))
        if same is not None:
            candidate.copy_of = same  # a copy of a file in this batch: its vectors are reused
            return candidate
        if self._reuse_stored(candidate, report.collection):
            return candidate
        try:
            sections = self._read(path, content_hash)
        except OcrUnavailable as e:
            report.skipped.append((key, str(e)))
            return None
        except (UnreadableFile, UnsupportedFile) as e:
            report.failed.append((key, str(e)))
            return None
        candidate.chunks = self.chunker.split(sections)
        if not candidate.chunks:
            report.failed.append((key, "no text found"))
            return None
        report.notes.extend((key, note) for note in self._ocr_notes(sections))
        return candidate

    def _read_ahead(self, readers: ThreadPoolExecutor, files: list[Path], position: int,
                    known: dict[str, FileRecord]) -> None:
        """Start reading the next few files that may be scans, unless the manifest says they are unchanged."""
        for path in files[position:position + 2 * self.settings.ocr_workers]:
            key = str(path)
            if key in self._ahead or path.suffix.lower() not in MAY_BE_SCANNED:
                continue
            self._ahead[key] = None  # looked at once: one stat per file, as without read-ahead
            record = known.get(key)
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (record is not None and record.state == "done" and record.size == st.st_size
                    and record.mtime == st.st_mtime):
                continue
            self._ahead[key] = readers.submit(_hash_and_read, path, record.content_hash if record else None)

    def _read(self, path: Path, content_hash: str) -> list[Section]:
        """The file's sections: as read ahead when that was the same content, else read now."""
        future = self._ahead.pop(str(path), None)
        if future is not None:
            read_hash, sections = future.result()
            if read_hash == content_hash and sections is not None:
                return sections
        return read_file(path)

    def _ocr_notes(self, sections: list[Section]) -> list[str]:
        """'page 3: low OCR confidence (41 %)' for each page OCR read badly."""
        notes, seen = [], set()
        for section in sections:
            confidence = section.ocr_confidence
            if confidence is None or confidence >= self.settings.ocr_min_confidence or section.page in seen:
                continue
            seen.add(section.page)
            where = f"page {section.page}: " if section.page is not None else ""
            notes.append(f"{where}low OCR confidence ({confidence:.0f} %); check the text, or scan it again")
        return notes

    def _reuse_stored(self, candidate: _Candidate, collection: str) -> bool:
        """Fill in chunks and vectors from a stored file with the same content and type, if any."""
        kind = file_type(Path(candidate.path))
        original = next((r for r in self.manifest.done_with_hash(collection, candidate.content_hash)
                         if file_type(Path(r.path)) == kind and r.path != candidate.path), None)
        if original is None or not original.chunk_ids:
            return False
        stored = self.store.nodes(collection, original.chunk_ids, with_embeddings=True)
        if len(stored) != len(original.chunk_ids):
            log.warning("stored chunks of %s are incomplete; embedding %s anew", original.path, candidate.path)
            return False
        stored.sort(key=lambda node: int(node.metadata.get(MetadataKey.CHUNK_INDEX, 0)))
        candidate.vectors, candidate.metas = [], []
        for node in stored:
            chunk = Chunk(text=node.text, page=page_of(node.metadata),
                          heading=HeadingPath.parse(node.metadata.get(MetadataKey.HEADING)),
                          index=int(node.metadata.get(MetadataKey.CHUNK_INDEX, len(candidate.chunks))),
                          ocr_confidence=ocr_confidence_of(node.metadata))
            candidate.chunks.append(chunk)
            candidate.vectors.append(node.embedding)
            candidate.metas.append(self._metadata(candidate, chunk))
        return True

    def _metadata(self, candidate: _Candidate, chunk: Chunk) -> dict:
        return chunk_metadata(source=candidate.path, file_name=os.path.basename(candidate.path),
                              file_type=file_type(Path(candidate.path)), heading=chunk.heading,
                              mtime=candidate.mtime, chunk_index=chunk.index, content_hash=candidate.content_hash,
                              page=chunk.page, ocr_confidence=chunk.ocr_confidence, root=candidate.root or None)

    def _write(self, waiting: list[_Candidate], collection: str, report: IngestReport, progress: Progress) -> None:
        """Embed what needs it, then write every waiting file in one crash-safe step."""
        if not waiting:
            return
        fresh = [c for c in waiting if c.vectors is None and c.copy_of is None]
        texts = [chunk.embedding_text(Path(c.path).stem) for c in fresh for chunk in c.chunks]
        vectors = self.embedder.embed(texts)
        offset = 0
        for candidate in fresh:
            n = len(candidate.chunks)
            candidate.vectors = vectors[offset:offset + n]
            candidate.metas = [self._metadata(candidate, chunk) for chunk in candidate.chunks]
            offset += n
        for candidate in waiting:
            if candidate.copy_of is not None:
                original = candidate.copy_of
                candidate.chunks = list(original.chunks)
                candidate.vectors = original.vectors
                candidate.metas = [self._metadata(candidate, chunk) for chunk in candidate.chunks]

        ids = {c.path: c.ids for c in waiting}
        self.manifest.begin(collection, [PendingWrite(c.path, c.content_hash, c.size, c.mtime, ids[c.path],
                                                      c.checked_at) for c in waiting])
        self.store.upsert(collection, [
            TextNode(id_=node_id, text=chunk.text, metadata=meta, embedding=vector)
            for c in waiting for node_id, chunk, meta, vector in zip(ids[c.path], c.chunks, c.metas, c.vectors)])
        stale = [i for c in waiting if c.previous is not None
                 for i in sorted(set(c.previous.chunk_ids) - set(ids[c.path]))]
        self.store.delete(collection, stale)
        self.manifest.commit(collection, [c.path for c in waiting])

        for candidate in waiting:
            (report.updated if candidate.previous is not None else report.added).append(candidate.path)
            if candidate in fresh:
                report.chunks_embedded += len(candidate.chunks)
            else:
                report.chunks_reused += len(candidate.chunks)
            progress.advance(1, len(candidate.chunks))

    def _remove(self, collection: str, records: list[FileRecord]) -> int:
        """Delete files' chunks and rows; a kill half-way leaves 'pending' rows the next run repairs.
        Touches only these files' own chunk ids. Returns how many chunks were deleted."""
        if not records:
            return 0
        paths = [r.path for r in records]
        ids = [i for r in records for i in r.chunk_ids + r.pending_ids]
        self.manifest.begin_removal(collection, paths)
        self.store.delete(collection, ids)
        self.manifest.remove(collection, paths)
        return len(ids)
