"""HTML pages: the text a reader of the page sees, under its h1-h6 heading path.

Saved intranet pages carry navigation, scripts, cookie banners and hidden blocks; indexed, they
would answer questions with menu entries. Only visible content is kept, page chrome (header,
footer) only where it belongs to the article itself. Tables go through table_lines unless they
only lay the page out.
"""
from __future__ import annotations

import re
from pathlib import Path

from ingest.readers.common import Section, sections_by_heading
from ingest.readers.registry import register
from ingest.readers.tables import table_lines
from ingest.readers.text import decode_text

_INVISIBLE_TAGS = ("script", "style", "noscript", "template", "nav", "aside", "form", "svg", "iframe", "button",
                   "select", "textarea", "object", "embed", "canvas", "audio", "video", "map", "title", "meta",
                   "link", "base", "head", "dialog", "menu")
# Page chrome: dropped unless it belongs to an article or the main content.
_CHROME_TAGS = ("header", "footer")
_HIDDEN_SELECTOR = ('[hidden], [aria-hidden="true"], [role="navigation"], [role="search"], [role="banner"], '
                    '[role="contentinfo"], [role="complementary"]')
_HIDDEN_STYLE = re.compile(r"(display\s*:\s*none|visibility\s*:\s*hidden)", re.I)
_BLOCK_TAGS = {"address", "article", "blockquote", "body", "caption", "center", "dd", "details", "div", "dl", "dt",
               "fieldset", "figcaption", "figure", "footer", "header", "hr", "html", "legend", "li", "main", "ol", "p",
               "section", "summary", "ul", "tr", "td", "th", "tbody", "thead", "tfoot"}
_HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def html_blocks(markup: str) -> list[tuple[int, str]]:
    """Visible text of an HTML document as (heading level or 0, text) blocks in reading order."""
    from bs4 import BeautifulSoup, NavigableString, Tag
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(_INVISIBLE_TAGS):
        if tag.name == "head" and tag.find("body") is not None:
            continue  # an unclosed <head> swallowed the body: keep it, its title/meta were removed already
        tag.decompose()
    for tag in soup(_CHROME_TAGS):
        if tag.find_parent(["article", "main"]) is None:
            tag.decompose()
    for tag in soup.select(_HIDDEN_SELECTOR):
        tag.decompose()
    for tag in soup.find_all(style=_HIDDEN_STYLE):
        tag.decompose()

    blocks: list[tuple[int, str]] = []
    line: list[str] = []

    def flush() -> None:
        text = "".join(line)
        line.clear()
        text = "\n".join(re.sub(r"[ \t\r\n\f]+", " ", part).strip() for part in text.split("\x00"))
        text = text.strip()
        if text:
            blocks.append((0, text))

    def cell_text(cell) -> str:
        return re.sub(r"\s+", " ", cell.get_text(" ", strip=True))

    def is_layout_table(table) -> bool:
        return table.get("role") in ("presentation", "none") or table.find(["table", *_HEADING_TAGS]) is not None

    def table_rows(table) -> list[list[str]]:
        rows = []
        for tr in table.find_all("tr"):
            if tr.find_parent("table") is not table:
                continue
            row = []
            for cell in tr.find_all(["td", "th"], recursive=False):
                try:
                    span = max(1, min(int(cell.get("colspan", 1)), 50))
                except ValueError:
                    span = 1
                row.extend([cell_text(cell)] * span)
            rows.append(row)
        return rows

    def walk(node) -> None:
        for child in node.children:
            if isinstance(child, (Comment, Declaration, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, NavigableString):
                line.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in _HEADING_TAGS:
                flush()
                blocks.append((_HEADING_TAGS[name], cell_text(child)))
            elif name == "br":
                line.append("\x00")
            elif name == "pre":
                flush()
                text = child.get_text()
                if text.strip():
                    blocks.append((0, text.strip("\n")))
            elif name == "table" and not is_layout_table(child):
                flush()
                caption = child.find("caption")
                if caption is not None and cell_text(caption):
                    blocks.append((0, cell_text(caption)))
                blocks.extend((0, row) for row in table_lines(table_rows(child)))
            elif name in _BLOCK_TAGS or name == "table":
                flush()
                walk(child)
                flush()
            else:
                walk(child)

    walk(soup.body or soup)
    flush()
    return blocks


@register(".html", ".htm", ".xhtml")
def read_html(path: Path) -> list[Section]:
    data = path.read_bytes()
    declared = _META_CHARSET.search(data[:4096])
    markup = decode_text(data, declared.group(1).decode("ascii") if declared else None)
    return sections_by_heading(html_blocks(markup))
