"""The document route: a source's "open" shows the document it comes from, and nothing else.

    GET /documents/<collection>/<chunk id>        a PDF itself (inline; the link adds #page=N),
                                                  any other file as its text page
    GET /documents/<collection>/<chunk id>/text   the text page, for any file (a PDF's too)

Nothing the browser sends is ever used as a file path. The two segments are checked for shape,
then the user must be able to read the collection (else 404, the same answer as for a collection
or id that does not exist, so a guess tells nothing); the chunk must be in that collection's store,
and the file its metadata names must be in that collection's manifest, fully ingested, with that
chunk among its own. Only then is the file read, once, and served only if its bytes still have the
hash they had when they were ingested: the route can serve nothing but bytes that were ingested
into a collection the user may read. A file changed or deleted since gets a page that says so (and
for a PDF, a link to the text as ingested).

The text page is built from the chunks the store holds for the file (consecutive chunks share
`chunk_overlap` word pieces: the overlap is shown once), so it is exactly the text the answers were
given, even for a scan read by OCR, and no parser runs on a request. Every character is escaped
(ui/render.py `document_page`); the cited passage is a <mark id="passage"> the link scrolls to.

Chromium's PDF viewer shows an inline PDF under the app's content security policy (object-src
'none', frame-ancestors 'none' apply to documents embedding it, not to a PDF opened in its own
tab): checked in Debian's Chromium 156, headless, which opened the viewer at the link's page.

Each document opened is audited (`document_opened`: user, collection, file, page, passage id,
which view, and whether the file was current, changed or deleted), never its content or a secret.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from assistant.accounts import AuditKind
from assistant.components import Components
from assistant.passage import MetadataKey, Passage
from assistant.store import check_collection_name
from assistant.errors import StoreError
from ingest.service import IngestService
from ui.render import DOCUMENT_ROUTE, DocumentBlock, document_page, internal_link
from ui.web.login import LOCAL_USER, browser_language
from ui.web.security import NO_STORE

log = logging.getLogger(__name__)

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
NOT_FOUND = "not found"
_PROBE_CHARS = 16  # an overlap shorter than this is not looked for (chunks share ~30 word pieces)

_TEXTS = {
    "en": {"changed": "This file has changed since it was ingested: it is not the text the answer was given. "
                      "Ask an administrator to ingest it again.",
           "deleted": "This file has been deleted or moved since it was ingested.",
           "as_ingested": "Below is its text as it was ingested.",
           "text_link": "Show the text as it was ingested", "original": "Open the original PDF",
           "page": "page", "slide": "slide"},
    "fr": {"changed": "Ce fichier a changé depuis son indexation : ce n'est plus le texte donné à la réponse. "
                      "Demandez à un administrateur de l'indexer à nouveau.",
           "deleted": "Ce fichier a été supprimé ou déplacé depuis son indexation.",
           "as_ingested": "Voici son texte tel qu'il a été indexé.",
           "text_link": "Afficher le texte tel qu'il a été indexé", "original": "Ouvrir le PDF d'origine",
           "page": "page", "slide": "diapositive"},
}


@dataclass
class Located:
    """A chunk of a collection and the ingested file it comes from."""
    collection: str
    passage: Passage
    source: str
    content_hash: str
    chunk_ids: list[str]


def merge_overlapping(texts: list[str]) -> tuple[str, list[int]]:
    """Consecutive chunks as one text, each overlap (the end of one that the next begins with)
    shown once; returns the text and where each chunk begins in it."""
    merged, starts = "", []
    for text in texts:
        overlap = _overlap(merged, text)
        if merged and not overlap:
            merged += "\n\n"
        starts.append(len(merged) - overlap)
        merged += text[overlap:]
    return merged, starts


def _overlap(before: str, text: str) -> int:
    """The longest start of `text` that `before` ends with (0 under _PROBE_CHARS)."""
    if len(text) < _PROBE_CHARS or not before:
        return 0
    tail = before[-len(text):]
    probe = text[:_PROBE_CHARS]
    position = tail.find(probe)
    while position >= 0:
        if text.startswith(tail[position:]):
            return len(tail) - position
        position = tail.find(probe, position + 1)
    return 0


class DocumentRoute:
    """The ASGI app mounted at /documents (ui/web/app.py): every path under it ends here."""

    def __init__(self, components: Components, current_user: Callable[[Scope], str | None]):
        self.components = components
        self.current_user = current_user
        self.router = Router(routes=[
            Route("/{collection}/{chunk_id}", self.open_document, methods=["GET"]),
            Route("/{collection}/{chunk_id}/text", self.open_text, methods=["GET"]),
        ])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await PlainTextResponse(NOT_FOUND, status_code=404)(scope, receive, send)
        await self.router(scope, receive, send)

    # ---------------------------------------------------------------- routes
    async def open_document(self, request: Request) -> Response:
        return await self._open(request, text=False)

    async def open_text(self, request: Request) -> Response:
        return await self._open(request, text=True)

    async def _open(self, request: Request, text: bool) -> Response:
        user = self.current_user(request.scope)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        collection, chunk_id = request.path_params["collection"], request.path_params["chunk_id"]
        language = browser_language(request)
        return await asyncio.to_thread(self._respond, user, collection, chunk_id, text, language)

    def _respond(self, user: str, collection: str, chunk_id: str, text: bool, language: str) -> Response:
        located = self.locate(user, collection, chunk_id)
        if located is None:
            log.info("refused %s the document of %s/%s: not found or not theirs", user, collection, chunk_id)
            return PlainTextResponse(NOT_FOUND, status_code=404, headers=NO_STORE)
        content, state = self._current_bytes(located)
        passage = located.passage
        is_pdf = passage.file_type == "pdf"
        view = "text" if text or not is_pdf else "original"
        if view == "original" and state != "current":
            self._audit(user, located, view, state, opened=False)
            t = _TEXTS[language]
            page = document_page(passage.relative_path, collection, [], notice=t[state],
                                 link=(self.text_href(located), t["text_link"]), language=language)
            return HTMLResponse(page, status_code=409 if state == "changed" else 410, headers=NO_STORE)
        self._audit(user, located, view, state, opened=True)
        if view == "original":
            return Response(content, media_type="application/pdf", headers={
                **NO_STORE, "content-disposition": _inline(Path(located.source).name)})
        return HTMLResponse(self._text_page(located, state, language, pdf_href=self.pdf_href(located) if is_pdf
                                            and state == "current" else None), headers=NO_STORE)

    # ---------------------------------------------------------------- looking up
    def locate(self, user: str, collection: str, chunk_id: str) -> Located | None:
        """The chunk and its ingested file, when `user` may read `collection` and the chunk is one of
        a fully ingested file of it; else None (whichever of these fails)."""
        if not (_SEGMENT.fullmatch(collection) and _SEGMENT.fullmatch(chunk_id)):
            return None
        try:
            check_collection_name(collection)
        except StoreError:
            return None
        if not self._may_read(user, collection):
            return None
        nodes = self.components.store.nodes(collection, [chunk_id])
        if len(nodes) != 1:
            return None
        node = nodes[0]
        source = str(node.metadata.get(MetadataKey.SOURCE, ""))
        record = IngestService(self.components).file_record(collection, source) if source else None
        if record is None or record.state != "done" or chunk_id not in record.chunk_ids:
            return None
        return Located(collection, Passage.from_record(node.node_id, node.text, node.metadata, 0.0, collection),
                       source, record.content_hash, list(record.chunk_ids))

    def _may_read(self, user: str, collection: str) -> bool:
        store = self.components.store
        if not store.has_collection(collection):
            return False
        if user == LOCAL_USER:  # the one user of a loopback UI without accounts reads everything
            return True
        return collection in self.components.accounts.readable(user, [collection])

    def _current_bytes(self, located: Located) -> tuple[bytes, str]:
        """The file's bytes, read once, and whether they are the ones ingested: "current",
        "changed" or "deleted" (gone, unreadable, or now larger than any ingest takes)."""
        limit = int(self.components.settings.max_file_mb * 1024 * 1024)
        try:
            with open(located.source, "rb") as f:
                content = f.read(limit + 1)
        except (FileNotFoundError, NotADirectoryError):
            return b"", "deleted"
        except OSError as e:
            log.warning("cannot read %s to show it: %s", located.source, e)
            return b"", "deleted"
        if len(content) > limit or hashlib.sha256(content).hexdigest() != located.content_hash:
            return b"", "changed"
        return content, "current"

    # ---------------------------------------------------------------- what is shown
    def _text_page(self, located: Located, state: str, language: str, pdf_href: str | None) -> str:
        t = _TEXTS[language]
        nodes = self.components.store.nodes(located.collection, located.chunk_ids)
        passages = sorted((Passage.from_record(n.node_id, n.text, n.metadata, 0.0, located.collection) for n in nodes),
                          key=lambda p: int(p.node.metadata.get(MetadataKey.CHUNK_INDEX, 0)))
        blocks: list[DocumentBlock] = []
        group: list[Passage] = []
        for passage in passages + [None]:
            if group and (passage is None or (passage.page, passage.heading) != (group[0].page, group[0].heading)):
                blocks.append(self._block(group, located.passage.chunk_id, t))
                group = []
            if passage is not None:
                group.append(passage)
        notice = f"{t[state]} {t['as_ingested']}" if state != "current" else ""
        ocr = any(p.ocr_confidence is not None for p in passages)
        return document_page(located.passage.relative_path, located.collection, blocks, notice=notice,
                             link=(pdf_href, t["original"]) if pdf_href else None, ocr=ocr, language=language)

    @staticmethod
    def _block(group: list[Passage], cited_id: str, t: dict) -> DocumentBlock:
        merged, starts = merge_overlapping([p.text for p in group])
        cited = None
        for passage, start in zip(group, starts):
            if passage.chunk_id == cited_id:
                cited = (start, start + len(passage.text))
        first = group[0]
        where = ""
        if first.page is not None:
            where = f"{t['slide'] if first.file_type == 'pptx' else t['page']} {first.page}"
        label = " — ".join(part for part in (where, str(first.heading)) if part)
        return DocumentBlock(label, merged, cited)

    def _audit(self, user: str, located: Located, view: str, state: str, opened: bool) -> None:
        passage = located.passage
        self.components.audit.record(AuditKind.DOCUMENT_OPENED, user, {
            "collection": located.collection, "file": located.source, "path": passage.relative_path,
            "page": passage.page, "passage": passage.chunk_id, "view": view, "state": state, "opened": opened})

    @staticmethod
    def pdf_href(located: Located) -> str:
        page = located.passage.page
        return internal_link(f"{DOCUMENT_ROUTE}{located.collection}/{located.passage.chunk_id}",
                             fragment=f"page={page}" if page else "")

    @staticmethod
    def text_href(located: Located) -> str:
        return internal_link(f"{DOCUMENT_ROUTE}{located.collection}/{located.passage.chunk_id}/text",
                             fragment="passage")


def _inline(name: str) -> str:
    """Content-Disposition for showing a file in the browser under its own name (RFC 6266)."""
    fallback = re.sub(r'[^A-Za-z0-9._ -]', "_", name) or "document.pdf"
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
