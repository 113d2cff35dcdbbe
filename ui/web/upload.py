"""Adding files from the browser: drop several files on the page, each is stored under the home
and ingested by the same code as `assistant ingest`, and the page shows each file's progress and,
for a bad one, the same one-line reason the CLI prints.

    browser (the drop zone of the chat page, UPLOAD_JS) -> POST /upload?collection=NAME (ours, not
    Gradio's: Gradio's upload route stays closed, ui/web/guard.py) -> the write grant -> store
    each file in ASSISTANT_HOME/uploads/NAME/ -> IngestService.ingest_each -> one JSON line per
    step back to the page -> the audit trail (AuditKind.UPLOAD)

Who may: only a user with the write grant on the collection (`Accounts.writable`; the no-login
loopback user writes every collection, as it reads every one). The grant is checked before the
body is read, so a refused user's files are never received. The page shows the drop zone only
to a user who may write somewhere, listing only those collections.

An uploaded name is untrusted: only its last path segment is kept, with anything but letters,
digits and a few marks replaced, and no leading dot (hidden files are never ingested). A file
with the name of an earlier upload replaces it (an updated version), and the page says so; when
the new one fails to ingest, the earlier one is put back and keeps answering. A file that fails
is not kept. Files are written under a hidden folder first and moved into place whole.

Limits: `upload_max_files` files and `upload_max_total_mb` in all per upload (a larger request is
refused before its body is read), and `max_file_mb` per file, applied by the pipeline with the
CLI's reason. Uploads to one collection are taken one at a time in this process; a CLI ingest
holding the collection's lock makes the upload fail with the CLI's "being written" line.
"""
from __future__ import annotations

import hashlib
import html
import json
import logging
import os
import queue
import re
import shutil
import threading
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from assistant.accounts import AuditKind
from assistant.components import Components
from assistant.errors import AssistantError
from assistant.settings import make_private_dirs
from ingest.pipeline import IngestReport
from ingest.service import IngestService

log = logging.getLogger(__name__)

UPLOAD_ROUTE = "/upload"
MB = 1024 * 1024
# What a multipart body adds to its files: boundaries and part headers (a few hundred bytes each).
FORM_OVERHEAD_BYTES = 64 * 1024
MAX_NAME_BYTES = 150
INCOMING = ".incoming"  # hidden: never ingested; files are written here, then moved into place
_NAME_MARKS = " ._-()+,@&'"
OK_STATES = ("added", "updated", "unchanged")


