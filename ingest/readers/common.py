"""What every reader shares: the Section it returns, the two errors it may raise, text cleaning,
and the heading outline that turns (heading level, text) blocks into sections.

A reader raises UnreadableFile with a one-line reason a user can act on; a type with no reader
is UnsupportedFile, reported as skipped and never guessed at.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from assistant.passage import HeadingPath


def one_line(text: str, limit: int = 200) -> str:
    """A reason fit for one line of a report: no newlines, no runaway length."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


class UnsupportedFile(Exception):
    """No reader for this file type."""


class UnreadableFile(Exception):
    """A supported file that cannot be read; str(e) is the reason shown to the admin (always one line)."""

    def __init__(self, reason: str):
        super().__init__(one_line(reason, 240))


@dataclass
class Section:
    text: str
    page: int | None = None  # page of a PDF, slide of a PPTX
    heading: HeadingPath = field(default_factory=HeadingPath)  # "Chapter", "Section", outermost first
    ocr_confidence: float | None = None  # set when the text was read by OCR: mean word confidence, 0-100


def error_text(e: BaseException) -> str:
    """'Type: message' on one line, without the file path an OSError repeats (it may hold newlines)."""
    if isinstance(e, OSError) and e.strerror:
        return f"{type(e).__name__}: {e.strerror}"
    message = one_line(str(e), 120)
    return f"{type(e).__name__}: {message}" if message else type(e).__name__


def clean(text: str) -> str:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\f", "\n").replace("\v", "\n")
    text = re.sub(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]", "", text)  # zero-width marks, soft hyphens
    text = re.sub(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class HeadingOutline:
    """Body text grouped into sections under the heading path in force.

    A heading closes the section before it and replaces every open heading of its level or
    deeper. A page break closes the section too but leaves the path open: a chapter that runs
    over three PDF pages gives three sections, each with its page and the chapter's path.
    """

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self._open: list[tuple[int, str]] = []  # (level, heading), outermost first
        self._body: list[str] = []
        self._page: int | None = None

    @property
    def path(self) -> HeadingPath:
        return HeadingPath(heading for _, heading in self._open)

    def add(self, level: int, text: str) -> None:
        """A block: body text when level is 0, else a heading of that level (1 outermost)."""
        if not level:
            self._body.append(text)
            return
        heading = one_line(clean(text), 300)
        if not heading:
            return
        self._flush()
        self._open = [(lv, h) for lv, h in self._open if lv < level] + [(level, heading)]

    def new_page(self, number: int) -> None:
        self._flush()
        self._page = number

    def close(self) -> list[Section]:
        self._flush()
        return self.sections

    def _flush(self) -> None:
        text = clean("\n".join(self._body))
        if text:
            self.sections.append(Section(text=text, page=self._page, heading=self.path))
        self._body.clear()


def sections_by_heading(blocks: Iterable[tuple[int, str]]) -> list[Section]:
    """Group (heading level or 0 for body, text) blocks into sections under their heading path."""
    outline = HeadingOutline()
    for level, text in blocks:
        outline.add(level, text)
    sections = outline.close()
    if not sections and outline.path:  # headings only: keep them as text rather than lose the file
        sections.append(Section(text=str(outline.path)))
    return sections
