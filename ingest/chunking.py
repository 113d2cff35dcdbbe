"""Sections -> chunks small enough for the embedder to see whole.

Sizes are counted in the embedder's own word pieces: MiniLM truncates at 256, so a chunk longer
than that would be embedded by its head only and its tail could never be found.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from assistant.passage import HeadingPath
from ingest.readers import Section


@dataclass
class Chunk:
    text: str
    page: int | None
    heading: HeadingPath
    index: int  # position within its file
    ocr_confidence: float | None = None  # the page's OCR confidence (0-100) when OCR read it

    def embedding_text(self, title: str) -> str:
        """What is embedded: the file title and heading path give a passage its context."""
        context = str(HeadingPath((title, *self.heading)))
        return f"{context}\n{self.text}" if context else self.text


class Chunker:
    def __init__(self, count_tokens: Callable[[str], int], chunk_tokens: int, overlap: int,
                 tokenize: Callable[[str], list] | None = None):
        from llama_index.core.node_parser import SentenceSplitter

        # Heading context is prepended at embedding time; leave it room inside the window.
        self._splitter = SentenceSplitter(chunk_size=chunk_tokens, chunk_overlap=min(overlap, chunk_tokens // 4),
                                          tokenizer=tokenize or (lambda text: [0] * count_tokens(text)),
                                          paragraph_separator="\n\n")

    def split(self, sections: list[Section]) -> list[Chunk]:
        chunks: list[Chunk] = []
        for section in sections:
            for text in self._splitter.split_text(section.text):
                text = text.strip()
                if text:
                    chunks.append(Chunk(text=text, page=section.page, heading=section.heading, index=len(chunks),
                                        ocr_confidence=section.ocr_confidence))
        return chunks
