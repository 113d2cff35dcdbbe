"""Builders for the files ingestion tests read: real files of each format, written at test time.

Nothing here is stored in the repository; each builder writes into the folder a test gives it
and returns the path, so a test states the content it then asserts on.
"""
from __future__ import annotations

import builtins
import datetime as dt
import errno
import io
import os
import random
import struct
import zipfile
import zlib
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path

# ---------------------------------------------------------------- PDF


def pdf_bytes(pages: list[str]) -> bytes:
    """A real PDF with a text layer, one page per string (latin-1 text: fpdf2's core fonts)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_compression(True)
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def write_pdf(path: Path, pages: list[str]) -> Path:
    path.write_bytes(pdf_bytes(pages))
    return path


def write_encrypted_pdf(path: Path, pages: list[str], user_password: str = "s3cret",
                        owner_password: str = "owner-pw") -> Path:
    """RC4-128 (pypdf needs no extra package for it); user_password='' makes a 'restrictions only' PDF."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(pdf_bytes(pages)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    with path.open("wb") as f:
        writer.write(f)
    return path


def write_blank_pdf(path: Path, n_pages: int = 2) -> Path:
    """Pages with no text layer, like a scan."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(n_pages):
        writer.add_blank_page(width=595, height=842)
    with path.open("wb") as f:
        writer.write(f)
    return path


# ---------------------------------------------------------------- DOCX
def _w(xml: str):
    """A WordprocessingML element; '{W}' in the text declares the w: namespace."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    return parse_xml(xml.replace("{W}", nsdecls("w")))


def _before_sectpr(document, element) -> None:
    body = document.element.body
    body[-1].addprevious(element) if body[-1].tag.endswith("sectPr") else body.append(element)


