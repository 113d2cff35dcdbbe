"""Table rows -> lines of text that each name their columns.

Shared by every format that has tables (HTML, DOCX, PPTX, XLSX, CSV): a chunk cut from the
middle of a long table still says what each value is, so "Paris 180" is found by a question
about the hotel cap in Paris.
"""
from __future__ import annotations

import re
from itertools import zip_longest

from assistant.text import table_row


def _cell(value) -> str:
    """One cell as text, on one line."""
    return re.sub(r"\s+", " ", value).strip() if value else ""


def table_lines(rows: list[list[str]]) -> list[str]:
    """Rows as 'header: value; header: value' so each line carries its own column names.

    The header is the first row that fills at least half the width of the table: a title line
    above it ("Q3 figures") stays a line of its own instead of naming every column.
    """
    rows = [[_cell(c) for c in r] for r in rows]
    rows = [r for r in rows if any(r)]
    if not rows:
        return []

    def filled(row: list[str]) -> int:  # distinct values: a title merged across columns counts once
        return len(set(c for c in row if c))

    widest = max(filled(r) for r in rows)
    start = next(i for i, r in enumerate(rows) if filled(r) * 2 >= widest)
    lines = [" ".join(dict.fromkeys(c for c in r if c)) for r in rows[:start]]
    header = rows[start]
    if len(rows) == start + 1:
        return lines + [" | ".join(c for c in header if c)]
    for row in rows[start + 1:]:
        lines.append(table_row(list(zip_longest(header, row, fillvalue=""))))
    return lines
