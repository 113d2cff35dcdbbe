"""Which local OCR engine reads our scans better: Tesseract 5 (Debian, through pytesseract, as
ingest/readers/ocr.py runs it) against RapidOCR (rapidocr-onnxruntime: PP-OCR ONNX models inside
its wheel, nothing downloaded), on the generated test scans of tests/ingest/scans.py.

Character accuracy = 1 - edit distance / length of the true text, both with whitespace collapsed;
seconds per page on one core (OMP_THREAD_LIMIT=1 for tesseract, one intra-op thread for ONNX).
RapidOCR is not a dependency: put it on the path to compare (pip install --target DIR
rapidocr-onnxruntime opencv-python-headless pyclipper shapely --no-deps; PYTHONPATH=DIR).

    .venv/bin/python bench/ocr_compare.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from tests.ingest import scans  # noqa: E402


def pages() -> list[tuple[str, object, str]]:
    """(name, image, true text) of every test page, the turned contract page as it is scanned."""
    out = [(f"contract p{n}", scans.render(lines, rotate=90 if n == 3 else 0), "\n".join(lines))
           for n, lines in enumerate(scans.CONTRACT, 1)]
    out += [(name, scans.render(lines), "\n".join(lines))
            for name, lines in (("avis (fr)", scans.AVIS), ("form", scans.FORM), ("notice", scans.NOTICE))]
    return out


def distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def accuracy(read: str, truth: str) -> float:
    read, truth = " ".join(read.split()), " ".join(truth.split())
    return max(0.0, 1 - distance(read, truth) / len(truth))


def tesseract(image) -> str:
    from ingest.readers import ocr

    return ocr.ocr_image(image).text


def rapidocr():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

    def read(image) -> str:
        import numpy as np

        result, _ = engine(np.array(image.convert("RGB")))
        return "\n".join(text for _, text, _ in (result or []))

    return read


def main() -> int:
    engines = {"tesseract 5.3 (eng+fra)": tesseract}
    rapid = rapidocr()
    if rapid is not None:
        engines["rapidocr-onnxruntime"] = rapid
    test_pages = pages()
    print(f"{'engine':26} " + " ".join(f"{name:>12}" for name, _, _ in test_pages) + f" {'mean':>6} {'s/page':>7}")
    for label, read in engines.items():
        read(test_pages[-1][1])  # load the models once before timing
        scores, started = [], time.perf_counter()
        for _, image, truth in test_pages:
            scores.append(accuracy(read(image), truth))
        per_page = (time.perf_counter() - started) / len(test_pages)
        print(f"{label:26} " + " ".join(f"{s:12.3f}" for s in scores)
              + f" {sum(scores) / len(scores):6.3f} {per_page:7.2f}")
    if rapid is None:
        print("(rapidocr-onnxruntime not on the path: see the docstring to compare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
