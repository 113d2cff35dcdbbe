"""Sections -> chunks small enough for the embedder to see whole.

Sizes are counted in the embedder's own word pieces: MiniLM truncates at 256, so a chunk longer
than that would be embedded by its head only and its tail could never be found.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from assistant.passage import HeadingPath
from ingest.readers import Section


# llama-index splits a sentence too long for a chunk at every comma and full stop, "3,64 €" and
# "2.5" included, so a chunk could start "64 €" (fr-handbook's canteen prices): one between
# digits is part of the number.
PHRASE = r"(?:[^,.;。？！]|(?<=\d)[,.](?=\d))+[,.;。？！]?|[,.;。？！]"
_LINE = re.compile(r"[^\n]*\n+|[^\n]+$")


def lines_then_sentences(split_sentences: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """Split at line ends before sentences: a table row or list item ends with its line and has no
    full stop, so the sentence tokenizer would run a whole table together and a chunk end could
    fall inside a row. A piece keeps its line end."""
    def split(text: str) -> list[str]:
        return [piece for line in _LINE.findall(text) for piece in (split_sentences(line) or [line])]
    return split


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
        from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

        # Heading context is prepended at embedding time; leave it room inside the window.
        self._splitter = SentenceSplitter(chunk_size=chunk_tokens, chunk_overlap=min(overlap, chunk_tokens // 4),
                                          tokenizer=tokenize or (lambda text: [0] * count_tokens(text)),
                                          paragraph_separator="\n\n",
                                          chunking_tokenizer_fn=lines_then_sentences(split_by_sentence_tokenizer()),
                                          secondary_chunking_regex=PHRASE)

    def split(self, sections: list[Section]) -> list[Chunk]:
        chunks: list[Chunk] = []
        for section in sections:
            for text in self._splitter.split_text(section.text):
                text = text.strip()
                if text:
                    chunks.append(Chunk(text=text, page=section.page, heading=section.heading, index=len(chunks),
                                        ocr_confidence=section.ocr_confidence))
        return chunks
