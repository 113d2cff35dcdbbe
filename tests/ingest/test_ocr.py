"""Scans read by OCR: real Tesseract (installed by `make test`) on scans rendered at test time.

English and French text, a table and a page turned by 90 degrees, as an image-only PDF and as
PNG, JPEG and TIFF (tests/ingest/scans.py); then ingested through the real pipeline, and asked
about with the real test model, which must cite the right page.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from assistant.passage import MetadataKey, Passage
from ingest.readers import ocr, read_file
from tests.conftest import components_for, ingest, make_home, run_cli
from tests.ingest import scans
from tests.ingest.conftest import age, run_assistant, stored

COLLECTION = "scans"


def words(text: str) -> list[str]:
    return " ".join(text.split()).lower().split()


@pytest.fixture(scope="module")
def scan_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scans")
    scans.write_scans(folder)
    # A photocopy of a photocopy: blurred and speckled, still partly legible.
    scans.render(scans.NOTICE, noise=0.03, blur=1.8, seed=7).save(folder / "faded-notice.png")
    (folder / "memo.txt").write_text("The Friday stand-up moves to 10:15 from January onwards.\n")
    age(list(folder.iterdir()))
    return folder


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, shared_models_dir, embedder, scan_folder):
    home = make_home(tmp_path_factory.mktemp("ocr") / "home", shared_models_dir)
    components = components_for(home, embedder)
    report = ingest(components, [scan_folder], COLLECTION)
    return components, report


def test_scanned_pdf_is_read_page_by_page_table_and_turned_page_included(scan_folder):
    sections = read_file(scan_folder / "scanned-contract.pdf")
    pages = {s.page: s for s in sections}
    assert sorted(pages) == [1, 2, 3]
    assert "monthly fee" in pages[1].text and "1,840 euros" in pages[1].text
    assert "Grenoble 12 29 euros" in " ".join(pages[2].text.split())  # the table, row by row
    assert "Odile Brandt" in pages[3].text  # scanned turned by 90 degrees
    assert all(s.ocr_confidence is not None and s.ocr_confidence > 80 for s in sections)


@pytest.mark.parametrize("name", ["avis-chaudieres.png", "badge-form.jpg", "parking-notice.tiff"])
def test_images_are_read_french_accents_included(scan_folder, name):
    (section,) = read_file(scan_folder / name)
    expected = words(scans.truth()[name])
    got = words(section.text)
    assert section.page is None and section.ocr_confidence > 80
    assert sum(w in got for w in expected) >= 0.9 * len(expected), section.text
    if name.endswith(".png"):
        assert "chaudières" in got and "février." in got and "bâtiment" in got


def test_ingest_of_scans_keeps_pages_marks_ocr_and_notes_the_low_confidence_page(ingested, scan_folder):
    components, report = ingested
    assert report.ok, report.failed
    assert len(report.added) == 6 and not report.skipped
    assert [(Path(p).name, n.split(" (")[0]) for p, n in report.notes] == [("faded-notice.png", "low OCR confidence")]
    chunks = stored(components.store, COLLECTION)
    by_file = {}
    for text, meta in chunks.values():
        by_file.setdefault(meta[MetadataKey.FILE_NAME], []).append(meta)
    assert sorted(m.get(MetadataKey.PAGE) for m in by_file["scanned-contract.pdf"]) == [1, 2, 3]
    assert all(MetadataKey.OCR_CONFIDENCE in m for name, metas in by_file.items() if name != "memo.txt" for m in metas)
    assert MetadataKey.OCR_CONFIDENCE not in by_file["memo.txt"][0]


def test_the_source_shown_to_staff_says_its_text_came_from_ocr(ingested):
    from ui.render import sources_html

    components, _ = ingested
    chunks = stored(components.store, COLLECTION)
    scanned, typed = (next(Passage.from_record(i, t, m, 1.0, COLLECTION) for i, (t, m) in chunks.items()
                           if (m[MetadataKey.FILE_TYPE] == "txt") == want) for want in (False, True))
    assert "text from OCR" in sources_html([scanned], "Sources")
    assert "text from OCR" not in sources_html([typed], "Sources")


def test_rerun_of_an_unchanged_folder_never_ocrs_again(ingested, scan_folder, monkeypatch):
    components, _ = ingested
    calls = []
    original = ocr.ocr_image
    monkeypatch.setattr(ocr, "ocr_image", lambda image: calls.append(1) or original(image))
    os.utime(scan_folder / "badge-form.jpg")  # touched, same bytes: hashed, not read
    report = ingest(components, [scan_folder], COLLECTION)
    assert report.ok and not report.added and not report.updated and len(report.unchanged) == 6
    assert calls == []


def test_without_the_engine_scans_are_skipped_with_the_command_said_once_and_text_is_ingested(tmp_path,
                                                                                              shared_models_dir):
    folder = tmp_path / "share"
    files = scans.write_scans(folder)
    (folder / "memo.txt").write_text("The Friday stand-up moves to 10:15 from January onwards.\n")
    home = make_home(tmp_path / "home", shared_models_dir)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    result = run_assistant("ingest", str(folder), "-c", COLLECTION, home=home, PATH=str(empty_bin))
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout and "0 failed" in result.stdout and f"{len(files)} skipped" in result.stdout
    assert result.stderr.count("scanned PDFs and images will be skipped") == 1
    assert "apt-get install tesseract-ocr" in result.stderr


@pytest.mark.slow
def test_question_about_a_scanned_page_is_answered_citing_that_page(ingested):
    components, _ = ingested
    result = run_cli("ask", "Who are the keys returned to when the Orbital Cleaning contract ends?",
                     "-c", COLLECTION, "--json", home=components.settings.home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["refused"] is False, data
    assert "Brandt" in data["answer"]
    # The cited passage that holds the fact is the turned page 3 of the contract.
    holding = [s for s in data["sources"] if "Brandt" in s["text"]]
    assert holding, data
    assert all(s["source"].endswith("scanned-contract.pdf") and s["page"] == 3 for s in holding), data