def safe_file_name(name: str | None) -> str:
    """The name an uploaded file is stored under: its last path segment, letters, digits and a few
    marks only, no leading dot or space, at most MAX_NAME_BYTES in UTF-8 (the extension kept)."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c if c.isalnum() or c in _NAME_MARKS else "_" for c in name)
    name = re.sub(r"_{2,}", "_", name).strip(" ").lstrip(".").rstrip(". ")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = ("." + suffix[:16]) if suffix else ""
    stem = stem.strip(" ") or "upload"
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix


def _sha256(file: BinaryIO) -> str:
    digest = hashlib.sha256()
    while block := file.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()


@dataclass
class _Entry:
    """One file of an upload, from the name it came with to what became of it."""

    index: int
    name: str  # as the browser sent it (shown back, recorded; never used as a path)
    stored_as: str
    path: Path | None = None
    previous: Path | None = None  # the earlier upload of that name, set aside until this one is in
    state: str = "waiting"
    message: str = ""

    def event(self) -> dict:
        return {"file": self.index, "name": self.name, "stored_as": self.stored_as, "state": self.state,
                "message": self.message}

    def audit(self) -> dict:
        detail = {"name": self.name[:200], "stored_as": self.stored_as, "outcome": self.state}
        if self.state not in OK_STATES:
            detail["reason"] = self.message
        return detail


class Uploads:
    """Stores uploaded files and ingests them, reporting each step (see the module docstring)."""

    def __init__(self, components: Components):
        self.components = components
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @property
    def settings(self):
        return self.components.settings

    def writable_collections(self, username: str | None) -> list[str]:
        from ui.web.login import LOCAL_USER

        if not username:
            return []
        existing = self.components.store.collection_names()
        if username == LOCAL_USER:
            return existing
        return self.components.accounts.writable(username, existing)

    def folder(self, collection: str) -> Path:
        return self.settings.uploads_path / collection

    def _lock(self, collection: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(collection, threading.Lock())

    def run(self, username: str, collection: str, files: list[tuple[str | None, BinaryIO]],
            emit: Callable[[dict], None]) -> list[_Entry]:
        """Store and ingest `files` ((name, content) each) into `collection`, which the caller has
        checked `username` may write; `emit` gets each step as a JSON-ready dict."""
        entries = self._entries(files)
        emit({"files": [e.name for e in entries]})
        outcome = "error"
        try:
            with self._lock(collection):
                folder = make_private_dirs(self.folder(collection))
                incoming = make_private_dirs(folder / INCOMING)
                for entry, (_, content) in zip(entries, files):
                    if entry.state == "waiting":
                        self._store(entry, content, folder, incoming)
                    if entry.state == "failed":  # a name taken twice, or a file that could not be written
                        emit(entry.event())
                self._ingest(collection, [e for e in entries if e.path is not None], emit)
            done = [e for e in entries if e.state in OK_STATES]
            outcome = "ok" if len(done) == len(entries) else ("partial" if done else "failed")
            emit({"done": True, "outcome": outcome, "message": _summary(collection, entries)})
        finally:
            self.components.audit.record(AuditKind.UPLOAD, username, {
                "collection": collection, "outcome": outcome, "files": [e.audit() for e in entries]})
        return entries

    @staticmethod
    def _entries(files: list[tuple[str | None, BinaryIO]]) -> list[_Entry]:
        entries, taken = [], set()
        for index, (name, _) in enumerate(files):
            entry = _Entry(index, name or "", safe_file_name(name))
            if entry.stored_as in taken:
                entry.state = "failed"
                entry.message = f"another file of this upload is also named {entry.stored_as}; rename one"
            taken.add(entry.stored_as)
            entries.append(entry)
        return entries

    def _store(self, entry: _Entry, content: BinaryIO, folder: Path, incoming: Path) -> None:
        target = folder / entry.stored_as
        part = incoming / f"{uuid.uuid4().hex}.part"
        try:
            with part.open("xb") as out:
                content.seek(0)
                shutil.copyfileobj(content, out, 1 << 20)
            if os.path.lexists(target):
                if target.is_symlink() or not target.is_file():
                    raise _NotStored(f"{entry.stored_as} exists in the upload folder and is not an earlier upload")
                with target.open("rb") as old, part.open("rb") as new:
                    same = _sha256(old) == _sha256(new)
                if same:  # the same file again: left as it is, so the ingest sees it unchanged
                    part.unlink()
                    entry.path = target
                    return
                entry.previous = incoming / f"{uuid.uuid4().hex}.previous"
                os.replace(target, entry.previous)
            os.replace(part, target)
            entry.path = target
        except (OSError, _NotStored) as e:
            part.unlink(missing_ok=True)
            entry.state = "failed"
            entry.message = str(e) if isinstance(e, _NotStored) else f"cannot store the file ({e.strerror})"
            log.warning("upload of %r not stored: %s", entry.name, entry.message)

    def _ingest(self, collection: str, entries: list[_Entry], emit: Callable[[dict], None]) -> None:
        each = IngestService(self.components).ingest_each([e.path for e in entries], collection)
        try:
            for position, entry in enumerate(entries):
                entry.state, entry.message = "ingesting", "reading and indexing…"
                emit(entry.event())
                try:
                    _, report = next(each)
                except AssistantError as e:  # the collection's lock held elsewhere, or gone
                    for rest in entries[position:]:
                        rest.state, rest.message = "failed", str(e)
                        self._settle(rest)
                        emit(rest.event())
                    return
                entry.state, entry.message = _outcome(report)
                if entry.previous is not None and entry.state in OK_STATES:
                    entry.message += "; replaced the earlier upload of the same name"
                if entry.stored_as != entry.name and entry.state in OK_STATES:
                    entry.message += f"; stored as {entry.stored_as}"
                self._settle(entry)
                emit(entry.event())
        finally:
            each.close()
            for entry in entries:
                if entry.state in ("waiting", "ingesting"):  # a bug raised mid-way: leave nothing half-kept
                    entry.state, entry.message = "failed", "not ingested (an error occurred); try again"
                    self._settle(entry)

    @staticmethod
    def _settle(entry: _Entry) -> None:
        """After its ingest: a failed file goes (the earlier upload of its name comes back); a
        file that is in lets the earlier one go."""
        if entry.path is None:
            return
        if entry.state in OK_STATES:
            if entry.previous is not None:
                entry.previous.unlink(missing_ok=True)
        elif entry.previous is not None:
            os.replace(entry.previous, entry.path)
        else:
            entry.path.unlink(missing_ok=True)


class _NotStored(Exception):
    pass


def _outcome(report: IngestReport) -> tuple[str, str]:
    """(state, one line) of a one-file run: the pipeline's own reason when it failed or skipped it."""
    if report.failed:
        return "failed", report.failed[0][1]
    if report.skipped:
        return "skipped", report.skipped[0][1]
    passages = report.chunks_embedded + report.chunks_reused
    notes = "".join(f"; {note}" for _, note in report.notes)
    if report.added:
        return "added", f"added: {passages} passage{'s' if passages != 1 else ''}{notes}"
    if report.updated:
        return "updated", f"updated: {passages} passage{'s' if passages != 1 else ''}{notes}"
    if report.unchanged:
        return "unchanged", "unchanged: already in the collection"
    return "failed", "not ingested (stopped before it); try again"


