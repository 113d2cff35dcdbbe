"""Imports point one way: ui (the web app and the CLI) -> ingest -> assistant (the core).

Read from the source, every import counted, those inside functions too: a back-arrow hidden in
a function body is still a cycle for whoever reads or extends the code."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["ui", "ingest", "assistant"]  # each may import only the ones after it


def imported_packages(path: Path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def back_arrows() -> list[str]:
    arrows = []
    for position, layer in enumerate(LAYERS):
        above = set(LAYERS[:position])
        for path in sorted((ROOT / layer).rglob("*.py")):
            for package, line in sorted(imported_packages(path)):
                if package in above:
                    arrows.append(f"{path.relative_to(ROOT)}:{line} imports {package}")
    return arrows


def test_no_package_imports_a_layer_above_it():
    assert back_arrows() == []


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from ui.app import serve\n    import ingest.pipeline\n")
    assert imported_packages(module) == {("ui", 2), ("ingest", 3)}


def test_the_console_script_is_a_face():
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    assert 'assistant = "ui.cli:main"' in text
