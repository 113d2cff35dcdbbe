"""PDF: text per page with pdfium, and lines set in larger type as the heading path.

pypdfium2 rather than pypdf: the same text (byte-identical on the 4 PDFs of the dev set, the
handbook and the seeds, once pdfium's end-of-line hyphen U+FFFE is mapped back) ~18x faster,
1.52 s -> 0.08 s for the four (bench/DECISIONS.md, 2026-11-28). pdfium also gives the font size
of every character, which is how headings are found: a PDF has no heading markup, but a short
line set well above the body size is one, and its path carries over page breaks as Markdown
and DOCX heading paths do.

A page with no text layer, or almost none (under 20 letters and digits: a scanner's page number),
that holds an image is a scan: it is rendered at 200 dpi (300 read the test scans no better, in
twice the time) and read by OCR (ingest/readers/ocr.py), keeping its page number; the pages of
one PDF are read in parallel. A scanned PDF without the OCR engine installed is OcrUnavailable
(reported as skipped, with the install command; of a PDF with text pages too, those are read);
a PDF whose pages hold neither text nor an image is refused as having no text.

A broken PDF is refused with what its bytes tell (not a PDF, truncated, encrypted, no text layer)
rather than pdfium's error code.
"""
from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from ingest.readers import ocr
from ingest.readers.common import HeadingOutline, Section, UnreadableFile, clean, error_text
from ingest.readers.registry import register

_ENCRYPTED_PDF = "encrypted PDF (password protected); save an unprotected copy"
_TRUNCATED_PDF = "corrupt PDF: truncated (no end-of-file marker)"
_PDF_PADDING = b"\x00\t\n\f\r "  # bytes some tools append after %%EOF

# A line this much larger than the body text, and short, is a heading.
_HEADING_RATIO = 1.15
_HEADING_CHARS = 120
# A page with fewer letters and digits than this in its text layer, and an image, is read by OCR.
_SCANNED_BELOW_CHARS = 20
# pdfium is not thread-safe, and the pipeline reads scans ahead in threads: one PDF at a time
# inside pdfium (OCR itself runs outside the lock).
_PDFIUM = threading.Lock()


def _ends(path: Path) -> tuple[bytes, bytes]:
    """The first KiB of a PDF and its last 2 KiB before any padding: where %PDF- and %%EOF belong."""
    with path.open("rb") as f:
        head = f.read(1024)
        f.seek(max(0, path.stat().st_size - (64 << 10)))
        tail = f.read().rstrip(_PDF_PADDING)[-2048:]
    return head, tail


def _damage(path: Path, error: Exception) -> str:
    """Why pdfium could not open a PDF, as specifically as the bytes tell."""
    head, tail = _ends(path)
    if b"%PDF-" not in head:
        return "corrupt PDF: not a PDF at all (no %PDF header); is the extension wrong?"
    if b"%%EOF" not in tail:
        return f"corrupt PDF: truncated (no end-of-file marker; {error_text(error)})"
    return f"corrupt or unreadable PDF ({error_text(error)})"


def _open(path: Path):
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
        raise UnreadableFile(_damage(path, pdfium.PdfiumError(what.get(code, f"error {code}"), err_code=code)))
    return pdfium.PdfDocument(raw)


def _page_lines(page) -> list[tuple[float, str]]:
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


def _heading_levels(pages: list[list[tuple[float, str]]]) -> dict[float, int]:
    """Font size -> heading level (1 = largest), judged against the size most text is set in."""
    weight: Counter = Counter()
    for lines in pages:
        for size, line in lines:
            weight[size] += len(line.strip())
    if not weight:
        return {}
    body = weight.most_common(1)[0][0]
    heading_sizes = {size for lines in pages for size, line in lines
                     if body and size >= body * _HEADING_RATIO and 0 < len(line.strip()) <= _HEADING_CHARS
                     and any(c.isalpha() for c in line)}
    return {size: level for level, size in enumerate(sorted(heading_sizes, reverse=True)[:6], 1)}


def _sections(pages: list[list[tuple[float, str]]]) -> list[Section]:
    """Per page sections under the heading path in force, which carries over page breaks."""
    levels = _heading_levels(pages)
    outline = HeadingOutline()
    for number, lines in enumerate(pages, 1):
        outline.new_page(number)
        for size, line in lines:
            level = levels.get(size, 0) if len(line.strip()) <= _HEADING_CHARS else 0
            # A line of heading size with no letter ("2", "* * *") is body text, not a heading.
            outline.add(level if any(c.isalpha() for c in line) else 0, line)
    return outline.close()


def _is_scan(page, lines: list[tuple[float, str]]) -> bool:
    import pypdfium2.raw as pdfium_c

    if sum(c.isalnum() for _, line in lines for c in line) >= _SCANNED_BELOW_CHARS:
        return False
    return any(True for _ in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3))


def _render(page):
    """The page as a grayscale image at OCR resolution (pdfium is not thread-safe: done here)."""
    scale = ocr.OCR_DPI / 72
    width, height = page.get_size()
    if width * height * scale * scale > ocr.MAX_PIXELS:
        scale = (ocr.MAX_PIXELS / (width * height)) ** 0.5
    return page.render(scale=scale, grayscale=True).to_pil()


def _read_pages(path: Path, pages: list, scans: dict) -> tuple[int, int]:
    """Fill `pages` with each page's lines and `scans` with the images of the pages OCR must read
    (when it can); returns (number of pages, number of scanned pages)."""
    document = _open(path)
    scanned = 0
    try:
        n_pages = len(document)
        for number in range(1, n_pages + 1):
            try:
                page = document[number - 1]
                try:
                    lines = _page_lines(page)
                    if _is_scan(page, lines):
                        scanned += 1
                        if ocr.unavailable_reason() is None:
                            scans[number] = _render(page)
                        lines = []
                    pages.append(lines)
                finally:
                    page.close()
            except Exception as e:
                raise UnreadableFile(f"corrupt PDF: page {number} cannot be read ({error_text(e)})") from e
    finally:
        document.close()
    return n_pages, scanned


@register(".pdf")
def read_pdf(path: Path) -> list[Section]:
    head, tail = _ends(path)
    if b"%PDF-" in head and b"%%EOF" not in tail:
        # pdfium rebuilds a cut-off file from what is left and reads it without a word: refuse it,
        # or the pages lost at the end would be missing from answers with nobody told.
        raise UnreadableFile(_TRUNCATED_PDF)
    pages: list[list[tuple[float, str]]] = []
    scans: dict[int, object] = {}  # page number -> its image, for the pages OCR reads
    with _PDFIUM:
        n_pages, scanned = _read_pages(path, pages, scans)
    if scans:
        read = ocr.ocr_pages(scans.values())
        sections = _sections(pages) + [s for number, page in zip(scans, read) if (s := ocr.section(page, number))]
        return sorted(sections, key=lambda s: s.page or 0)  # stable: a page's sections keep their order
    sections = _sections(pages)
    if not sections and n_pages:
        # Headings only. Unlike sections_by_heading's fallback (the path as one section), the text
        # is kept per page, so that an answer drawn from it can still cite its page.
        if any(line.strip() for lines in pages for _, line in lines):
            return [Section(text=clean("\n".join(line for _, line in lines)), page=number)
                    for number, lines in enumerate(pages, 1) if any(line.strip() for _, line in lines)]
        if scanned:
            raise ocr.OcrUnavailable(f"PDF has no text layer (scanned?) and needs OCR: {ocr.unavailable_reason()}")
        raise UnreadableFile("PDF has no text layer, and no image on its pages for OCR to read")
    return sections
