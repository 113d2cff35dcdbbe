"""PPTX: one section per slide, its number as the page and its title as the heading.

A slide's text lies in shapes, groups of shapes, tables and the speaker notes; the notes often
say what the slide only hints at, so they are part of its section.
"""
from __future__ import annotations

from pathlib import Path

from assistant.passage import HeadingPath
from ingest.readers.common import Section, clean, one_line
from ingest.readers.office import check_zip, corrupt_if_it_fails
from ingest.readers.registry import register
from ingest.readers.tables import table_lines


def _shape_lines(shapes, title_shape) -> list[str]:
    from pptx.shapes.group import GroupShape

    lines: list[str] = []
    for shape in shapes:
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if isinstance(shape, GroupShape):
            lines.extend(_shape_lines(shape.shapes, None))
            continue
        if getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():
            lines.append(shape.text_frame.text)
        if getattr(shape, "has_table", False):
            lines.extend(table_lines([[c.text for c in row.cells] for row in shape.table.rows]))
    return lines


@register(".pptx")
def read_pptx(path: Path) -> list[Section]:
    check_zip(path)
    from pptx import Presentation

    with corrupt_if_it_fails(path):
        presentation = Presentation(str(path))
        slides = list(presentation.slides)
    sections = []
    for number, slide in enumerate(slides, 1):
        title_shape = slide.shapes.title
        title = one_line(title_shape.text_frame.text, 300) if title_shape is not None and \
            title_shape.has_text_frame else ""
        lines = _shape_lines(slide.shapes, title_shape)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            lines.append(slide.notes_slide.notes_text_frame.text)
        text = clean("\n".join([title] + lines if title else lines))
        if text:
            sections.append(Section(text=text, page=number, heading=HeadingPath([title])))
    return sections
