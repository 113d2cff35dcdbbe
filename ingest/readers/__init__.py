"""One reader per file format: bytes on disk -> sections of text with page and heading path.

Each format lives in its own module and registers its extensions on import (registry.register);
importing this package imports them all, so read_file knows every format. The parsers
themselves (pypdfium2, python-docx, python-pptx, openpyxl, BeautifulSoup, Pillow and
pytesseract) are imported inside
the readers, on the first file of their type.

A reader raises UnreadableFile with a one-line reason a user can act on; a type with no reader
is UnsupportedFile, reported as skipped and never guessed at. read_file turns whatever else a
parser raises into UnreadableFile, so one bad file never stops an ingest run.

At the llama-index seam: DocumentReader is these readers as a llama-index BaseReader, and
register() accepts a BaseReader for an extension.
"""
from __future__ import annotations

from ingest.readers.common import Section, UnreadableFile, UnsupportedFile, one_line
from ingest.readers.registry import READERS, file_type, is_supported, read_file, register
from ingest.readers.llama_documents import DocumentReader
from ingest.readers.text import decode_text, read_text
from ingest.readers.markdown import read_markdown
from ingest.readers.html_page import html_blocks, read_html
from ingest.readers.pdf import read_pdf
from ingest.readers.word import read_docx
from ingest.readers.powerpoint import read_pptx
from ingest.readers.excel import read_xlsx
from ingest.readers.delimited import read_csv
from ingest.readers.eml import read_eml
from ingest.readers.ocr import OcrUnavailable, read_image

__all__ = ["READERS", "DocumentReader", "OcrUnavailable", "Section", "UnreadableFile", "UnsupportedFile", "decode_text", "file_type",
           "html_blocks", "is_supported", "one_line", "read_csv", "read_docx", "read_eml", "read_file", "read_html", "read_image",
           "read_markdown", "read_pdf", "read_pptx", "read_text", "read_xlsx", "register"]
