"""The docs generated from the code (cog blocks in README.md, docs/cli.md, docs/settings.md) are up
to date, and every `assistant` flag the README mentions exists."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ["README.md", "docs/cli.md", "docs/settings.md"]
NOT_OURS = {"--path"}  # `chroma run --path DIR`: Chroma's own CLI


def cog_check(*files: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cogapp", "--check", "--diff", "--verbosity=1", *map(str, files)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_generated_docs_are_up_to_date():
    result = cog_check(*GENERATED)
    assert result.returncode == 0, (
        "README.md or docs/ are stale (the CLI or the settings changed): run `make docs` and commit the result.\n"
        + result.stdout + result.stderr)


def test_the_check_fails_when_a_generated_line_is_changed(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    assert cog_check(readme).returncode == 0, "the check should pass on an unchanged copy"

    lines = readme.read_text("utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if "[[[cog" in line and "command_table" in line)
    row = next(i for i in range(start, len(lines)) if lines[i].startswith("| `assistant "))
    lines[row] = lines[row].replace("| `assistant ", "| `assistant --no-such-flag ", 1)
    readme.write_text("".join(lines), "utf-8")

    result = cog_check(readme)
    assert result.returncode == 5, result.stdout + result.stderr  # 5: cog's "check failed"
    assert "Check failed" in result.stdout + result.stderr


def _helpers():
    spec = importlib.util.spec_from_file_location("cog_helpers", ROOT / "docs" / "cog_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_flags() -> set[str]:
    """--flags inside backticks on README lines that mention `assistant`, and on the lines of code
    blocks that run it."""
    flags, in_code = set(), False
    for line in (ROOT / "README.md").read_text("utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if "assistant" not in line:
            continue
        if in_code:
            spans = [line.split("#", 1)[0]] if re.search(r"\bassistant\b", line) else []
        else:
            spans = re.findall(r"`([^`]*)`", line)
        for span in spans:
            flags |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", span))
    return flags


def test_every_flag_the_readme_mentions_exists():
    options = {option for parser in _helpers().all_parsers() for action in parser._actions
               for option in action.option_strings}
    flags = readme_flags()
    assert {"--collection", "--json", "--help"} <= flags, flags  # the scan sees the README's flags
    unknown = sorted(flags - options - NOT_OURS)
    assert not unknown, f"README.md mentions options no `assistant` command has: {unknown}"
