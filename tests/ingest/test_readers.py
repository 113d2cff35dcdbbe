"""Every common format is read into sections with the right text, page and heading path.

The files are real, written at test time by the libraries that write these formats (fpdf2,
pypdf, python-docx, python-pptx, openpyxl, the email package), plus the seed documents.
"""
from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from assistant.passage import HeadingPath, MetadataKey
from ingest.readers import DocumentReader, UnreadableFile, UnsupportedFile, is_supported, read_file, register
from tests.conftest import SEEDS
from tests.ingest import fixtures as fx


def texts(sections) -> str:
    return "\n".join(s.text for s in sections)


def by_heading(sections) -> dict[str, str]:
    return {str(s.heading): s.text for s in sections}


def reason(path: Path) -> str:
    with pytest.raises(UnreadableFile) as caught:
        read_file(path)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message and len(message) <= 240, message
    return message


# ---------------------------------------------------------------- PDF
def test_pdf_text_comes_per_page_with_page_numbers(tmp_path):
    path = fx.write_pdf(tmp_path / "guide.pdf", ["Arrive at 09:00 at reception.", "Badges open the lifts.",
                                                  "Caf\u00e9 closes at 15:00."])
    sections = read_file(path)
    assert [s.page for s in sections] == [1, 2, 3]
    assert "Arrive at 09:00 at reception." in sections[0].text
    assert "Badges open the lifts." in sections[1].text and "reception" not in sections[1].text
    assert "Café closes at 15:00." in sections[2].text


def test_pdf_headings_set_in_larger_type_become_the_heading_path_across_pages(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    for page, lines in enumerate([[(18, "Travel Policy"), (14, "Version 3.8.0"), (11, "Released June, 2008."),
                                   (11, "The base section has been removed.")],
                                  [(11, "Trains are booked in second class."), (14, "Version 4.0"),
                                   (11, "First class is allowed after 4 hours.")]]):
        pdf.add_page()
        for size, text in lines:
            pdf.set_font("Helvetica", size=size)
            pdf.multi_cell(0, 10, text, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "policy.pdf"
    pdf.output(str(path))
    sections = read_file(path)
    assert [(s.page, s.heading) for s in sections] == [
        (1, HeadingPath(["Travel Policy", "Version 3.8.0"])), (2, HeadingPath(["Travel Policy", "Version 3.8.0"])),
        (2, HeadingPath(["Travel Policy", "Version 4.0"]))]
    assert sections[0].text == "Released June, 2008.\nThe base section has been removed."
    assert sections[1].text == "Trains are booked in second class."
    assert "Version" not in " ".join(s.text for s in sections)


def test_pdf_protected_only_against_editing_is_read(tmp_path):
    """An owner password with an empty user password opens in any viewer: it must be read, not refused."""
    path = fx.write_encrypted_pdf(tmp_path / "restricted.pdf", ["Restricted but readable text."], user_password="")
    assert [(s.page, s.text) for s in read_file(path)] == [(1, "Restricted but readable text.")]


def test_pdf_with_a_user_password_is_refused_as_encrypted(tmp_path):
    path = fx.write_encrypted_pdf(tmp_path / "locked.pdf", ["Secret salaries."])
    assert "encrypted" in reason(path).lower()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "not a pdf"])
