"""XLSX: one section per sheet, named after it, each row as 'header: value' pairs.

Values are the ones Excel last computed (data_only), written as a person reads them: whole
numbers without '.0', dates without a midnight time, booleans as Excel shows them.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

from assistant.passage import HeadingPath
from ingest.readers.common import Section
from ingest.readers.office import check_zip, corrupt_if_it_fails
from ingest.readers.registry import register
from ingest.readers.tables import table_lines


def _value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, _dt.datetime):
        return value.date().isoformat() if value.time() == _dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return str(value)


@register(".xlsx")
def read_xlsx(path: Path) -> list[Section]:
    check_zip(path)
    import openpyxl

    with corrupt_if_it_fails(path):
        workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    sections = []
    with corrupt_if_it_fails(path):  # read_only sheets parse lazily: a broken one fails here, not at load
        try:
            for sheet in workbook.worksheets:
                if hasattr(sheet, "reset_dimensions"):
                    sheet.reset_dimensions()  # the stored dimension can be wrong; read every row there is
                rows = [[_value(v) for v in row] for row in sheet.iter_rows(values_only=True)]
                text = "\n".join(table_lines(rows))
                if text:
                    sections.append(Section(text=text, heading=HeadingPath([sheet.title])))
        finally:
            workbook.close()
    return sections
