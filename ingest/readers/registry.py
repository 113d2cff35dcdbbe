"""Which reader reads which extension, and read_file, the one door every caller goes through.

Readers register themselves by extension when their module is imported (ingest.readers imports
them all). A llama-index BaseReader registers the same way, so a company's own reader for a
format replaces ours, or adds one, without a change here.

Whatever goes wrong inside a parser (they raise many exception types on broken files) reaches
the caller of read_file as UnreadableFile with a one-line reason, so one bad file never stops
an ingest run.
"""
from __future__ import annotations

import errno
from pathlib import Path
from typing import Callable, TypeVar

from ingest.readers.common import Section, UnreadableFile, UnsupportedFile, error_text

Reader = Callable[[Path], list[Section]]
R = TypeVar("R")

# ".pdf" -> the function that reads it; filled by register().
READERS: dict[str, Reader] = {}


def _extension(extension: str) -> str:
    extension = extension.strip().lower()
    return extension if extension.startswith(".") else "." + extension


def register(*extensions: str) -> Callable[[R], R]:
    """Make what it decorates the reader of these extensions, replacing any reader they had.

    What it decorates is a function path -> list[Section], or a llama-index BaseReader (anything
    with load_data(file)): its Documents become Sections.
    """
    if not extensions:
        raise ValueError("register() needs at least one extension")

    def decorate(reader: R) -> R:
        if callable(getattr(reader, "load_data", None)):
            from ingest.readers.llama_documents import sections_reader

            read = sections_reader(reader)
        elif callable(reader):
            read = reader
        else:
            raise TypeError(f"a reader is a function path -> sections or a llama-index BaseReader, not {reader!r}")
        for extension in extensions:
            READERS[_extension(extension)] = read
        return reader

    return decorate


def file_type(path: Path) -> str:
    return Path(path).suffix.lower().lstrip(".")


def is_supported(path: Path) -> bool:
    return Path(path).suffix.lower() in READERS


def read_file(path: Path) -> list[Section]:
    """Sections of one file; UnsupportedFile for a type with no reader, UnreadableFile (one line) otherwise."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UnsupportedFile(f"unsupported file type {path.suffix or '(none)'}")
    try:
        return reader(path)
    except UnreadableFile:
        raise
    except PermissionError as e:
        raise UnreadableFile("permission denied") from e
    except FileNotFoundError as e:
        raise UnreadableFile("file vanished while it was being read") from e
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UnreadableFile("symbolic link loop") from e
        raise UnreadableFile(f"cannot read ({error_text(e)})") from e
    except RecursionError as e:
        raise UnreadableFile(f"cannot read {file_type(path).upper()}: structure nested too deeply") from e
    except Exception as e:  # a parser bug on a strange file must not stop the run
        raise UnreadableFile(f"cannot read {file_type(path).upper()} ({error_text(e)})") from e