def write_docx(path: Path) -> Path:
    """Title, headings on three levels, a custom heading style, a table with merged cells, and the
    WordprocessingML that python-docx's Paragraph.text drops: hyperlinks, tracked insertions and
    deletions, field codes and content controls."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.add_heading("Travel Handbook", level=0)  # the Title style
    document.add_paragraph("This handbook explains business travel at Bellmont.")
    document.add_heading("Booking", level=1)
    document.add_paragraph("Trains are booked two weeks ahead through the travel desk.")
    document.add_heading("Hotels", level=2)
    document.add_paragraph("The hotel cap is 140 euros per night outside Paris.")

    table = document.add_table(rows=5, cols=3)
    cells = [["Caps per city (2024)", "", ""],
             ["City", "Hotel cap", "Meal cap"],
             ["Paris", "180", "45"],
             ["Lyon", "140", "35"],
             ["", "150", "40"]]
    for r, row in enumerate(cells):
        for c, value in enumerate(row):
            if value:
                table.cell(r, c).text = value
    table.cell(0, 0).merge(table.cell(0, 2))  # a title spanning the table
    table.cell(3, 0).merge(table.cell(4, 0))  # Lyon covers two rows

    custom = document.styles.add_style("Policy Heading", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = document.styles["Heading 1"]
    document.add_paragraph("Expenses", style="Policy Heading")
    paragraph = document.add_paragraph("Claims are approved by ")
    paragraph._p.append(_w('<w:ins {W} w:id="1" w:author="A" w:date="2024-01-01T00:00:00Z">'
                           '<w:r><w:t xml:space="preserve">the finance director</w:t></w:r></w:ins>'))
    paragraph._p.append(_w('<w:del {W} w:id="2" w:author="A" w:date="2024-01-01T00:00:00Z">'
                           '<w:r><w:delText>the intern</w:delText></w:r></w:del>'))
    paragraph._p.append(_w('<w:r {W}><w:t xml:space="preserve"> in the </w:t></w:r>'))
    paragraph._p.append(_w('<w:hyperlink {W} w:anchor="portal"><w:r><w:t>expense portal</w:t></w:r></w:hyperlink>'))
    paragraph._p.append(_w('<w:r {W}><w:fldChar w:fldCharType="begin"/></w:r>'))
    paragraph._p.append(_w('<w:r {W}><w:instrText xml:space="preserve"> PAGE FIELDCODE </w:instrText></w:r>'))
    paragraph._p.append(_w('<w:r {W}><w:fldChar w:fldCharType="separate"/></w:r>'))
    paragraph._p.append(_w('<w:r {W}><w:t xml:space="preserve"> within 30 days.</w:t></w:r>'))
    paragraph._p.append(_w('<w:r {W}><w:fldChar w:fldCharType="end"/></w:r>'))
    _before_sectpr(document, _w('<w:sdt {W}><w:sdtPr/><w:sdtContent><w:p><w:r>'
                                '<w:t>Receipts are kept for ten years.</w:t></w:r></w:p></w:sdtContent></w:sdt>'))
    _before_sectpr(document, _w('<w:p {W}><w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r>'
                                '<w:t>Mileage</w:t></w:r></w:p>'))
    _before_sectpr(document, _w('<w:p {W}><w:r><w:t>Cars are paid 0.30 euros per km.</w:t></w:r></w:p>'))
    document.save(str(path))
    return path


def write_simple_docx(path: Path, heading: str, text: str) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    document.add_paragraph(text)
    document.save(str(path))
    return path


def _zip_entry(name: bytes, method: int, crc: int, compressed: int, size: int) -> tuple[bytes, bytes]:
    """(local header, central directory record) for an entry whose data follows the local header."""
    time, date = 0, (2024 - 1980) << 9 | 1 << 5 | 1
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, time, date, crc, compressed, size, len(name), 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, time, date, crc, compressed, size,
                          len(name), 0, 0, 0, 0, 0, 0)
    return local + name, central + name


@lru_cache(maxsize=2)
def docx_zip_bomb_bytes(unpacked_mib: int = 600) -> bytes:
    """A .docx-shaped zip whose word/document.xml really inflates to `unpacked_mib` MiB of zeros.

    The deflate stream is built from one compressed 8 MiB block repeated (each block ends with a
    full flush, so every copy is identical and independent): ~600 KB on disk, a few ms to build.
    """
    block = bytes(8 << 20)
    n_blocks = unpacked_mib // 8
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = first + repeat * (n_blocks - 1) + compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(n_blocks):
        crc = zlib.crc32(block, crc)
    size = n_blocks * len(block)

    content_types = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
                     b'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/'
                     b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    out = bytearray()
    directory = bytearray()
    for name, method, data, crc_, size_ in ((b"[Content_Types].xml", 0, content_types, zlib.crc32(content_types),
                                             len(content_types)),
                                            (b"word/document.xml", 8, stream, crc, size)):
        local, central = _zip_entry(name, method, crc_, len(data), size_)
        directory += central[:42] + struct.pack("<I", len(out)) + central[46:]
        out += local + data
    start = len(out)
    out += directory
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 2, 2, len(directory), start, 0)
    return bytes(out)


def write_docx_zip_bomb(path: Path, unpacked_mib: int = 600) -> Path:
    path.write_bytes(docx_zip_bomb_bytes(unpacked_mib))
    return path


# ---------------------------------------------------------------- PPTX
def write_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])  # title and content
    slide.shapes.title.text = "Quarterly results"
    slide.placeholders[1].text = "Revenue grew 12 percent in the third quarter."
    slide.notes_slide.notes_text_frame.text = "Mention the new Lyon warehouse."

    slide = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
    slide.shapes.title.text = "Regional figures"
    table = slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate([["Region", "Orders"], ["North", "1200"], ["South", "950"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(5), Inches(4), Inches(1)).text_frame.text = "Figures are unaudited."

    slide = presentation.slides.add_slide(presentation.slide_layouts[6])  # blank: no title
    slide.shapes.add_textbox(Inches(1), Inches(1), Inches(5), Inches(1)).text_frame.text = "Questions welcome."
    presentation.save(str(path))
    return path


# ---------------------------------------------------------------- XLSX / CSV
def write_xlsx(path: Path, wrong_dimension: bool = False) -> Path:
    """Two sheets: one with a title row above its header, typed values and a ragged row; one plain.
    wrong_dimension writes <dimension ref="A1"/> as some exporters do, hiding every other cell
    from a reader that trusts it."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Budget"
    sheet["A1"] = "Travel budget 2024"
    sheet.append([])
    sheet.append(["Department", "Budget", "Approved on", "Ratio"])
    sheet.append(["Sales", 12000, dt.date(2024, 3, 1), 0.25])
    sheet.append(["Marketing", 8000.0, dt.datetime(2024, 4, 2), 1.5])
    sheet.append(["Support", None, None, None, "pending review"])
    contacts = workbook.create_sheet("Contacts")
    contacts.append(["Name", "Email"])
    contacts.append(["Alice Martin", "alice@example.com"])
    workbook.create_sheet("Empty")
    workbook.save(str(path))
    if wrong_dimension:
        _rewrite_zip_member(path, "xl/worksheets/sheet1.xml",
                            lambda xml: xml.replace(b'<dimension ref="A1:E6"/>', b'<dimension ref="A1"/>'))
    return path


