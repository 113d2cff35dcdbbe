"""One reader per file format: bytes on disk -> sections of text with page and heading metadata.

A reader raises UnreadableFile with a one-line reason a user can act on; a type with no reader
is UnsupportedFile, reported as skipped and never guessed at. Whatever goes wrong inside a
parser (they raise many exception types on broken files) reaches the caller as UnreadableFile,
so one bad file never stops an ingest run.
"""
from __future__ import annotations

import codecs
from collections import Counter
import csv
import errno
import datetime as _dt
import io
import re
import zipfile
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Callable, Iterable


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
    heading: str = ""  # heading path, "Chapter > Section"


# Decompressed size beyond which an office file (a zip) is treated as a zip bomb.
MAX_UNZIPPED_BYTES = 500 << 20
# A member this large that also compresses better than this ratio is a bomb too (real XML: ~10-30x).
_BOMB_MEMBER_BYTES = 100 << 20
_BOMB_RATIO = 200

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # compound file: encrypted OOXML or legacy .doc/.xls/.ppt


def _error(e: BaseException) -> str:
    """'Type: message' on one line, without the file path an OSError repeats (it may hold newlines)."""
    if isinstance(e, OSError) and e.strerror:
        return f"{type(e).__name__}: {e.strerror}"
    message = one_line(str(e), 120)
    return f"{type(e).__name__}: {message}" if message else type(e).__name__