def _summary(collection: str, entries: list[_Entry]) -> str:
    done = sum(e.state in OK_STATES for e in entries)
    text = f"{done} of {len(entries)} file{'s' if len(entries) != 1 else ''} in {collection}"
    if done:
        text += ": ask about them now"
    bad = len(entries) - done
    return text + (f"; {bad} not added (see the reason beside each)." if bad else ".")


# ---------------------------------------------------------------------------- the route
def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"cache-control": "no-store"})


class UploadRoute:
    """POST /upload?collection=NAME, a multipart body of `files`; answers one JSON line per step."""

    def __init__(self, components: Components, current_user: Callable, uploads: Uploads | None = None):
        self.components = components
        self.current_user = current_user
        self.uploads = uploads or Uploads(components)

    async def __call__(self, request: Request) -> Response:
        import asyncio

        settings = self.components.settings
        user = self.current_user(request.scope)
        if user is None:
            return _error(401, "not logged in")
        collection = request.query_params.get("collection", "")
        writable = await asyncio.to_thread(self.uploads.writable_collections, user)
        if collection not in writable:
            await asyncio.to_thread(self.components.audit.record, AuditKind.UPLOAD, user,
                                    {"collection": collection[:100], "outcome": "no_access", "files": []})
            return _error(403, "You may not add files to this collection.")
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            return _error(411, "the upload must say its length")
        limit = settings.upload_max_total_mb * MB
        if int(length) > limit + FORM_OVERHEAD_BYTES:
            return _error(413, f"too large: this upload is {int(length) / MB:.1f} MB, over the "
                               f"{settings.upload_max_total_mb:g} MB limit of one upload "
                               "(ASSISTANT_UPLOAD_MAX_TOTAL_MB); send fewer files at a time")
        try:
            form = await request.form(max_files=settings.upload_max_files, max_fields=4)
        except HTTPException:
            return _error(413, f"too many files: at most {settings.upload_max_files} in one upload "
                               "(ASSISTANT_UPLOAD_MAX_FILES)")
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not files:
            await form.close()
            return _error(400, "no files in the upload")
        return StreamingResponse(self._events(user, collection, files), media_type="application/x-ndjson",
                                 headers={"cache-control": "no-store"})

    def _events(self, user: str, collection: str, files: list[UploadFile]) -> Iterator[str]:
        """The worker's steps as JSON lines. The work runs in a thread of its own and finishes even
        if the browser goes away: a file half-way is never left for a closed tab to decide."""
        steps: queue.Queue = queue.Queue()
        end = object()

        def work() -> None:
            try:
                self.uploads.run(user, collection, [(f.filename, f.file) for f in files], steps.put)
            except Exception:
                log.exception("upload to %s failed", collection)
                steps.put({"done": True, "outcome": "error", "message": "The upload failed; try again."})
            finally:
                for f in files:
                    f.file.close()
                steps.put(end)

        threading.Thread(target=work, name="upload", daemon=True).start()
        while (step := steps.get()) is not end:
            yield json.dumps(step, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- the page's part
def panel_html(collections: list[str], settings) -> str:
    """The drop zone, for a user who may write to `collections` ("" when there are none: no control)."""
    if not collections:
        return ""
    default = settings.default_collection if settings.default_collection in collections else collections[0]
    options = "".join(f'<option value="{html.escape(c)}"{" selected" if c == default else ""}>{html.escape(c)}</option>'
                      for c in collections)
    return (f'<section class="upload-panel" data-max-files="{settings.upload_max_files}" '
            f'data-max-mb="{settings.upload_max_total_mb:g}" aria-label="Add files">'
            f'<label class="upload-label">Add files to <select class="upload-collection" id="upload-collection">'
            f'{options}</select></label>'
            '<div class="upload-drop" id="upload-drop" role="button" tabindex="0">Drop files here, or press to '
            'choose them (PDF, Word, PowerPoint, Excel, text, HTML, e-mail, scans)</div>'
            '<input class="upload-input" id="upload-input" type="file" multiple hidden>'
            '<p class="upload-note" id="upload-note" role="status" aria-live="polite"></p>'
            '<ul class="upload-files" id="upload-files"></ul></section>')


UPLOAD_CSS = """
.upload-drop { border: 2px dashed #94a3b8; border-radius: 8px; padding: 1rem; text-align: center; cursor: pointer; }
.upload-drop.over, .upload-drop:focus { border-color: #2563eb; background: #eff6ff; outline: none; }
.upload-files { list-style: none; padding: 0; margin: .5rem 0 0; }
.upload-file { display: grid; grid-template-columns: minmax(0, 2fr) 6rem minmax(0, 3fr); gap: .5rem; align-items: center; }
.upload-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.upload-file.failed .upload-state { color: #b91c1c; }
"""

# Runs once per page; listens on the component's root, so it holds however often the panel is redrawn.
UPLOAD_JS = r"""
const root = element;
const one = (selector) => root.querySelector(selector);
const zoneOf = (event) => event.target.closest ? event.target.closest('.upload-drop') : null;
root.addEventListener('dragover', (e) => { const z = zoneOf(e); if (z) { e.preventDefault(); z.classList.add('over'); } });
root.addEventListener('dragleave', (e) => { const z = zoneOf(e); if (z) z.classList.remove('over'); });
root.addEventListener('drop', (e) => {
  const z = zoneOf(e); if (!z) return;
  e.preventDefault(); z.classList.remove('over'); send(Array.from(e.dataTransfer.files));
});
root.addEventListener('click', (e) => { if (zoneOf(e)) one('.upload-input').click(); });
root.addEventListener('keydown', (e) => {
  if (zoneOf(e) && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); one('.upload-input').click(); }
});
root.addEventListener('change', (e) => {
  if (e.target.matches && e.target.matches('.upload-input')) { send(Array.from(e.target.files)); e.target.value = ''; }
});
function send(files) {
  const panel = one('.upload-panel'); if (!panel || !files.length) return;
  const note = one('.upload-note'), list = one('.upload-files');
  const maxFiles = Number(panel.dataset.maxFiles), maxMb = Number(panel.dataset.maxMb);
  list.replaceChildren();
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (files.length > maxFiles) { note.textContent = `Too many files: at most ${maxFiles} in one upload.`; return; }
  if (total > maxMb * 1048576) {
    note.textContent = `Too large: ${(total / 1048576).toFixed(1)} MB is over the ${maxMb} MB limit of one upload.`;
    return;
  }
  const rows = files.map((f) => {
    const li = document.createElement('li'); li.className = 'upload-file'; li.dataset.state = 'sending';
    const name = document.createElement('span'); name.className = 'upload-name'; name.textContent = f.name;
    const bar = document.createElement('progress'); bar.max = 100; bar.value = 0;
    const state = document.createElement('span'); state.className = 'upload-state'; state.textContent = 'waiting';
    li.append(name, bar, state); list.append(li);
    return { li, bar, state };
  });
  const ends = []; files.reduce((sum, f) => { ends.push(sum + f.size); return sum + f.size; }, 0);
  const collection = one('.upload-collection').value;
  const form = new FormData(); files.forEach((f) => form.append('files', f, f.name));
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/upload?collection=' + encodeURIComponent(collection));
  xhr.upload.onprogress = (e) => {
    const sent = e.total ? e.loaded / e.total * total : e.loaded;
    rows.forEach((r, i) => {
      const start = i ? ends[i - 1] : 0, size = files[i].size || 1;
      const part = Math.max(0, Math.min(1, (sent - start) / size));
      r.bar.value = 50 * part; r.state.textContent = part < 1 ? 'sending…' : 'sent, waiting for its turn';
    });
  };
  let read = 0;
  const take = () => {
    if (xhr.status !== 200) return;
    const text = xhr.responseText; let end;
    while ((end = text.indexOf('\n', read)) >= 0) {
      const line = text.slice(read, end); read = end + 1;
      if (line.trim()) show(JSON.parse(line));
    }
  };
  const show = (step) => {
    if (step.file !== undefined) {
      const r = rows[step.file]; r.li.dataset.state = step.state; r.state.textContent = step.message;
      r.bar.value = step.state === 'ingesting' ? 75 : 100;
      r.li.classList.toggle('failed', !['ingesting', 'added', 'updated', 'unchanged'].includes(step.state));
    }
    if (step.done) { note.textContent = step.message; panel.dataset.done = step.outcome; }
  };
  xhr.onprogress = take;
  xhr.onload = () => {
    take();
    if (xhr.status !== 200) {
      let message = `The upload was refused (${xhr.status}).`;
      try { message = JSON.parse(xhr.responseText).error; } catch (_) {}
      note.textContent = message;
      rows.forEach((r) => { r.state.textContent = 'not added'; r.li.classList.add('failed'); });
      panel.dataset.done = 'refused';
    }
  };
  xhr.onerror = () => { note.textContent = 'The upload was interrupted: check the connection and try again.'; };
  panel.dataset.done = '';
  note.textContent = `Sending ${files.length} file${files.length === 1 ? '' : 's'} to ${collection}…`;
  xhr.send(form);
}
"""
