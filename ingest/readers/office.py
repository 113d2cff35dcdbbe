"""What DOCX, PPTX and XLSX share: each is a zip of XML, checked before any parser opens it.

A zip declares the size of every member before anything is unpacked, so a zip bomb is refused
from its directory alone; the file-size limit of an ingest run cannot catch one (a 600 MiB bomb
is under 1 MiB on disk). A password-protected Office file is not a zip at all but an OLE
compound file, and says so in its first 8 bytes.
"""
from __future__ import annotations

import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ingest.readers.common import UnreadableFile, error_text

# Decompressed size beyond which an office file (a zip) is treated as a zip bomb.
MAX_UNZIPPED_BYTES = 500 << 20
# A member this large that also compresses better than this ratio is a bomb too (real XML: ~10-30x).
_BOMB_MEMBER_BYTES = 100 << 20
_BOMB_RATIO = 200

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # compound file: encrypted OOXML or legacy .doc/.xls/.ppt


def _kind(path: Path) -> str:
    return path.suffix.lower()[1:].upper()


def check_zip(path: Path) -> None:
    """UnreadableFile unless the file is a zip container that is safe to unpack."""
    kind = _kind(path)
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


@contextmanager
def corrupt_if_it_fails(path: Path) -> Iterator[None]:
    """Whatever the parser raises inside becomes 'corrupt DOCX (Type: message)'.

    python-docx, python-pptx and openpyxl raise many exception types on a broken package; the
    admin needs the format and one line.
    """
    try:
        yield
    except UnreadableFile:
        raise
    except Exception as e:
        raise UnreadableFile(f"corrupt {_kind(path)} ({error_text(e)})") from e
