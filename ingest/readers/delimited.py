"""CSV and TSV: each row as 'header: value' pairs, whatever the delimiter.

A CSV exported by a French or German Excel uses semicolons (the comma is their decimal mark),
so the delimiter is sniffed from the first lines; a .tsv splits on tabs only, since its cells
may hold commas and semicolons. (Named delimited, not csv: a module csv in this package would
read as the standard library's.)
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from ingest.readers.common import Section
from ingest.readers.registry import register
from ingest.readers.tables import table_lines
from ingest.readers.text import decode_text


@register(".csv", ".tsv")
def read_csv(path: Path) -> list[Section]:
    text = decode_text(path.read_bytes())
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:
        sample = "\n".join(text[:16384].splitlines()[:50])
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    body = "\n".join(table_lines(rows))
    return [Section(text=body)] if body else []
