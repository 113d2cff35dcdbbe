"""DOCX, read from its XML so that tracked insertions, content controls, fields, hyperlinks,
text boxes and nested tables keep their text (python-docx's Paragraph.text drops several).

Headings come from paragraph styles (Title, Heading n, their translations in localised
templates, custom styles based on them) and from outline levels set on a paragraph directly.
"""
from __future__ import annotations

import re
from pathlib import Path

from ingest.readers.common import Section, sections_by_heading
from ingest.readers.office import check_zip, corrupt_if_it_fails
from ingest.readers.registry import register
from ingest.readers.tables import table_lines

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_W_SKIP = {_W + "del", _W + "moveFrom", _W + "txbxContent", _MC_FALLBACK, _W + "instrText", _W + "delText",
           _W + "pPr", _W + "rPr", _W + "footnoteReference", _W + "endnoteReference", _W + "commentReference"}
_W_WRAPPERS = {_W + "sdt", _W + "sdtContent", _W + "customXml", _W + "ins", _W + "moveTo", _W + "smartTag"}
# "Heading 1" and its names in the languages Word writes into styles.xml for custom templates.
_HEADING_STYLE = re.compile(r"^(heading|titre|überschrift|titolo|título|titulo|kop|rubrik|nagłówek|заголовок)"
                            r"\s*(\d)$", re.I)
_TITLE_STYLE = re.compile(r"^(title|titre|titel|titolo|título|titulo)$", re.I)


def _w_val(element, child: str) -> str | None:
    found = element.find(_W + child) if element is not None else None
    return found.get(_W + "val") if found is not None else None


def _style_levels(document) -> dict[str, int]:
    """styleId -> outline level: 1 for Title, n+1 for Heading n (or outline level n-1), 0 for body text."""
    styles = {}
    for style in document.styles.element.findall(_W + "style"):
        if style.get(_W + "type") == "paragraph":
            styles[style.get(_W + "styleId")] = style
    levels: dict[str, int] = {}

    def level_of(style_id: str, depth: int = 0) -> int:
        if style_id in levels:
            return levels[style_id]
        style = styles.get(style_id)
        level = 0
        if style is not None and depth < 20:
            name = (_w_val(style, "name") or "").strip()
            heading = _HEADING_STYLE.match(name)
            outline = _w_val(style.find(_W + "pPr"), "outlineLvl")
            if _TITLE_STYLE.match(name):
                level = 1
            elif heading:
                level = int(heading.group(2)) + 1
            elif outline is not None and outline.isdigit() and int(outline) < 9:
                level = int(outline) + 2
            elif _w_val(style, "basedOn"):
                level = level_of(_w_val(style, "basedOn"), depth + 1)
        levels[style_id] = level
        return level

    for style_id in styles:
        level_of(style_id)
    return levels


def _run_text(element, out: list[str]) -> None:
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or tag in _W_SKIP:
            continue
        if tag == _W + "t":
            out.append(child.text or "")
        elif tag == _W + "tab":
            out.append("\t")
        elif tag in (_W + "br", _W + "cr"):
            out.append("\n")
        elif tag == _W + "noBreakHyphen":
            out.append("-")
        else:
            _run_text(child, out)


def _cell_text(cell) -> str:
    blocks: list[tuple[int, str]] = []
    _blocks(cell, blocks, {})
    return " ".join(text for _, text in blocks)


def _w_children(element, tag: str):
    """Direct children with this tag, looking through content controls and other wrappers."""
    for child in element:
        if child.tag == tag:
            yield child
        elif child.tag in _W_WRAPPERS:
            yield from _w_children(child, tag)


def _table_rows(table) -> list[list[str]]:
    """Cells as the grid shows them: a cell spanning columns repeats, a vertically merged one takes the text above."""
    rows: list[list[str]] = []
    previous: list[str] = []
    for tr in _w_children(table, _W + "tr"):
        before = _w_val(tr.find(_W + "trPr"), "gridBefore")
        row: list[str] = [""] * (min(int(before), 50) if before and before.isdigit() else 0)
        for tc in _w_children(tr, _W + "tc"):
            properties = tc.find(_W + "tcPr")
            span = _w_val(properties, "gridSpan")
            span_n = max(1, min(int(span), 50)) if span and span.isdigit() else 1
            merge = properties.find(_W + "vMerge") if properties is not None else None
            if merge is not None and merge.get(_W + "val") in (None, "continue"):
                column = len(row)
                text = previous[column] if column < len(previous) else ""
            else:
                text = _cell_text(tc)
            row.extend([text] * span_n)
        rows.append(row)
        previous = row
    return rows


def _blocks(container, blocks: list[tuple[int, str]], levels: dict[str, int]) -> None:
    for child in container:
        tag = child.tag
        if tag == _W + "p":
            parts: list[str] = []
            _run_text(child, parts)
            text = "".join(parts).strip()
            properties = child.find(_W + "pPr")
            outline = _w_val(properties, "outlineLvl")
            if outline is not None and outline.isdigit() and int(outline) < 9:
                level = int(outline) + 2
            else:
                level = levels.get(_w_val(properties, "pStyle") or "", 0)
            if text:
                blocks.append((level, text))
            for box in child.iter(_W + "txbxContent"):  # text boxes: their DrawingML copy, not the VML fallback
                ancestor = box.getparent()
                while ancestor is not None and ancestor is not child and ancestor.tag != _MC_FALLBACK:
                    ancestor = ancestor.getparent()
                if ancestor is child:
                    box_blocks: list[tuple[int, str]] = []
                    _blocks(box, box_blocks, {})
                    blocks.extend((0, text) for _, text in box_blocks)
        elif tag == _W + "tbl":
            blocks.extend((0, line) for line in table_lines(_table_rows(child)))
        elif tag in _W_WRAPPERS:
            _blocks(child, blocks, levels)


@register(".docx")
def read_docx(path: Path) -> list[Section]:
    check_zip(path)
    import docx

    with corrupt_if_it_fails(path):
        document = docx.Document(str(path))
        levels = _style_levels(document)
    blocks: list[tuple[int, str]] = []
    _blocks(document.element.body, blocks, levels)
    return sections_by_heading(blocks)