def test_corrupt_pdf_is_refused_with_a_reason(tmp_path, damage):
    good = fx.pdf_bytes(["Some text on page one.", "More text on page two."])
    data = {"truncated": good[: len(good) // 2], "garbage": b"%PDF-1.7\n" + bytes(range(256)) * 8,
            "not a pdf": b"<html>a web page saved with the wrong name</html>"}[damage]
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    message = reason(path)
    assert "corrupt" in message.lower()
    if damage == "truncated":
        assert "truncated" in message
    if damage == "not a pdf":
        assert "not a PDF" in message


def test_pdf_cut_off_at_its_end_marker_is_refused_as_truncated_though_its_pages_survive(tmp_path):
    """pdfium rebuilds such a file and reads it silently; a cut-off file must be reported, not half-read."""
    good = fx.pdf_bytes(["Some text on page one.", "More text on page two."])
    path = tmp_path / "cut.pdf"
    path.write_bytes(good[: good.rindex(b"%%EOF")])
    message = reason(path)
    assert "corrupt" in message.lower() and "truncated" in message


def test_pdf_padded_after_its_end_marker_is_read(tmp_path):
    path = tmp_path / "padded.pdf"
    path.write_bytes(fx.pdf_bytes(["Text before the padding."]) + b"\x00" * 8192)
    assert [(s.page, s.text) for s in read_file(path)] == [(1, "Text before the padding.")]


def test_pdf_without_a_text_layer_says_so(tmp_path):
    assert "no text layer" in reason(fx.write_blank_pdf(tmp_path / "scan.pdf"))


# ---------------------------------------------------------------- DOCX
def test_docx_paragraphs_tables_and_heading_path(tmp_path):
    sections = read_file(fx.write_docx(tmp_path / "handbook.docx"))
    headings = by_heading(sections)
    assert headings["Travel Handbook"] == "This handbook explains business travel at Bellmont."
    assert headings["Travel Handbook > Booking"] == "Trains are booked two weeks ahead through the travel desk."
    hotels = headings["Travel Handbook > Booking > Hotels"].splitlines()
    assert hotels == ["The hotel cap is 140 euros per night outside Paris.",
                      "Caps per city (2024)",  # a title row merged across the table, said once
                      "City: Paris; Hotel cap: 180; Meal cap: 45",
                      "City: Lyon; Hotel cap: 140; Meal cap: 35",
                      "City: Lyon; Hotel cap: 150; Meal cap: 40"]  # Lyon is merged over two rows
    assert all(s.page is None for s in sections)


def test_docx_keeps_text_that_python_docx_paragraph_text_drops(tmp_path):
    """Tracked insertions, hyperlinks, field results and content controls are text a reader sees;
    deleted text and field codes are not."""
    sections = read_file(fx.write_docx(tmp_path / "handbook.docx"))
    expenses = by_heading(sections)["Travel Handbook > Expenses"]  # "Policy Heading" is based on Heading 1
    assert expenses.splitlines() == ["Claims are approved by the finance director in the expense portal within 30 days.",
                                     "Receipts are kept for ten years."]
    everything = texts(sections)
    assert "the intern" not in everything and "FIELDCODE" not in everything
    # a paragraph given an outline level directly is a heading too
    assert by_heading(sections)["Travel Handbook > Expenses > Mileage"] == "Cars are paid 0.30 euros per km."


def test_encrypted_or_legacy_office_file_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "salaries.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2048))  # how Office stores a password-protected file
    message = reason(path)
    assert "encrypted" in message and "password" in message


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".xlsx"])
def test_corrupt_office_file_is_refused_with_a_reason(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"PK\x03\x04 this zip stops here")
    message = reason(path)
    assert "corrupt" in message and suffix[1:].upper() in message


def test_docx_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    path = fx.write_docx_zip_bomb(tmp_path / "bomb.docx")
    assert path.stat().st_size < 1 << 20  # small on disk, 600 MiB unpacked
    assert "zip bomb" in reason(path)


# ---------------------------------------------------------------- PPTX
def test_pptx_slide_numbers_titles_tables_groups_and_notes(tmp_path):
    sections = read_file(fx.write_pptx(tmp_path / "results.pptx"))
    assert [(s.page, s.heading) for s in sections] == [(1, HeadingPath(["Quarterly results"])),
                                                       (2, HeadingPath(["Regional figures"])), (3, HeadingPath())]
    assert sections[0].text.splitlines() == ["Quarterly results", "Revenue grew 12 percent in the third quarter.",
                                             "Mention the new Lyon warehouse."]
    assert sections[1].text.splitlines() == ["Regional figures", "Region: North; Orders: 1200", "Region: South; Orders: 950",
                                             "Figures are unaudited."]  # the last one sits in a group shape
    assert sections[2].text == "Questions welcome."


