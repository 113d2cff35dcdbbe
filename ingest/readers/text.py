"""Plain text (.txt, .log, .rst), and decode_text, which every text-based format decodes with.

Files on a shared drive come in whatever encoding the tool that wrote them chose: UTF-8 with or
without a BOM, UTF-16 from Windows tools (often without a BOM), cp1252 from old Office exports.
A file that is not text whatever its name says is refused, not indexed as garbage.
"""
from __future__ import annotations

import codecs
from pathlib import Path

from ingest.readers.common import Section, UnreadableFile, clean
from ingest.readers.registry import register

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


@register(".txt", ".text", ".log", ".rst")
def read_text(path: Path) -> list[Section]:
    text = clean(decode_text(path.read_bytes()))
    return [Section(text=text)] if text else []
