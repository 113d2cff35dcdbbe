"""ASSISTANT_HOME holds every ingested document as text: no other local account may read it.

The home is made 0700 wherever the product creates it, an existing home open to others is closed
(with the product's own files in it), and the `assistant` command writes with umask 077.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from assistant.settings import ensure_private_home, load_settings
from tests.conftest import components_for, ingest, make_home, run_cli

TEXT = "Salaries are reviewed every March; the budget for 2025 rises by 3 percent.\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def open_to_others(home: Path) -> list[str]:
    """Every file or folder under home (links skipped: they point elsewhere) with a group or other bit."""
    found = []
    for folder, dirs, files in os.walk(home):
        for name in dirs + files:
            path = Path(folder) / name
            if not path.is_symlink() and mode(path) & 0o077:
                found.append(f"{path.relative_to(home)} {mode(path):04o}")
    return found


def folder_with_a_document(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "salaries.txt").write_text(TEXT)
    return folder


def test_a_home_the_command_creates_is_private_and_so_is_everything_in_it(tmp_path):
    home = tmp_path / "fresh" / "home"  # neither exists yet
    result = run_cli("ingest", str(folder_with_a_document(tmp_path)), home=home)

    assert result.returncode == 0, result.stderr
    assert mode(home) == 0o700
    assert mode(home.parent) == 0o700  # made by the command too
    names = {p.name for p in home.rglob("*")}
    assert {"chroma", "chroma.sqlite3", "manifest.sqlite", "keywords.sqlite", "locks"} <= names, names
    assert open_to_others(home) == []
    assert "open to other accounts" not in result.stderr


def test_an_existing_home_open_to_others_is_closed_with_the_products_files_in_it(tmp_path, shared_models_dir,
                                                                                embedder):
    # A home made before this rule: folders 0755, files 0644 (settings file, stores, locks).
    home = make_home(tmp_path / "home", shared_models_dir, top_k=4)
    ingest(components_for(home, embedder), [folder_with_a_document(tmp_path)])
    (home / "my-notes.txt").write_text("the owner's own file, not the product's\n")
    for path in [home, *home.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    models_mode = mode(shared_models_dir)
    assert mode(home) == 0o755 and open_to_others(home)

    result = run_cli("ingest", str(tmp_path / "docs"), home=home)

    assert result.returncode == 0, result.stderr
    assert mode(home) == 0o700
    assert open_to_others(home) == ["my-notes.txt 0644"]  # settings, manifest, chroma, keywords, locks: closed
    assert mode(home / "settings.toml") == 0o600 and mode(home / "manifest.sqlite") == 0o600
    assert mode(shared_models_dir) == models_mode  # a link to a models folder elsewhere is not followed
    assert result.stderr.count("open to other accounts") == 1
    assert "made it private (0700)" in result.stderr

    again = run_cli("ingest", str(tmp_path / "docs"), home=home)
    assert again.returncode == 0 and "open to other accounts" not in again.stderr


def test_the_core_closes_an_open_home_once_with_one_warning(tmp_path, caplog):
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    settings = load_settings(home=home)
    with caplog.at_level(logging.WARNING, logger="assistant.settings"):
        assert ensure_private_home(settings) == home.resolve()
        ensure_private_home(settings)
    assert mode(home) == 0o700
    assert len([r for r in caplog.records if "open to other accounts" in r.getMessage()]) == 1


def test_a_home_the_core_creates_is_private_even_without_the_commands_umask(tmp_path, embedder):
    old_umask = os.umask(0o022)
    try:
        home = tmp_path / "new-home"
        report = ingest(components_for(home, embedder), [folder_with_a_document(tmp_path)])
    finally:
        os.umask(old_umask)
    assert report.ok, report.failed
    assert mode(home) == 0o700
    assert mode(home / "chroma") == 0o700 and mode(home / "locks") == 0o700
