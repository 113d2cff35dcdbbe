"""Real scans, made at test time: text rendered to images with a Debian TTF font, saved as
image-only PDFs (no text layer at all), PNG, JPEG and TIFF.

Each page's text is known, so a test (and bench/ingest_bench.py, bench/ocr_compare.py) can say
what OCR should have read. Pages are A4 at 200 dpi, set in 11-12 pt type like a printed letter.
"""
from __future__ import annotations

import random
from pathlib import Path

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
DPI = 200
A4 = (1654, 2339)  # pixels at 200 dpi

CONTRACT = [  # pages of scanned-contract.pdf; page 3 is scanned turned by 90 degrees
    ["Maintenance contract 2026",
     "The annual maintenance contract with Orbital Cleaning covers",
     "the Lyon warehouse from March to November. The monthly fee",
     "is 1,840 euros, payable on the fifth working day of each month.",
     "Windows are cleaned every second Tuesday."],
    ["Rates per site",
     "Site        Hours per week    Rate per hour",
     "Lyon        24                31 euros",
     "Grenoble    12                29 euros",
     "Valence     8                 27 euros"],
    ["Termination",
     "Either party may end this contract with ninety days notice.",
     "When the contract ends, the keys are returned to the facility",
     "manager of the Lyon warehouse, Odile Brandt."],
]
AVIS = ["Avis aux locataires",
        "Le contrôle annuel des chaudières aura lieu le jeudi 12 février.",
        "Les résidents du bâtiment C doivent laisser l'accès à la chaufferie.",
        "Pour toute question, adressez-vous à la gérance, bureau 104."]
FORM = ["Badge request form",
        "Employee: Martin Okafor",
        "Department: Procurement",
        "Access granted to the archive room on level minus two."]
NOTICE = ["Parking notice",
          "The visitor car park closes at 19:30 on weekdays.",
          "Vehicles left overnight are moved to the south lot."]


def render(lines: list[str], rotate: int = 0, size: tuple[int, int] = A4, points: float = 12,
           noise: float = 0.0, blur: float = 0.0, seed: int = 0):
    """One page as a grayscale PIL image: the first line in bold as a title, the rest as body;
    `rotate` turns the page counter-clockwise, `noise` (0-1) and `blur` (px) degrade it."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    pixels = points * DPI / 72
    title = ImageFont.truetype(FONT_BOLD, int(pixels * 1.4))
    body = ImageFont.truetype(FONT, int(pixels))
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    y = int(DPI * 1.0)
    for number, line in enumerate(lines):
        font = title if number == 0 else body
        draw.text((int(DPI * 0.9), y), line, font=font, fill=0)
        y += int((pixels * 1.4 if number == 0 else pixels) * 1.7)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        rng = random.Random(seed)
        data = image.load()
        for _ in range(int(size[0] * size[1] * noise)):
            x, y = rng.randrange(size[0]), rng.randrange(size[1])
            data[x, y] = 0 if data[x, y] > 128 else 255
    return image.rotate(rotate, expand=True, fillcolor=255) if rotate else image


def save_pdf(path: Path, images: list) -> Path:
    """An image-only PDF, one image per page, as a scanner writes it."""
    first, *rest = [image.convert("L") for image in images]
    first.save(path, "PDF", resolution=DPI, save_all=True, append_images=rest)
    return path


def write_contract(path: Path) -> Path:
    return save_pdf(path, [render(CONTRACT[0]), render(CONTRACT[1]), render(CONTRACT[2], rotate=90)])


def write_scans(folder: Path) -> dict[str, Path]:
    """The test scans: a 3-page contract PDF (text, a table, a page turned 90 degrees), a French
    notice as PNG, a form as JPEG and a notice as TIFF."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"contract": write_contract(folder / "scanned-contract.pdf")}
    render(AVIS).save(folder / "avis-chaudieres.png")
    files["avis"] = folder / "avis-chaudieres.png"
    render(FORM).convert("RGB").save(folder / "badge-form.jpg", quality=85)
    files["form"] = folder / "badge-form.jpg"
    render(NOTICE).save(folder / "parking-notice.tiff", compression="tiff_lzw")
    files["notice"] = folder / "parking-notice.tiff"
    return files


def truth() -> dict[str, str]:
    """What each test scan says, by the name write_scans gives it."""
    return {"scanned-contract.pdf": "\n".join("\n".join(page) for page in CONTRACT),
            "avis-chaudieres.png": "\n".join(AVIS), "badge-form.jpg": "\n".join(FORM),
            "parking-notice.tiff": "\n".join(NOTICE)}