def _clean(text: str) -> str:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\f", "\n").replace("\v", "\n")
    text = re.sub(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]", "", text)  # zero-width marks, soft hyphens
    text = re.sub(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _sections_by_heading(blocks: Iterable[tuple[int, str]]) -> list[Section]:
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
            heading = one_line(_clean(text), 300)
            if not heading:
                continue
            flush()
            path[:] = [(lv, h) for lv, h in path if lv < level] + [(level, heading)]
        else:
            body.append(text)
    flush()
    if not sections and path:  # headings only: keep them as text rather than lose the file
        sections.append(Section(text=" > ".join(h for _, h in path)))
    return sections


# ---------------------------------------------------------------- plain text
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def _utf16_without_bom(sample: bytes) -> str | None:
    """'utf-16-le'/'-be' when the NUL bytes sit on one side of each pair, as in mostly-Latin UTF-16."""
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even = sample[0:pairs * 2:2].count(0)
    odd = sample[1:pairs * 2:2].count(0)
    if odd >= pairs * 0.3 and even <= pairs * 0.02:
        return "utf-16-le"
    if even >= pairs * 0.3 and odd <= pairs * 0.02:
        return "utf-16-be"
    return None


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Bytes of a text file -> str: BOM (UTF-8/16/32), else UTF-8, a declared charset, cp1252, latin-1.

    Raises UnreadableFile for binary content (a file that is not text whatever its name says).
    """
    text = None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data[len(bom):].decode(encoding, errors="replace")
            break
    if text is None:
        sample = data[:8192]
        if b"\x00" in sample:
            encoding = _utf16_without_bom(sample)
            if encoding is None:
                raise UnreadableFile("binary content (NUL bytes) in a text file")
            text = data[:len(data) // 2 * 2].decode(encoding, errors="replace")
    if text is None:
        candidates = ["utf-8"]
        if declared:
            try:
                candidates.append(codecs.lookup(declared).name)
            except LookupError:
                pass
        candidates.append("cp1252")
        for encoding in candidates:
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            text = data.decode("latin-1")
    head = text[:8192]
    controls = sum(1 for ch in head if (ord(ch) < 32 and ch not in "\n\r\t\f\x1a") or 0x7f <= ord(ch) < 0xa0
                   or ch == "\ufffd")
    if controls > max(8, len(head) // 20):
        raise UnreadableFile("binary content (control characters) in a text file")
    return text


def read_text(path: Path) -> list[Section]:
    text = _clean(decode_text(path.read_bytes()))
    return [Section(text=text)] if text else []


# ---------------------------------------------------------------- markdown
# YAML (--- ... --- or ...) or TOML (+++ ... +++) front matter, only at the very start of the file.
_FRONT_MATTER = re.compile(r"\A(?:---[ \t]*\n(?:.*?\n)?(?:---|\.\.\.)|\+\+\+[ \t]*\n(?:.*?\n)?\+\+\+)[ \t]*(?:\n|\Z)",
                           re.S)
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_NOT_PARAGRAPH = re.compile(r"^ {0,3}([-*+>|]|\d+[.)]|#|<)|^\s*$|^ {4}")


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
    return _sections_by_heading(blocks)


# ---------------------------------------------------------------- HTML
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
                blocks.extend((0, row) for row in _table_lines(table_rows(child)))
            elif name in _BLOCK_TAGS or name == "table":
                flush()
                walk(child)
                flush()
            else:
                walk(child)

    walk(soup.body or soup)
    flush()
    return blocks


def read_html(path: Path) -> list[Section]:
    data = path.read_bytes()
    declared = _META_CHARSET.search(data[:4096])
    markup = decode_text(data, declared.group(1).decode("ascii") if declared else None)
    return _sections_by_heading(html_blocks(markup))


# ---------------------------------------------------------------- PDF
_ENCRYPTED_PDF = "encrypted PDF (password protected); save an unprotected copy"
_TRUNCATED_PDF = "corrupt PDF: truncated (no end-of-file marker)"
_PDF_PADDING = b"\x00\t\n\f\r "  # bytes some tools append after %%EOF


def _pdf_ends(path: Path) -> tuple[bytes, bytes]:
    """The first KiB of a PDF and its last 2 KiB before any padding: where %PDF- and %%EOF belong."""
    with path.open("rb") as f:
        head = f.read(1024)
        f.seek(max(0, path.stat().st_size - (64 << 10)))
        tail = f.read().rstrip(_PDF_PADDING)[-2048:]
    return head, tail


def _pdf_damage(path: Path, error: Exception) -> str:
    """Why pdfium could not open a PDF, as specifically as the bytes tell."""
    head, tail = _pdf_ends(path)
    if b"%PDF-" not in head:
        return "corrupt PDF: not a PDF at all (no %PDF header); is the extension wrong?"
    if b"%%EOF" not in tail:
        return f"corrupt PDF: truncated (no end-of-file marker; {_error(error)})"
    return f"corrupt or unreadable PDF ({_error(error)})"


def _open_pdf(path: Path):
    """A pdfium document; UnreadableFile when it cannot be opened.

    Loaded through the raw API: on a document with no pages pypdfium2's PdfDocument raises with
    whatever error pdfium last recorded, which may be a stale 'incorrect password'.
    """
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    # No password: a PDF restricted only against editing (empty user password) opens as is.
    raw = pdfium_c.FPDF_LoadDocument((str(path) + "\x00").encode("utf-8", "surrogateescape"), None)
    if not raw:
        code = pdfium_c.FPDF_GetLastError()
        if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise UnreadableFile(_ENCRYPTED_PDF)
        what = {pdfium_c.FPDF_ERR_FILE: "file access error", pdfium_c.FPDF_ERR_FORMAT: "data format error"}
        raise UnreadableFile(_pdf_damage(path, pdfium.PdfiumError(what.get(code, f"error {code}"), err_code=code)))
    return pdfium.PdfDocument(raw)


def _pdf_page_lines(page) -> list[tuple[float, str]]:
    """The page's text as lines, each with the font size most of its characters have."""
    import pypdfium2.raw as pdfium_raw

    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        n_chars = textpage.count_chars()
        sizes = ([pdfium_raw.FPDFText_GetFontSize(textpage.raw, i) for i in range(n_chars)]
                 if len(text) == n_chars else None)  # else characters and indices do not align: no sizes
    finally:
        textpage.close()
    lines: list[tuple[float, str]] = []
    start = 0
    for line in text.splitlines(keepends=True):
        size = 0.0
        if sizes is not None:
            counted = Counter(round(sizes[i] * 2) / 2 for i in range(start, start + len(line)) if not text[i].isspace())
            size = counted.most_common(1)[0][0] if counted else 0.0
        start += len(line)
        # pdfium returns a hyphen that ends a line as U+FFFE and drops the line break after it.
        lines.append((size, line.rstrip("\r\n").replace("\ufffe", "-\n")))
    return lines


# A line this much larger than the body text, and short, is a heading.
_PDF_HEADING_RATIO = 1.15
_PDF_HEADING_CHARS = 120


def _pdf_heading_levels(pages: list[list[tuple[float, str]]]) -> dict[float, int]:
    """Font size -> heading level (1 = largest), judged against the size most text is set in."""
    weight: Counter = Counter()
    for lines in pages:
        for size, line in lines:
            weight[size] += len(line.strip())
    if not weight:
        return {}
    body = weight.most_common(1)[0][0]
    heading_sizes = {size for lines in pages for size, line in lines
                     if body and size >= body * _PDF_HEADING_RATIO and 0 < len(line.strip()) <= _PDF_HEADING_CHARS
                     and any(c.isalpha() for c in line)}
    return {size: level for level, size in enumerate(sorted(heading_sizes, reverse=True)[:6], 1)}


def _pdf_sections(pages: list[list[tuple[float, str]]]) -> list[Section]:
    """Per page sections under the heading path in force, which carries over page breaks."""
    levels = _pdf_heading_levels(pages)
    path: list[tuple[int, str]] = []
    sections: list[Section] = []
    for number, lines in enumerate(pages, 1):
        body: list[str] = []

        def flush() -> None:
            text = _clean("\n".join(body))
            if text:
                sections.append(Section(text=text, page=number, heading=" > ".join(h for _, h in path)))
            body.clear()

        for size, line in lines:
            level = levels.get(size, 0) if len(line.strip()) <= _PDF_HEADING_CHARS else 0
            heading = one_line(_clean(line), 300) if level else ""
            if heading and any(c.isalpha() for c in heading):
                flush()
                path[:] = [(lv, h) for lv, h in path if lv < level] + [(level, heading)]
            else:
                body.append(line)
        flush()
    return sections


def read_pdf(path: Path) -> list[Section]:
    head, tail = _pdf_ends(path)
    if b"%PDF-" in head and b"%%EOF" not in tail:
        # pdfium rebuilds a cut-off file from what is left and reads it without a word: refuse it,
        # or the pages lost at the end would be missing from answers with nobody told.
        raise UnreadableFile(_TRUNCATED_PDF)
    document = _open_pdf(path)
    pages = []
    try:
        n_pages = len(document)
        for number in range(1, n_pages + 1):
            try:
                page = document[number - 1]
                try:
                    pages.append(_pdf_page_lines(page))
                finally:
                    page.close()
            except Exception as e:
                raise UnreadableFile(f"corrupt PDF: page {number} cannot be read ({_error(e)})") from e
    finally:
        document.close()
    sections = _pdf_sections(pages)
    if not sections and n_pages:
        if any(line.strip() for lines in pages for _, line in lines):  # headings only: keep them as text
            return [Section(text=_clean("\n".join(line for _, line in lines)), page=number)
                    for number, lines in enumerate(pages, 1) if any(line.strip() for _, line in lines)]
        raise UnreadableFile("PDF has no text layer (scanned images?); OCR is not supported")
    return sections


# ---------------------------------------------------------------- office files (zip containers)
def _check_zip(path: Path) -> None:
    kind = path.suffix.lower()[1:].upper()
    with path.open("rb") as f:
        magic = f.read(8)
    if magic == _OLE_MAGIC:
        raise UnreadableFile(f"encrypted (password protected) or legacy binary Office file, not a {kind} package; "
                             f"remove the password or save it as {kind}")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as e:
        raise UnreadableFile(f"corrupt {kind} file (not a valid zip container)") from e
    total = sum(info.file_size for info in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise UnreadableFile(f"zip bomb refused: the {kind} declares {total >> 20} MiB unpacked "
                             f"(limit {MAX_UNZIPPED_BYTES >> 20} MiB)")
    for info in infos:
        if info.file_size > _BOMB_MEMBER_BYTES and info.file_size > _BOMB_RATIO * max(info.compress_size, 1):
            raise UnreadableFile(f"zip bomb refused: {info.filename} in the {kind} unpacks to "
                                 f"{info.file_size >> 20} MiB at a ratio over {_BOMB_RATIO}:1")
        if info.flag_bits & 0x1:
            raise UnreadableFile(f"encrypted {kind} (password protected); save an unprotected copy")


# --- DOCX, read from its XML so that tracked insertions, content controls, fields, hyperlinks,
# text boxes and nested tables keep their text (python-docx's Paragraph.text drops several).
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


def _docx_style_levels(document) -> dict[str, int]:
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


def _docx_text(element, out: list[str]) -> None:
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
            _docx_text(child, out)


def _docx_cell_text(cell) -> str:
    blocks: list[tuple[int, str]] = []
    _docx_blocks(cell, blocks, {})
    return " ".join(text for _, text in blocks)


def _w_children(element, tag: str):
    """Direct children with this tag, looking through content controls and other wrappers."""
    for child in element:
        if child.tag == tag:
            yield child
        elif child.tag in _W_WRAPPERS:
            yield from _w_children(child, tag)


def _docx_table_rows(table) -> list[list[str]]:
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
                text = _docx_cell_text(tc)
            row.extend([text] * span_n)
        rows.append(row)
        previous = row
    return rows


def _docx_blocks(container, blocks: list[tuple[int, str]], levels: dict[str, int]) -> None:
    for child in container:
        tag = child.tag
        if tag == _W + "p":
            parts: list[str] = []
            _docx_text(child, parts)
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
                    _docx_blocks(box, box_blocks, {})
                    blocks.extend((0, text) for _, text in box_blocks)
        elif tag == _W + "tbl":
            blocks.extend((0, line) for line in _table_lines(_docx_table_rows(child)))
        elif tag in _W_WRAPPERS:
            _docx_blocks(child, blocks, levels)


def read_docx(path: Path) -> list[Section]:
    _check_zip(path)
    import docx

    try:
        document = docx.Document(str(path))
        levels = _docx_style_levels(document)
    except Exception as e:  # python-docx raises many types for a broken package
        raise UnreadableFile(f"corrupt DOCX ({_error(e)})") from e
    blocks: list[tuple[int, str]] = []
    _docx_blocks(document.element.body, blocks, levels)
    return _sections_by_heading(blocks)


def _cell(value) -> str:
    """One cell as text, on one line."""
    return re.sub(r"\s+", " ", value).strip() if value else ""


def _table_lines(rows: list[list[str]]) -> list[str]:
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
        pairs = [f"{h}: {v}" if h else v for h, v in zip_longest(header, row, fillvalue="") if v]
        lines.append("; ".join(dict.fromkeys(pairs)))  # merged cells repeat; keep one
    return lines


def _pptx_lines(shapes, title_shape) -> list[str]:
    from pptx.shapes.group import GroupShape

    lines: list[str] = []
    for shape in shapes:
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if isinstance(shape, GroupShape):
            lines.extend(_pptx_lines(shape.shapes, None))
            continue
        if getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():
            lines.append(shape.text_frame.text)
        if getattr(shape, "has_table", False):
            lines.extend(_table_lines([[c.text for c in row.cells] for row in shape.table.rows]))
    return lines


def read_pptx(path: Path) -> list[Section]:
    _check_zip(path)
    from pptx import Presentation

    try:
        presentation = Presentation(str(path))
        slides = list(presentation.slides)
    except Exception as e:
        raise UnreadableFile(f"corrupt PPTX ({_error(e)})") from e
    sections = []
    for number, slide in enumerate(slides, 1):
        title_shape = slide.shapes.title
        title = one_line(title_shape.text_frame.text, 300) if title_shape is not None and \
            title_shape.has_text_frame else ""
        lines = _pptx_lines(slide.shapes, title_shape)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            lines.append(slide.notes_slide.notes_text_frame.text)
        text = _clean("\n".join([title] + lines if title else lines))
        if text:
            sections.append(Section(text=text, page=number, heading=title))
    return sections


def _xlsx_value(value) -> str:
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


def read_xlsx(path: Path) -> list[Section]:
    _check_zip(path)
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except Exception as e:
        raise UnreadableFile(f"corrupt XLSX ({_error(e)})") from e
    sections = []
    try:
        for sheet in workbook.worksheets:
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # the stored dimension can be wrong; read every row there is
            rows = [[_xlsx_value(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            text = "\n".join(_table_lines(rows))
            if text:
                sections.append(Section(text=text, heading=sheet.title))
    except UnreadableFile:
        raise
    except Exception as e:
        raise UnreadableFile(f"corrupt XLSX ({_error(e)})") from e
    finally:
        workbook.close()
    return sections


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
    body = "\n".join(_table_lines(rows))
    return [Section(text=body)] if body else []


# ---------------------------------------------------------------- e-mail
def _part_text(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):  # unknown or wrong charset
        payload = part.get_payload(decode=True) or b""
        return decode_text(payload) if payload else ""


def read_eml(path: Path) -> list[Section]:
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())

    def header(name: str) -> str:
        try:
            value = message[name]
        except Exception:  # a header too malformed to parse
            value = ""
        return one_line(str(value or ""), 1000)

    lines = [f"{name}: {header(name)}" for name in ("Subject", "From", "To", "Cc", "Date") if header(name)]
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        content = _part_text(body_part)
        if body_part.get_content_subtype() == "html":
            content = "\n".join(text for _, text in html_blocks(content))
        body = content
    attachments = []
    for part in message.iter_attachments() if message.is_multipart() else ():
        name = part.get_filename()
        if name:
            attachments.append(one_line(name, 200))
    if attachments:
        lines.append("Attachments: " + ", ".join(attachments))
    text = _clean("\n".join(lines) + "\n\n" + body)
    return [Section(text=text, heading=header("Subject"))] if text else []


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
    """Sections of one file; UnsupportedFile for a type with no reader, UnreadableFile (one line) otherwise."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UnsupportedFile(f"unsupported file type {path.suffix or '(none)'}")
    try:
        return reader(path)
    except UnreadableFile:
        raise
    except PermissionError as e:
        raise UnreadableFile("permission denied") from e
    except FileNotFoundError as e:
        raise UnreadableFile("file vanished while it was being read") from e
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UnreadableFile("symbolic link loop") from e
        raise UnreadableFile(f"cannot read ({_error(e)})") from e
    except RecursionError as e:
        raise UnreadableFile(f"cannot read {file_type(path).upper()}: structure nested too deeply") from e
    except Exception as e:  # a parser bug on a strange file must not stop the run
        raise UnreadableFile(f"cannot read {file_type(path).upper()} ({_error(e)})") from e
