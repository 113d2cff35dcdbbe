"""One reader per file format: bytes on disk -> sections of text with page and heading metadata.

A reader raises UnreadableFile with a one-line reason a user can act on; a type with no reader
is UnsupportedFile, reported as skipped and never guessed at.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


class UnsupportedFile(Exception):
    """No reader for this file type."""


class UnreadableFile(Exception):
    """A supported file that cannot be read; str(e) is the reason shown to the admin."""


@dataclass
class Section:
    text: str
    page: int | None = None  # page of a PDF, slide of a PPTX
    heading: str = ""  # heading path, "Chapter > Section"


# Decompressed size beyond which an office file (a zip) is treated as a zip bomb.
MAX_UNZIPPED_BYTES = 500 << 20


def _clean(text: str) -> str:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _sections_by_heading(blocks: list[tuple[int, str]]) -> list[Section]:
    """Group (heading level or 0 for body, text) blocks into sections under their heading path."""
    path: list[tuple[int, str]] = []
    sections: list[Section] = []
    body: list[str] = []

    def flush() -> None:
        text = _clean("\n".join(body))
        if text:
            sections.append(Section(text=text, heading=" > ".join(h for _, h in path)))
        body.clear()

    for level, text in blocks:
        if level:
            flush()
            path[:] = [(lv, h) for lv, h in path if lv < level] + [(level, _clean(text))]
        else:
            body.append(text)
    flush()
    if not sections and path:  # headings only: keep them as text rather than lose the file
        sections.append(Section(text=" > ".join(h for _, h in path)))
    return sections


# ---------------------------------------------------------------- plain text
_ENCODINGS = ("utf-8-sig", "utf-16", "cp1252", "latin-1")


def decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise UnreadableFile("binary content (NUL bytes) in a text file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("latin-1")
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > max(8, len(text[:8192]) // 20):
        raise UnreadableFile("binary content (control characters) in a text file")
    return text


def read_text(path: Path) -> list[Section]:
    text = _clean(decode_text(path.read_bytes()))
    return [Section(text=text)] if text else []


# ---------------------------------------------------------------- markdown
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n(---|\.\.\.)\s*\n", re.S)
_ATX_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def read_markdown(path: Path) -> list[Section]:
    text = decode_text(path.read_bytes())
    text = _FRONT_MATTER.sub("", text, count=1)
    blocks: list[tuple[int, str]] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _ATX_HEADING.match(line)
        if match:
            blocks.append((len(match.group(1)), match.group(2)))
        else:
            blocks.append((0, line))
    return _sections_by_heading(blocks)


# ---------------------------------------------------------------- HTML
_INVISIBLE_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
                   "svg", "iframe", "button")


def read_html(path: Path) -> list[Section]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(path.read_bytes()), "html.parser")
    for tag in soup(_INVISIBLE_TAGS):
        tag.decompose()
    for tag in soup.select('[role="navigation"], [hidden], [aria-hidden="true"]'):
        tag.decompose()
    root = soup.body or soup
    blocks: list[tuple[int, str]] = []
    for element in root.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "td", "th", "dt", "dd",
                                  "blockquote", "caption"]):
        if element.find_parent(["p", "li", "pre", "td", "th", "dd", "blockquote"]) is not None and element.name != "pre":
            continue  # nested inside a block already taken whole
        text = element.get_text(" ", strip=True) if element.name != "pre" else element.get_text()
        if not text:
            continue
        level = int(element.name[1]) if element.name in ("h1", "h2", "h3", "h4", "h5", "h6") else 0
        blocks.append((level, text))
    if not blocks:  # pages without block tags: take the visible text as it is
        text = root.get_text("\n", strip=True)
        blocks = [(0, text)] if text else []
    return _sections_by_heading(blocks)


# ---------------------------------------------------------------- PDF
def read_pdf(path: Path) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise UnreadableFile("encrypted PDF (password protected); save an unprotected copy")
            except Exception as e:
                raise UnreadableFile("encrypted PDF (password protected); save an unprotected copy") from e
        sections = []
        for number, page in enumerate(reader.pages, 1):
            text = _clean(page.extract_text() or "")
            if text:
                sections.append(Section(text=text, page=number))
    except UnreadableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as e:
        raise UnreadableFile(f"corrupt or unreadable PDF ({type(e).__name__}: {str(e)[:120]})") from e
    if not sections and len(reader.pages):
        raise UnreadableFile("PDF has no text layer (scanned images?); OCR is not supported")
    return sections


# ---------------------------------------------------------------- office files (zip containers)
def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as e:
        raise UnreadableFile(f"corrupt {path.suffix.lower()[1:].upper()} file (not a valid zip container)") from e
    if total > MAX_UNZIPPED_BYTES:
        raise UnreadableFile(f"refused: unpacks to {total >> 20} MiB (zip bomb?)")


_HEADING_STYLE = re.compile(r"^(heading|titre|überschrift|titolo|título)\s*(\d)", re.I)


def read_docx(path: Path) -> list[Section]:
    _check_zip(path)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except Exception as e:  # python-docx raises many types for a broken package
        raise UnreadableFile(f"corrupt DOCX ({type(e).__name__}: {str(e)[:120]})") from e
    blocks: list[tuple[int, str]] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = item.text.strip()
            if not text:
                continue
            style = item.style.name if item.style is not None else ""
            match = _HEADING_STYLE.match(style or "")
            level = int(match.group(2)) if match else (1 if (style or "").lower() == "title" else 0)
            blocks.append((level, text))
        elif isinstance(item, Table):
            blocks.extend((0, line) for line in _table_lines([[c.text.strip() for c in row.cells] for row in item.rows]))
    return _sections_by_heading(blocks)


def _table_lines(rows: list[list[str]]) -> list[str]:
    """Rows as 'header: value; header: value' so each line carries its own column names."""
    rows = [r for r in rows if any(cell for cell in r)]
    if not rows:
        return []
    header, lines = rows[0], []
    for row in rows[1:]:
        pairs = [f"{h}: {v}" if h else v for h, v in zip(header, row) if v]
        lines.append("; ".join(dict.fromkeys(pairs)))  # merged cells repeat; keep one
    return [" | ".join(header)] + lines if len(rows) == 1 else lines


def read_pptx(path: Path) -> list[Section]:
    _check_zip(path)
    from pptx import Presentation

    try:
        presentation = Presentation(str(path))
    except Exception as e:
        raise UnreadableFile(f"corrupt PPTX ({type(e).__name__}: {str(e)[:120]})") from e
    sections = []
    for number, slide in enumerate(presentation.slides, 1):
        title, lines = "", []
        for shape in slide.shapes:
            if shape.has_text_frame and shape.text_frame.text.strip():
                if shape == getattr(slide.shapes, "title", None):
                    title = shape.text_frame.text.strip()
                else:
                    lines.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                lines.extend(_table_lines([[c.text.strip() for c in row.cells] for row in shape.table.rows]))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            lines.append(slide.notes_slide.notes_text_frame.text)
        text = _clean("\n".join([title] + lines if title else lines))
        if text:
            sections.append(Section(text=text, page=number, heading=title))
    return sections


def read_xlsx(path: Path) -> list[Section]:
    _check_zip(path)
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except Exception as e:
        raise UnreadableFile(f"corrupt XLSX ({type(e).__name__}: {str(e)[:120]})") from e
    sections = []
    try:
        for sheet in workbook.worksheets:
            rows = [["" if v is None else str(v).strip() for v in row] for row in sheet.iter_rows(values_only=True)]
            text = "\n".join(_table_lines(rows))
            if text:
                sections.append(Section(text=text, heading=sheet.title))
    finally:
        workbook.close()
    return sections


def read_csv(path: Path) -> list[Section]:
    text = decode_text(path.read_bytes())
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), dialect)]
    body = "\n".join(_table_lines(rows))
    return [Section(text=body)] if body else []


def read_eml(path: Path) -> list[Section]:
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    header = "\n".join(f"{name}: {message[name]}" for name in ("Subject", "From", "To", "Date") if message[name])
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        content = body_part.get_content()
        if body_part.get_content_subtype() == "html":
            from bs4 import BeautifulSoup

            soup = BeautifulSoup(content, "html.parser")
            for tag in soup(_INVISIBLE_TAGS):
                tag.decompose()
            content = soup.get_text("\n", strip=True)
        body = content
    text = _clean(f"{header}\n\n{body}")
    return [Section(text=text, heading=str(message["Subject"] or ""))] if text else []


READERS: dict[str, Callable[[Path], list[Section]]] = {
    ".txt": read_text, ".text": read_text, ".log": read_text, ".rst": read_text,
    ".md": read_markdown, ".markdown": read_markdown,
    ".html": read_html, ".htm": read_html, ".xhtml": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".pptx": read_pptx,
    ".xlsx": read_xlsx,
    ".csv": read_csv, ".tsv": read_csv,
    ".eml": read_eml,
}


def file_type(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in READERS


def read_file(path: Path) -> list[Section]:
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UnsupportedFile(f"unsupported file type {path.suffix or '(none)'}")
    try:
        return reader(path)
    except UnreadableFile:
        raise
    except PermissionError as e:
        raise UnreadableFile("permission denied") from e
    except (OSError, UnicodeError) as e:
        raise UnreadableFile(f"cannot read ({e.__class__.__name__}: {str(e)[:120]})") from e
