"""The seam with llama-index, both ways: our readers as a llama-index BaseReader, and a
llama-index BaseReader as one of our readers.

DocumentReader lets a company that builds on llama-index use these readers where it already
reads files (SimpleDirectoryReader(file_extractor={".pdf": DocumentReader(), ...})), with the
metadata keys our chunks carry. sections_reader goes the other way: registry.register() wraps
any BaseReader with it, so a reader of theirs, or one of llama-index's own, reads a format for
our pipeline. What crosses the seam is text, page and heading path: the metadata our answers
cite from.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document

from assistant.passage import MetadataKey
from ingest.readers.common import Section, clean
from ingest.readers.registry import Reader, file_type, read_file

# Where llama-index readers put the page: PDFReader writes "page_label" (a string), others "page".
_PAGE_KEYS = ("page_label", MetadataKey.PAGE)


class DocumentReader(BaseReader):
    """One llama-index Document per section of a file, read by our reader for its type.

    Raises UnsupportedFile or UnreadableFile as read_file does (SimpleDirectoryReader skips such
    a file unless raise_on_error is set).
    """

    def load_data(self, file: Path | str, extra_info: dict | None = None, fs: Any = None) -> list[Document]:
        if fs is not None:
            # SimpleDirectoryReader passes fs only for a non-local file system, which read_file cannot read.
            raise ValueError("DocumentReader reads local files only")
        path = Path(file)
        common = {**(extra_info or {}), MetadataKey.SOURCE: os.path.abspath(path), MetadataKey.FILE_NAME: path.name,
                  MetadataKey.FILE_TYPE: file_type(path)}  # ours win: file_type is the extension, as in our chunks
        return [Document(text=section.text, metadata=_metadata(common, section)) for section in read_file(path)]


def _metadata(common: Mapping[str, Any], section: Section) -> dict[str, Any]:
    meta = {**common, MetadataKey.HEADING: str(section.heading)}
    if section.page is not None:
        meta[MetadataKey.PAGE] = section.page
    return meta


def _page(meta: Mapping[str, Any]) -> int | None:
    """The first page number found, 1-based; a printed label like 'iv' is not one."""
    for key in _PAGE_KEYS:
        value = meta.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    return None


def sections_reader(reader: BaseReader) -> Reader:
    """A registry reader that reads through a llama-index BaseReader: one section per Document.

    Its Documents have no heading path, so the sections have none; the page is taken from the
    Document's metadata where the reader set one.
    """
    def read(path: Path) -> list[Section]:
        sections = []
        for document in reader.load_data(path):
            text = clean(document.text or "")
            if text:
                sections.append(Section(text=text, page=_page(document.metadata)))
        return sections

    read.__name__ = read.__qualname__ = f"read_with_{type(reader).__name__}"
    return read
