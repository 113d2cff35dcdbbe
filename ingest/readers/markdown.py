"""Markdown: ATX and setext headings become the heading path; front matter is dropped.

Parsed line by line rather than with a Markdown library: all a reader needs is where headings
are, and that a "# comment" inside a fenced code block is code, not a heading.
"""
from __future__ import annotations

import re
from pathlib import Path

from ingest.readers.common import Section, sections_by_heading
from ingest.readers.registry import register
from ingest.readers.text import decode_text

# YAML (--- ... --- or ...) or TOML (+++ ... +++) front matter, only at the very start of the file.
_FRONT_MATTER = re.compile(r"\A(?:---[ \t]*\n(?:.*?\n)?(?:---|\.\.\.)|\+\+\+[ \t]*\n(?:.*?\n)?\+\+\+)[ \t]*(?:\n|\Z)",
                           re.S)
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_NOT_PARAGRAPH = re.compile(r"^ {0,3}([-*+>|]|\d+[.)]|#|<)|^\s*$|^ {4}")


@register(".md", ".markdown")
def read_markdown(path: Path) -> list[Section]:
    text = decode_text(path.read_bytes()).replace("\r\n", "\n").replace("\r", "\n")
    text = _FRONT_MATTER.sub("", text, count=1)
    blocks: list[tuple[int, str]] = []
    fence = ""  # the opening fence while inside a code block
    for line in text.split("\n"):
        opening = _FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence) \
                    and not line.strip()[len(opening.group(1)):].strip():
                fence = ""
            blocks.append((0, line))
            continue
        if opening:
            fence = opening.group(1)
            blocks.append((0, line))
            continue
        atx = _ATX_HEADING.match(line)
        if atx:
            blocks.append((len(atx.group(1)), atx.group(2) or ""))
            continue
        setext = _SETEXT_UNDERLINE.match(line)
        if setext and blocks and blocks[-1][0] == 0 and not _NOT_PARAGRAPH.match(blocks[-1][1]):
            # "Title\n=====" or "Title\n-----": the line above is the heading
            blocks[-1] = (1 if setext.group(1)[0] == "=" else 2, blocks[-1][1].strip())
            continue
        blocks.append((0, line))
    return sections_by_heading(blocks)