def _rewrite_zip_member(path: Path, member: str, change) -> None:
    with zipfile.ZipFile(path) as archive:
        items = [(info, archive.read(info.filename)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in items:
            if info.filename == member:
                new = change(data)
                assert new != data, f"{member} was not changed"
                data = new
            archive.writestr(info, data)


# ---------------------------------------------------------------- HTML / e-mail
PAGE_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>PAGE_TITLE_TEXT</title>
<style>.x { color: red } /* STYLE_TEXT */</style>
<script>var secret = "SCRIPT_TEXT";</script></head>
<body>
<header><a href="/">SITE_HEADER_TEXT</a></header>
<nav><ul><li><a href="/">Home</a></li><li>NAV_TEXT</li></ul></nav>
<div role="navigation">ROLE_NAV_TEXT</div>
<main>
<article>
<header><h1>Travel policy</h1></header>
<p>Trains are booked <b>two weeks</b>
   ahead.</p>
<div>Taxis are allowed after 22:00.</div>
<h2>Hotels</h2>
Loose text directly in the article.
<p>Line one<br>Line two</p>
<table><caption>Hotel caps</caption>
<tr><th>City</th><th>Cap</th></tr>
<tr><td>Paris</td><td>180 &euro;</td></tr>
</table>
<p hidden>HIDDEN_ATTR_TEXT</p>
<div style="display: none">HIDDEN_STYLE_TEXT</div>
<!-- COMMENT_TEXT -->
<noscript>NOSCRIPT_TEXT</noscript>
<form><label>FORM_TEXT</label><button>BUTTON_TEXT</button></form>
<h3>Caf&eacute; allowance</h3>
<ul><li>Coffee</li><li>Tea</li></ul>
</article>
</main>
<aside>ASIDE_TEXT</aside>
<footer>FOOTER_TEXT &copy; 2024</footer>
<script>document.write("SCRIPT2_TEXT")</script>
</body></html>
"""

INVISIBLE_MARKERS = ("PAGE_TITLE_TEXT", "STYLE_TEXT", "color: red", "SCRIPT_TEXT", "SITE_HEADER_TEXT", "NAV_TEXT",
                     "ROLE_NAV_TEXT", "Home", "HIDDEN_ATTR_TEXT", "HIDDEN_STYLE_TEXT", "COMMENT_TEXT", "NOSCRIPT_TEXT",
                     "FORM_TEXT", "BUTTON_TEXT", "ASIDE_TEXT", "FOOTER_TEXT", "SCRIPT2_TEXT")

EMAIL_DATE = dt.datetime(2024, 3, 14, 9, 30, tzinfo=dt.timezone.utc)


def write_eml(path: Path, plain: str | None, html: str | None = None, attachment: str | None = None,
              subject: str = "Réunion budget Q3") -> Path:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "Alice Martin <alice@example.com>"
    message["To"] = "team@example.com"
    message["Date"] = format_datetime(EMAIL_DATE)
    if plain is not None:
        message.set_content(plain)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    if attachment:
        message.add_attachment(b"%PDF-1.4 not really", maintype="application", subtype="pdf", filename=attachment)
    path.write_bytes(message.as_bytes())
    return path


# ---------------------------------------------------------------- bad input
def binary_bytes(n: int = 4096) -> bytes:
    """What a PNG renamed to .txt looks like: a binary header, then noise."""
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(7).randbytes(n)


def reads_are_blocked_by_mode(folder: Path) -> bool:
    """False when chmod 000 does not stop this process from reading (root, CAP_DAC_OVERRIDE)."""
    probe = folder / ".probe-unreadable"
    probe.write_text("x")
    probe.chmod(0)
    try:
        with probe.open("rb"):
            return False
    except PermissionError:
        return True
    finally:
        probe.chmod(0o600)
        probe.unlink()


def deny_reads(monkeypatch, target: Path) -> None:
    """Make opening `target` raise EACCES, as it does for a chmod 000 file when not running as root.

    Only for processes that can read anything (root): every way Python opens a file by name
    (builtins.open, io.open behind Path.open/read_bytes, os.open) refuses this one path; stat and
    every other file behave as usual, exactly like the real permission error.
    """
    denied = os.path.abspath(target)

    def is_target(file) -> bool:
        return isinstance(file, (str, bytes, os.PathLike)) and os.path.abspath(os.fsdecode(file)) == denied

    def refuse(file):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(file))

    real_open, real_io_open, real_os_open = builtins.open, io.open, os.open

    def fake_open(file, *args, **kwargs):
        if is_target(file):
            refuse(file)
        return real_open(file, *args, **kwargs)

    def fake_io_open(file, *args, **kwargs):
        if is_target(file):
            refuse(file)
        return real_io_open(file, *args, **kwargs)

    def fake_os_open(file, *args, **kwargs):
        if is_target(file) and kwargs.get("dir_fd") is None:
            refuse(file)
        return real_os_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_io_open)
    monkeypatch.setattr(os, "open", fake_os_open)