# ---------------------------------------------------------------- XLSX and CSV
@pytest.mark.parametrize("wrong_dimension", [False, True], ids=["xlsx", "xlsx-with-wrong-dimension-tag"])
def test_xlsx_rows_carry_their_headers(tmp_path, wrong_dimension):
    sections = read_file(fx.write_xlsx(tmp_path / "budget.xlsx", wrong_dimension=wrong_dimension))
    # the empty sheet gives nothing
    assert [s.heading for s in sections] == [HeadingPath(["Budget"]), HeadingPath(["Contacts"])]
    assert sections[0].text.splitlines() == [
        "Travel budget 2024",  # a title above the header is not a column name
        "Department: Sales; Budget: 12000; Approved on: 2024-03-01; Ratio: 0.25",
        "Department: Marketing; Budget: 8000; Approved on: 2024-04-02; Ratio: 1.5",
        "Department: Support; pending review",  # a value beyond the last header is kept
    ]
    assert sections[1].text == "Name: Alice Martin; Email: alice@example.com"


def test_csv_rows_carry_their_headers_with_quoted_commas_and_newlines(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text('Name,City,Note\nAlice,Paris,"likes trains, planes"\nBob,Lyon,"two\nlines"\n', encoding="utf-8")
    assert texts(read_file(path)).splitlines() == ["Name: Alice; City: Paris; Note: likes trains, planes",
                                                   "Name: Bob; City: Lyon; Note: two lines"]


def test_csv_from_a_french_excel_semicolons_and_cp1252(tmp_path):
    path = tmp_path / "notes-de-frais.csv"
    path.write_bytes("Nom;Ville;Montant\r\nÉlodie;Besançon;12,50 €\r\nJosé;Nîmes;7,00 €\r\n".encode("cp1252"))
    assert texts(read_file(path)).splitlines() == ["Nom: Élodie; Ville: Besançon; Montant: 12,50 €",
                                                   "Nom: José; Ville: Nîmes; Montant: 7,00 €"]


def test_tsv_splits_on_tabs_only(tmp_path):
    path = tmp_path / "codes.tsv"
    path.write_text("Key\tValue\nalpha\t1, 2; 3\n", encoding="utf-8")
    assert texts(read_file(path)) == "Key: alpha; Value: 1, 2; 3"


# ---------------------------------------------------------------- HTML
def test_html_keeps_visible_text_only_with_its_heading_path(tmp_path):
    path = tmp_path / "policy.html"
    path.write_text(fx.PAGE_HTML, encoding="utf-8")
    sections = read_file(path)
    everything = texts(sections) + " ".join(str(s.heading) for s in sections)
    for marker in fx.INVISIBLE_MARKERS:
        assert marker not in everything, marker
    assert by_heading(sections) == {
        "Travel policy": "Trains are booked two weeks ahead.\nTaxis are allowed after 22:00.",
        "Travel policy > Hotels": "Loose text directly in the article.\nLine one\nLine two\nHotel caps\n"
                                  "City: Paris; Cap: 180 €",
        "Travel policy > Hotels > Café allowance": "Coffee\nTea",
    }


def test_html_in_a_declared_legacy_charset(tmp_path):
    path = tmp_path / "old.htm"
    path.write_bytes('<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
                     '</head><body><p>Déjà vu à Besançon</p></body></html>'.encode("latin-1"))
    assert texts(read_file(path)) == "Déjà vu à Besançon"


# ---------------------------------------------------------------- Markdown
MARKDOWN = """---
title: FRONT_MATTER_TITLE
owner: FRONT_MATTER_OWNER
---

Intro before any heading.

# Expenses Guide

General rules.

## Meals ##

Lunch cap is 25 euros.

```python
# not a heading
print("x")
```

Still under meals.

Hotels
------

Hotel text.

Learn C#
========

### C# tips

Use LINQ.
"""


def test_markdown_strips_front_matter_and_keeps_the_heading_path(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    sections = read_file(path)
    assert all(isinstance(s.heading, HeadingPath) for s in sections)
    assert "FRONT_MATTER" not in texts(sections)
    headings = by_heading(sections)
    assert list(headings) == ["", "Expenses Guide", "Expenses Guide > Meals", "Expenses Guide > Hotels",
                              "Learn C# > C# tips"]
    assert headings[""] == "Intro before any heading."
    assert headings["Expenses Guide > Meals"].startswith("Lunch cap is 25 euros.")
    assert "# not a heading" in headings["Expenses Guide > Meals"]  # code stays code
    assert headings["Expenses Guide > Meals"].endswith("Still under meals.")
    assert headings["Expenses Guide > Hotels"] == "Hotel text."  # a setext heading
    assert headings["Learn C# > C# tips"] == "Use LINQ."


def test_markdown_toml_front_matter_and_windows_line_ends(tmp_path):
    path = tmp_path / "hugo.md"
    path.write_bytes(b'+++\r\ntitle = "TOML_FRONT_MATTER"\r\n+++\r\n# Head\r\nbody text\r\n')
    assert [(s.heading, s.text) for s in read_file(path)] == [(HeadingPath(["Head"]), "body text")]


def test_markdown_of_headings_only_keeps_them_as_text(tmp_path):
    path = tmp_path / "outline.md"
    path.write_text("# Leave policy\n\n## Part-time staff\n", encoding="utf-8")
    assert [(s.text, s.heading) for s in read_file(path)] == [("Leave policy > Part-time staff", HeadingPath())]


def test_markdown_thematic_break_is_not_front_matter(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("First paragraph.\n\n---\n\nAfter the rule.\n", encoding="utf-8")
    text = texts(read_file(path))
    assert "First paragraph." in text and "After the rule." in text


# ---------------------------------------------------------------- plain text
SAMPLE = "Café crème, naïve façade, déjà vu — 12 € “quoted”"


ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8-bom": lambda text: text.encode("utf-8-sig"),
    "utf-16-le-bom": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16-be-bom": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "utf-16-le-no-bom": lambda text: text.encode("utf-16-le"),
    "utf-32-bom": lambda text: text.encode("utf-32"),
    "cp1252": lambda text: text.encode("cp1252"),
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_plain_text_in_any_common_encoding(tmp_path, encoding):
    path = tmp_path / "note.txt"
    path.write_bytes(ENCODINGS[encoding](SAMPLE + "\r\nSecond line."))
    assert texts(read_file(path)) == SAMPLE + "\nSecond line."


def test_plain_text_in_latin_1(tmp_path):
    text = "Señor, ¿qué tal? Déjà vu à la française."
    path = tmp_path / "latin1.txt"
    path.write_bytes(text.encode("latin-1"))
    assert texts(read_file(path)) == text


@pytest.mark.parametrize("content", [fx.binary_bytes(), bytes(range(1, 32)) * 200], ids=["png-bytes", "control-chars"])
def test_binary_content_named_txt_is_refused(tmp_path, content):
    path = tmp_path / "photo.txt"
    path.write_bytes(content)
    assert "binary" in reason(path)


# ---------------------------------------------------------------- e-mail
def test_eml_subject_sender_date_and_body(tmp_path):
    path = fx.write_eml(tmp_path / "meeting.eml", "The budget meeting moves to Thursday 14:00.\nBring the figures.")
    [section] = read_file(path)
    assert section.heading == HeadingPath(["Réunion budget Q3"])  # an RFC 2047 encoded subject, decoded
    lines = section.text.splitlines()
    assert lines[:4] == ["Subject: Réunion budget Q3", "From: Alice Martin <alice@example.com>",
                         "To: team@example.com", "Date: Thu, 14 Mar 2024 09:30:00 +0000"]
    assert lines[-2:] == ["The budget meeting moves to Thursday 14:00.", "Bring the figures."]


def test_eml_with_an_html_only_body_is_converted_to_text(tmp_path):
    html = ("<html><head><style>p {color: red}</style></head><body><p>Hello <b>team</b>,</p>"
            "<script>track()</script><p>The budget is approved.</p></body></html>")
    [section] = read_file(fx.write_eml(tmp_path / "html.eml", None, html))
    assert section.text.split("\n\n", 1)[1] == "Hello team,\nThe budget is approved."  # no tags, style or script


def test_eml_prefers_the_plain_part_and_lists_attachments(tmp_path):
    path = fx.write_eml(tmp_path / "alt.eml", "Plain version of the note.", "<p>HTML_VERSION</p>", "report.pdf")
    text = texts(read_file(path))
    assert "Plain version of the note." in text and "HTML_VERSION" not in text
    assert "Attachments: report.pdf" in text


def test_eml_with_an_unknown_charset_is_still_read(tmp_path):
    path = tmp_path / "odd.eml"
    path.write_bytes(b'Subject: Hi\r\nFrom: a@example.com\r\nContent-Type: text/plain; charset="x-unknown"\r\n\r\n'
                     b"Rendez-vous au caf\xe9.\r\n")
    assert texts(read_file(path)).endswith("Rendez-vous au café.")


# ---------------------------------------------------------------- unknown types and odd paths
@pytest.mark.parametrize("name", ["data.xyz", "Makefile", "old.doc", "archive.zip"])
def test_unknown_types_raise_unsupported(tmp_path, name):
    path = tmp_path / name
    path.write_text("anything")
    assert not is_supported(path)
    with pytest.raises(UnsupportedFile):
        read_file(path)


def test_uppercase_extensions_are_recognised(tmp_path):
    path = fx.write_pdf(tmp_path / "SCAN.PDF", ["Upper case name."])
    assert texts(read_file(path)) == "Upper case name."


def test_os_errors_give_one_line_reasons_even_for_a_name_with_a_newline(tmp_path):
    folder = tmp_path / "looks like\na file.txt"  # a directory: reading it fails with the path in the error
    folder.mkdir()
    message = reason(folder)
    assert "directory" in message.lower() and "looks like" not in message


# ---------------------------------------------------------------- the llama-index seam
@pytest.fixture
def registry_restored():
    """A test may register readers; the next one finds the registry as the package left it."""
    from ingest.readers.registry import READERS

    saved = dict(READERS)
    yield
    READERS.clear()
    READERS.update(saved)


def test_document_reader_reads_for_simple_directory_reader_with_our_metadata(tmp_path):
    from llama_index.core import SimpleDirectoryReader

    pdf = fx.write_pdf(tmp_path / "guide.pdf", ["Arrive at 09:00 at reception.", "Badges open the lifts."])
    markdown = tmp_path / "expenses.md"
    markdown.write_text(MARKDOWN, encoding="utf-8")
    ours = DocumentReader()
    documents = SimpleDirectoryReader(input_files=[pdf, markdown],
                                      file_extractor={".pdf": ours, ".md": ours}).load_data()

    pages = [d for d in documents if d.metadata[MetadataKey.FILE_NAME] == "guide.pdf"]
    assert [d.metadata[MetadataKey.PAGE] for d in pages] == [1, 2]
    assert "Arrive at 09:00 at reception." in pages[0].text and "Badges open the lifts." in pages[1].text
    for document in pages:
        assert document.metadata[MetadataKey.SOURCE] == str(pdf)
        assert document.metadata[MetadataKey.FILE_TYPE] == "pdf"  # the extension, not the MIME type
        assert document.metadata[MetadataKey.HEADING] == ""
        assert document.metadata["file_path"] == str(pdf)  # SimpleDirectoryReader's own metadata is kept

    sections = [d for d in documents if d.metadata[MetadataKey.FILE_NAME] == "expenses.md"]
    assert {d.metadata[MetadataKey.HEADING]: d.text for d in sections} == by_heading(read_file(markdown))
    assert [d.metadata[MetadataKey.HEADING] for d in sections] == [
        "", "Expenses Guide", "Expenses Guide > Meals", "Expenses Guide > Hotels", "Learn C# > C# tips"]
    assert sections[4].text == "Use LINQ."
    assert all(MetadataKey.PAGE not in d.metadata and d.metadata[MetadataKey.FILE_TYPE] == "md" for d in sections)
    assert len(documents) == len(pages) + len(sections)


def test_document_reader_raises_as_read_file_does(tmp_path):
    path = tmp_path / "notes.xyz"
    path.write_text("an unknown format")
    with pytest.raises(UnsupportedFile):
        DocumentReader().load_data(path)
    (tmp_path / "photo.txt").write_bytes(fx.binary_bytes())
    with pytest.raises(UnreadableFile, match="binary"):
        DocumentReader().load_data(tmp_path / "photo.txt")


def test_a_llama_index_reader_registered_for_an_extension_reads_it(tmp_path, registry_restored):
    from llama_index.core.readers.json import JSONReader

    path = tmp_path / "caps.jsonl"
    path.write_text('{"city": "Paris", "hotel_cap": 180}\n{"city": "Lyon", "hotel_cap": 140}\n', encoding="utf-8")
    assert not is_supported(path)
    register(".jsonl")(JSONReader(is_jsonl=True, levels_back=0))
    assert is_supported(path) and is_supported(tmp_path / "CAPS.JSONL")
    assert [(s.text, s.page, s.heading) for s in read_file(path)] == [
        ("city Paris\nhotel_cap 180", None, HeadingPath()), ("city Lyon\nhotel_cap 140", None, HeadingPath())]

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"city": "Paris",\n', encoding="utf-8")
    assert reason(broken).startswith("cannot read JSONL (JSONDecodeError: ")  # its errors are wrapped as ours are


@pytest.mark.parametrize("key", ["page_label", "page"])
def test_a_llama_index_reader_replaces_ours_and_its_pages_come_through(tmp_path, registry_restored, key):
    from llama_index.core import Document
    from llama_index.core.readers.base import BaseReader

    class FormFeedPages(BaseReader):
        """Pages of a text file split at form feeds, as pdftotext writes them; a roman-numbered preface."""

        def load_data(self, file, extra_info=None):
            pages = Path(file).read_text(encoding="utf-8").split("\f")
            numbers = ["i", *range(1, len(pages))]
            return [Document(text=text, metadata={key: str(n) if key == "page_label" else n})
                    for text, n in zip(pages, numbers)]

    path = tmp_path / "report.txt"
    path.write_text("Preface by the director.\fChapter one: arrivals.\f \fChapter two: departures.", encoding="utf-8")
    register("txt")(FormFeedPages())
    assert [(s.page, s.text, s.heading) for s in read_file(path)] == [
        (None, "Preface by the director.", HeadingPath()),  # "i" is a label, not a page number
        (1, "Chapter one: arrivals.", HeadingPath()),
        (3, "Chapter two: departures.", HeadingPath())]  # the blank page 2 gives no section


def test_registering_ours_back_restores_our_reader(tmp_path, registry_restored):
    from ingest.readers import read_text

    path = tmp_path / "note.txt"
    path.write_text("One page\fand another.", encoding="utf-8")
    register(".txt")(lambda p: [])
    assert read_file(path) == []
    register(".txt")(read_text)
    assert texts(read_file(path)) == "One page\nand another."


# ---------------------------------------------------------------- the seed documents
def test_seed_pdf_has_two_pages_with_their_numbers():
    sections = read_file(SEEDS / "onboarding-guide.pdf")
    assert sorted({s.page for s in sections}) == [1, 2]
    first_page = [s for s in sections if s.page == 1]
    assert any(str(s.heading).endswith("Part 1: Your First Day") for s in first_page)  # set in larger type
    assert all("Part 2" not in s.text + str(s.heading) for s in first_page)
    assert any("extension 4357" in s.text for s in sections if s.page == 2)


def test_seed_french_docx_with_its_table_and_headings():
    sections = read_file(SEEDS / "politique-securite-informatique.docx")
    headings = by_heading(sections)
    title = "Politique de sécurité informatique"
    assert list(headings)[0] == title
    assert f"{title} > 2. Mots de passe et authentification" in headings
    assert "au moins 14 caractères" in headings[f"{title} > 2. Mots de passe et authentification"]
    table = headings[f"{title} > 5. Classification des données"]
    assert ("Niveau: Confidentiel; Exemples: Contrats clients, données RH, tarifs négociés; "
            "Qui peut y accéder: Personnes nommément autorisées par le responsable du service; "
            "Règles de stockage: Dossiers à accès restreint, chiffrement obligatoire en cas d'envoi externe"
            ) in table.splitlines()


def test_seed_markdown_front_matter_is_stripped_and_headings_kept():
    sections = read_file(SEEDS / "leave-policy.md")
    text = texts(sections)
    assert "owner: People & HR Team" not in text and "updated: 2024-01-15" not in text and "---" not in text
    headings = by_heading(sections)
    assert "25 days of paid annual leave" in headings["Bellmont Logistics Leave Policy > 1. Annual leave entitlement"]
    assert "Bellmont Logistics Leave Policy > 4. Sick leave" in headings


@pytest.mark.parametrize("name", ["expenses-faq.txt", "private-ai-article-fr.txt"])
def test_seed_text_files(name):
    text = texts(read_file(SEEDS / name))
    raw = (SEEDS / name).read_text(encoding="utf-8")
    assert text.split() == raw.split()
