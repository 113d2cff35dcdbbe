"""A full disk, told as one: the stores report it in their own words, or not at all.

SQLite says "database or disk is full"; Python's own writes raise ENOSPC; Chroma's Rust core, run
out of space mid-write, raises `InternalError: Error in compaction: Failed to apply logs to the
metadata segment`, which names no cause (seen filling a 3 MB filesystem during an ingest). So an
error counts as a full disk when its chain says so, or when it comes from a store while the disk
holding the home has almost nothing left.
"""
from __future__ import annotations

import errno
import shutil
from pathlib import Path

from assistant.errors import StoreError

LOW_SPACE_BYTES = 64 * 1024 * 1024  # below this, a store's unexplained write error is the disk's
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_FULL_WORDS = ("disk is full", "no space left", "disk full", "quota exceeded")


class DiskFull(StoreError):
    """The disk holding the home is full; what was written is kept, the rest waits for space."""


def free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def disk_full(error: BaseException, folder: Path) -> DiskFull | None:
    """`error` as a DiskFull when a full disk under `folder` caused it, else None."""
    said = any(getattr(e, "errno", None) in _FULL_ERRNOS or any(w in str(e).lower() for w in _FULL_WORDS)
               for e in _chain(error))
    free = free_bytes(folder)
    low = free is not None and free < LOW_SPACE_BYTES
    from_store = any(type(e).__module__.split(".")[0] in ("chromadb", "sqlite3") for e in _chain(error))
    if not said and not (low and from_store):
        return None
    left = f" ({free / 1048576:.1f} MB free)" if free is not None else ""
    return DiskFull(f"the disk holding {folder} is full{left}: free some space, then run the same command "
                    "again; what was written so far is kept, and the file being written when it filled is "
                    "written again")
