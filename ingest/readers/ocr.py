"""OCR: text of scanned pages and of images (PNG, JPEG, TIFF), by Tesseract on this machine.

Tesseract 5 from Debian (`tesseract-ocr`, `-eng`, `-fra`) through pytesseract, which runs the
`tesseract` binary: nothing is downloaded, and every page is read in a tesseract process of its
own, at most `ocr_workers` at once (OMP_THREAD_LIMIT=1 each), so a folder of scans keeps both
cores busy. Chosen over rapidocr-onnxruntime (its ONNX models ship in its wheel) on the generated
English and French scans: see bench/DECISIONS.md, 2026-12-02.

Each page is read upright first (psm 3); only when that reads with low confidence is the
orientation asked of tesseract's OSD and the page read again turned upright: a rotated page costs
two more runs, an upright one none (always using psm 1, OSD included, cost ~30 % on every page
and cut the first letter of some lines).

A page's confidence is the mean of its words' confidences (0-100, weighted by word length): the
pipeline reports pages below `ocr_min_confidence`. A missing engine is OcrUnavailable, which
the pipeline reports as a skip with the command that installs it, never as a failure.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ingest.readers.common import Section, UnreadableFile, clean
from ingest.readers.registry import register

INSTALL_COMMAND = "sudo apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra"
# PDF pages are rendered at this resolution for OCR: on the test scans 300 dpi read no better and took twice as long.
OCR_DPI = 200
# Below this mean word confidence an upright reading is suspect: ask OSD whether the page is turned.
_ROTATION_CHECK_BELOW = 80.0
# A page that must not be OCR'd as one image (a decompression bomb): about A0 at 300 dpi.
MAX_PIXELS = 150_000_000


class OcrUnavailable(UnreadableFile):
    """The file needs OCR and the engine (or a language it needs) is not installed."""


@dataclass(frozen=True)
class OcrOptions:
    languages: str = "eng+fra"
    workers: int = 2
    command: str = "tesseract"


@dataclass(frozen=True)
class OcrPage:
    text: str
    confidence: float  # mean word confidence, 0-100; 0 when no word was read
    rotated: int = 0  # degrees the page was turned clockwise before it was read


_options = OcrOptions()
_running = threading.BoundedSemaphore(_options.workers)
_lock = threading.Lock()


def configure(options: OcrOptions) -> None:
    """Set the languages, worker count and binary the readers use (the pipeline calls this)."""
    global _options, _running
    with _lock:
        if options != _options:
            _options = options
            _running = threading.BoundedSemaphore(max(1, options.workers))


def options() -> OcrOptions:
    return _options


@functools.lru_cache(maxsize=8)
def _missing(command: str, languages: str) -> str | None:
    found = shutil.which(command)
    if found is None:
        return f"OCR engine not installed (install it with: {INSTALL_COMMAND})"
    try:
        listed = subprocess.run([found, "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return f"OCR engine {found} does not run ({type(e).__name__}); reinstall it: {INSTALL_COMMAND}"
    have = set(listed.stdout.split())
    lacking = [lang for lang in languages.split("+") if lang and lang not in have]
    if lacking:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in lacking)
        return f"OCR language data missing: {', '.join(lacking)} (install it with: sudo apt-get install {packages})"
    return None


def unavailable_reason(opts: OcrOptions | None = None) -> str | None:
    """Why OCR cannot run here (one line, with the command that fixes it), or None when it can."""
    opts = opts or _options
    return _missing(opts.command, opts.languages)


def _require_engine() -> None:
    reason = unavailable_reason()
    if reason is not None:
        raise OcrUnavailable(f"scanned, needs OCR: {reason}")


def _words(data: dict) -> tuple[str, float]:
    """Tesseract's TSV (as pytesseract's dict) -> text with its lines and paragraphs, mean confidence."""
    lines: dict[tuple, list[str]] = {}
    weighted = chars = 0.0
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        conf = float(data["conf"][i])
        if not word or conf < 0:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append(word)
        weighted += conf * len(word)
        chars += len(word)
    out: list[str] = []
    previous = None
    for key, words in lines.items():
        if previous is not None and key[:2] != previous[:2]:
            out.append("")  # a new paragraph or block
        out.append(" ".join(words))
        previous = key
    return clean("\n".join(out)), (weighted / chars if chars else 0.0)


def _binding():
    """pytesseract, set to run our binary with one OpenMP thread. The environment goes to tesseract
    only (pytesseract passes its module's `environ` to the process): OMP_THREAD_LIMIT in our own
    process would also bind llama.cpp and torch."""
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = _options.command
    pytesseract.pytesseract.environ = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    return pytesseract


def _tesseract(image, psm: int) -> tuple[str, float]:
    pytesseract = _binding()
    with _running:
        data = pytesseract.image_to_data(image, lang=_options.languages, config=f"--psm {psm}",
                                         output_type=pytesseract.Output.DICT)
    return _words(data)


def _orientation(image) -> int:
    """Degrees to turn the page clockwise to set it upright (0 when OSD cannot tell)."""
    pytesseract = _binding()
    try:
        with _running:
            osd = pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractError:  # too few characters to tell
        return 0
    return int(osd.get("rotate", 0)) % 360


def ocr_image(image) -> OcrPage:
    """Read one page image (PIL), turning it upright first if it reads badly as it is."""
    _require_engine()
    image = image.convert("L")
    text, confidence = _tesseract(image, 3)
    if confidence < _ROTATION_CHECK_BELOW:
        turn = _orientation(image)
        if turn:
            turned_text, turned_confidence = _tesseract(image.rotate(-turn, expand=True, fillcolor=255), 3)
            if turned_confidence > confidence:
                return OcrPage(turned_text, turned_confidence, turn)
    return OcrPage(text, confidence)


def ocr_pages(images: Iterable) -> list[OcrPage]:
    """Several pages at once, up to `ocr_workers` tesseract processes (each with one thread)."""
    images = list(images)
    if len(images) <= 1 or _options.workers <= 1:
        return [ocr_image(image) for image in images]
    with ThreadPoolExecutor(max_workers=_options.workers, thread_name_prefix="ocr") as pool:
        return list(pool.map(ocr_image, images))


def section(page: OcrPage, number: int | None) -> Section | None:
    return Section(text=page.text, page=number, ocr_confidence=round(page.confidence, 1)) if page.text else None


@register(".png", ".jpg", ".jpeg", ".tif", ".tiff")
def read_image(path: Path) -> list[Section]:
    """An image, or each frame of a multi-page TIFF as a page of its own."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    _require_engine()
    try:
        with Image.open(path) as image:
            frames = []
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                frames.append(ImageOps.exif_transpose(image).convert("L"))  # a phone photo's own rotation
    except UnidentifiedImageError as e:
        raise UnreadableFile(f"not an image, or a damaged one (is the extension {path.suffix} right?)") from e
    except Image.DecompressionBombError as e:
        raise UnreadableFile(f"image too large to OCR (over {MAX_PIXELS // 1_000_000} megapixels)") from e
    pages = ocr_pages(frames)
    numbered = len(pages) > 1
    sections = [s for n, page in enumerate(pages, 1) if (s := section(page, n if numbered else None))]
    if not sections:
        raise UnreadableFile("OCR found no text in the image")
    return sections
