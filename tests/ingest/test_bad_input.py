"""Bad input gets a one-line reason and every other file goes in: through the real pipeline.

One folder holds two good files, files with awkward names, and one of each kind of bad file an
admin meets on a shared drive. The run must report each bad file with a reason naming its
problem, ingest everything else, say that something failed, and store chunks for the good
files only.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import chroma_ids, chroma_rows, components_for, ingest
from tests.ingest import fixtures as fx

MAX_FILE_MB = 1.0  # the zip bomb is ~0.6 MB on disk: under the limit, so the reader has to catch it

GOOD = {
    "handbook.docx": "The hotel cap is 140 euros per night outside Paris.",
    "leave.md": "Full-time employees get 25 days of paid annual leave.",
}
ODD_NAMES = {
    "quarterly report 2024.txt": "Spaces in the name: revenue grew 12 percent.",
    "résumé équipe été.md": "Accents in the name: the summer team has four people.",
    "first line\nsecond line.txt": "A newline in the name: the archive room is on floor 2.",
}
# bad file -> words one of which its reason must contain
BAD = {
    "corrupt.pdf": ("corrupt",),
    "encrypted.pdf": ("encrypted",),
    "empty.txt": ("empty",),
    "photo.txt": ("binary",),
    "huge.txt": ("too large",),
    "bomb.docx": ("zip bomb",),
    "unreadable.txt": ("permission denied",),
    "loop-a.txt": ("link",),
    "loop-b.txt": ("link",),
}


def build_folder(folder: Path, monkeypatch) -> Path:
    folder.mkdir()
    fx.write_simple_docx(folder / "handbook.docx", "Hotels", GOOD["handbook.docx"])
    (folder / "leave.md").write_text(f"# Leave\n\n{GOOD['leave.md']}\n", encoding="utf-8")
    for name, text in ODD_NAMES.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")

    pdf = fx.pdf_bytes(["Page one of a report.", "Page two of a report."])
    (folder / "corrupt.pdf").write_bytes(pdf[: len(pdf) // 2])
    fx.write_encrypted_pdf(folder / "encrypted.pdf", ["Salaries for 2024."])
    (folder / "empty.txt").write_bytes(b"")
    (folder / "photo.txt").write_bytes(fx.binary_bytes())
    (folder / "huge.txt").write_text("A line of perfectly good text.\n" * 40_000)  # ~1.2 MB
    fx.write_docx_zip_bomb(folder / "bomb.docx")
    os.symlink("loop-b.txt", folder / "loop-a.txt")
    os.symlink("loop-a.txt", folder / "loop-b.txt")
    (folder / "notes.xyz").write_text("an unknown format")

    unreadable = folder / "unreadable.txt"
    unreadable.write_text("Nobody may read this.\n")
    unreadable.chmod(0)
    if not fx.reads_are_blocked_by_mode(folder):  # root: chmod 000 does not stop reads, so refuse this one path
        fx.deny_reads(monkeypatch, unreadable)
    return folder


def stored_sources(components, collection: str = "default") -> dict[str, str]:
    ids = chroma_ids(components.store, collection)
    stored = chroma_rows(components.store, collection, ids)
    sources: dict[str, str] = {}
    for text, meta in zip(stored["documents"], stored["metadatas"]):
        sources[meta["source"]] = sources.get(meta["source"], "") + text
    return sources


@pytest.fixture
def bad_folder(tmp_path, monkeypatch):
    folder = build_folder(tmp_path / "shared drive", monkeypatch)
    yield folder
    (folder / "unreadable.txt").chmod(0o600)


def test_each_bad_file_gets_a_one_line_reason_and_every_other_file_goes_in(home, embedder, bad_folder):
    assert (bad_folder / "bomb.docx").stat().st_size < MAX_FILE_MB * 1024 * 1024
    components = components_for(home, embedder, max_file_mb=MAX_FILE_MB)
    report = ingest(components, [bad_folder])

    failed = dict(report.failed)
    assert set(failed) == {str(bad_folder / name) for name in BAD}, report.failed
    for name, words in BAD.items():
        message = failed[str(bad_folder / name)]
        assert "\n" not in message and "\r" not in message and "Traceback" not in message, (name, message)
        assert 0 < len(message) <= 240, (name, message)
        assert any(word in message.lower() for word in words), (name, message)

    expected = {str(bad_folder / name) for name in [*GOOD, *ODD_NAMES]}
    assert set(report.added) == expected
    assert [path for path, _ in report.skipped] == [str(bad_folder / "notes.xyz")]
    assert "unsupported" in report.skipped[0][1]
    assert report.ok is False

    sources = stored_sources(components)
    assert set(sources) == expected  # chunks for the good files only
    for name, text in {**GOOD, **ODD_NAMES}.items():
        assert text in sources[str(bad_folder / name)], name


def test_a_second_run_reports_the_same_failures_and_keeps_the_good_files(home, embedder, bad_folder):
    """Failures are not forgotten by the nightly re-run, and nothing is embedded twice."""
    components = components_for(home, embedder, max_file_mb=MAX_FILE_MB)
    first = ingest(components, [bad_folder])
    count = components.store.count("default")
    second = ingest(components, [bad_folder])
    assert sorted(second.failed) == sorted(first.failed)
    assert second.ok is False
    assert set(second.unchanged) == set(first.added) and not second.added
    assert components.store.count("default") == count


def test_the_size_limit_is_configurable(home, embedder, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "small.txt").write_text("Short note about parking.\n")
    (folder / "medium.txt").write_text("A line about the canteen menu.\n" * 500)  # ~15 KB
    report = ingest(components_for(home, embedder, max_file_mb=0.01), [folder])
    assert report.added == [str(folder / "small.txt")]
    [(path, message)] = report.failed
    assert path == str(folder / "medium.txt") and "too large" in message and "0.01 MB" in message


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_real_chmod_000_file_is_reported_as_permission_denied(home, embedder, tmp_path):
    """The same case without any fake. As root (CI), the real command runs without the
    capabilities that let root read any file, so chmod 000 stops it as it stops a user."""
    import shutil

    from tests.conftest import run_cli

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "readable.txt").write_text("The canteen opens at noon.\n")
    locked = folder / "locked.txt"
    locked.write_text("Nobody may read this.\n")
    locked.chmod(0)
    try:
        if fx.reads_are_blocked_by_mode(folder):
            report = ingest(components_for(home, embedder), [folder])
            failed, added, ok = report.failed, report.added, report.ok
        else:
            if shutil.which("setpriv") is None:
                pytest.fail("running as root without setpriv: cannot take away the right to read any file")
            result = run_cli("ingest", str(folder), "--json", home=home,
                             wrapper=["setpriv", "--bounding-set=-dac_override,-dac_read_search"])
            summary = __import__("json").loads(result.stdout)
            failed = [(f["path"], f["reason"]) for f in summary["failed"]]
            added, ok = summary["added"], result.returncode == 0
            assert result.returncode == 1, result.stderr
    finally:
        locked.chmod(0o600)
    assert added == [str(folder / "readable.txt")]
    [(path, message)] = failed
    assert path == str(locked) and "permission denied" in message and "\n" not in message
    assert ok is False
