"""What a stored chunk carries and what retrieval hands on: the one place that knows the
metadata keys written with every chunk, the typed heading path, and the retrieved passage.

A retrieved passage is a llama-index `NodeWithScore` (its node a `TextNode` whose id is our
deterministic chunk id), so any llama-index postprocessor, synthesizer or evaluator takes it as
it is; the accessors below read our metadata through the keys defined here and nowhere else.
"""
from __future__ import annotations

from typing import Any, Mapping

from llama_index.core.schema import NodeWithScore, TextNode


class MetadataKey:
    """Keys of the metadata stored with each chunk (Chroma and node metadata alike)."""

    SOURCE = "source"  # absolute path of the file the chunk comes from
    ROOT = "root"  # the folder it was ingested from (absent in stores written before it was kept)
    FILE_NAME = "file_name"
    FILE_TYPE = "file_type"  # the reader's extension, e.g. "pdf"
    PAGE = "page"  # 1-based page or slide; absent when the format has none
    HEADING = "heading"  # the heading path, as str(HeadingPath)
    MTIME = "mtime"
    CHUNK_INDEX = "chunk_index"  # position within its file
    CONTENT_HASH = "content_hash"  # sha256 of the file's bytes
    OCR_CONFIDENCE = "ocr_confidence"  # mean OCR word confidence (0-100) of its page; absent when not OCR'd
    COLLECTION = "collection"  # set on retrieved nodes only: which collection answered


class HeadingPath(tuple):
    """The headings above a passage, outermost first ("Leave policy", "Part-time staff")."""

    SEPARATOR = " > "

    def __new__(cls, parts=()):
        return super().__new__(cls, tuple(p for p in (str(p).strip() for p in parts) if p))

    @classmethod
    def parse(cls, text: str | None) -> HeadingPath:
        return cls(text.split(cls.SEPARATOR)) if text else cls()

    def child(self, heading: str) -> HeadingPath:
        return HeadingPath((*self, heading))

    def innermost(self, count: int = 1) -> HeadingPath:
        return HeadingPath(self[-count:]) if count else HeadingPath(self)

    def __str__(self) -> str:
        return self.SEPARATOR.join(self)

    def __repr__(self) -> str:
        return f"HeadingPath({str(self)!r})"


def chunk_metadata(*, source: str, file_name: str, file_type: str, heading: HeadingPath, mtime: float,
                   chunk_index: int, content_hash: str, page: int | None,
                   ocr_confidence: float | None = None, root: str | None = None) -> dict[str, Any]:
    """The metadata written with a chunk (flat scalars: what Chroma stores)."""
    meta = {MetadataKey.SOURCE: source, MetadataKey.FILE_NAME: file_name, MetadataKey.FILE_TYPE: file_type,
            MetadataKey.HEADING: str(heading), MetadataKey.MTIME: mtime, MetadataKey.CHUNK_INDEX: chunk_index,
            MetadataKey.CONTENT_HASH: content_hash}
    if root is not None:
        meta[MetadataKey.ROOT] = root
    if page is not None:
        meta[MetadataKey.PAGE] = page
    if ocr_confidence is not None:
        meta[MetadataKey.OCR_CONFIDENCE] = float(ocr_confidence)
    return meta


def ocr_confidence_of(meta: Mapping[str, Any]) -> float | None:
    value = meta.get(MetadataKey.OCR_CONFIDENCE)
    return float(value) if isinstance(value, (int, float)) else None


def page_of(meta: Mapping[str, Any]) -> int | None:
    page = meta.get(MetadataKey.PAGE)
    return int(page) if isinstance(page, (int, float)) and page >= 1 else None


class Passage(NodeWithScore):
    """A retrieved chunk: `score` is the ranking score (fused in hybrid search, higher is better),
    `similarity` the cosine to the closest phrasing of the question (the evidence measure)."""

    similarity: float = 0.0

    @classmethod
    def from_record(cls, chunk_id: str, text: str, meta: Mapping[str, Any] | None, score: float,
                    collection: str, similarity: float = 0.0) -> Passage:
        metadata = dict(meta or {})
        metadata[MetadataKey.COLLECTION] = collection
        return cls(node=TextNode(id_=chunk_id, text=text, metadata=metadata), score=score, similarity=similarity)

    @property
    def chunk_id(self) -> str:
        return self.node.node_id

    @property
    def text(self) -> str:
        return self.node.get_content()

    @property
    def source(self) -> str:
        return str(self.node.metadata.get(MetadataKey.SOURCE, ""))

    @property
    def page(self) -> int | None:
        return page_of(self.node.metadata)

    @property
    def heading(self) -> HeadingPath:
        return HeadingPath.parse(self.node.metadata.get(MetadataKey.HEADING))

    @property
    def ocr_confidence(self) -> float | None:
        """Set when the passage's text was read by OCR from a scan (staff are told: it may hold misreadings)."""
        return ocr_confidence_of(self.node.metadata)

    @property
    def collection(self) -> str:
        return str(self.node.metadata.get(MetadataKey.COLLECTION, ""))

    @property
    def key(self) -> tuple[str, str]:
        """Identity across collections (one chunk id could exist in two)."""
        return self.collection, self.chunk_id

    @property
    def file_name(self) -> str:
        return self.source.replace("\\", "/").rsplit("/", 1)[-1]

    @property
    def file_type(self) -> str:
        return str(self.node.metadata.get(MetadataKey.FILE_TYPE, "")).lower()

    @property
    def relative_path(self) -> str:
        """The file's path inside the folder it was ingested from ("hr/leave-policy.md"), as staff
        know it; the file name alone for chunks stored before the folder was kept with them. Never
        the server's absolute path."""
        root = str(self.node.metadata.get(MetadataKey.ROOT, "") or "").replace("\\", "/").rstrip("/")
        source = self.source.replace("\\", "/")
        if root and source.startswith(root + "/"):
            relative = source[len(root) + 1:]
            if relative and ".." not in relative.split("/"):
                return relative
        return self.file_name

    @property
    def page_label(self) -> str:
        """"page 3", or "slide 3" for a presentation; "" when the format has no pages."""
        if self.page is None:
            return ""
        return f"{'slide' if self.file_type == 'pptx' else 'page'} {self.page}"

    def label(self, headings: int | None = None, *, relative: bool = False) -> str:
        """File, page and heading path; `headings` keeps only the innermost ones. `relative` names
        the file by its path in the ingested folder and a slide as a slide (what the UI shows);
        without it, the file name and "page" (what the model's prompt has always been given)."""
        parts = [self.relative_path if relative else self.file_name]
        if self.page is not None:
            parts.append(self.page_label if relative else f"page {self.page}")
        if self.heading:
            parts.append(str(self.heading.innermost(headings) if headings else self.heading))
        return ", ".join(parts)

    def as_json(self) -> dict:
        return {"source": self.source, "page": self.page, "score": round(self.score or 0.0, 4), "text": self.text}
