"""Generators for the parts of README.md and docs/*.md that must not drift from the code.

The [[[cog ]]] blocks in those files call these functions; `make docs` runs cog over them and
tests/test_docs.py fails when they are stale. Every function returns the Markdown text, ending in
a newline, and depends on nothing but the code: no terminal width, no machine, no settings file.
"""
from __future__ import annotations

import argparse
import os
import re
from contextlib import contextmanager

HELP_COLUMNS = 100  # width of every --help in docs/cli.md, whatever the terminal

# The order of the README's command table (subcommands not listed here follow, in the parser's order).
README_ORDER = ("ingest", "search", "ask", "chat", "ui", "eval", "collections", "sources", "users", "models",
                "settings")

# Defaults that depend on the machine, shown as text instead.
MACHINE_DEFAULTS = {"home": "the user's data directory"}


@contextmanager
def _columns(width: int):
    """argparse sizes help to $COLUMNS when it formats (shutil.get_terminal_size): pin it."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def _parser() -> argparse.ArgumentParser:
    from ui.cli import build_parser

    return build_parser()


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help, parser) of each subcommand of parser, in the parser's order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def all_parsers(parser: argparse.ArgumentParser | None = None) -> list[argparse.ArgumentParser]:
    """The parser and every subcommand's and action's parser, depth first in the parser's order."""
    parser = parser or _parser()
    found = [parser]
    for _, _, sub in _subcommands(parser):
        found += all_parsers(sub)
    return found


def _usage(parser: argparse.ArgumentParser) -> str:
    """The usage synopsis on one line, without `usage: ` and without [-h]."""
    with _columns(10_000):
        usage = parser.format_usage()
    usage = " ".join(usage.split()).removeprefix("usage: ")
    return usage.replace(" [-h]", "")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    """An inline code span for a table cell (GitHub needs the pipes escaped even there)."""
    return f"`{_cell(text)}`"


def command_table() -> str:
    """README.md's command table: one row per subcommand, or per action of those that have actions."""
    commands = _subcommands(_parser())
    rank = {name: i for i, name in enumerate(README_ORDER)}
    commands.sort(key=lambda command: rank.get(command[0], len(rank)))  # stable: unlisted keep parser order
    rows = ["| command | what it does |", "|---|---|"]
    for _, help_text, sub in commands:
        actions = _subcommands(sub)
        for _, action_help, action in actions or [("", help_text, sub)]:
            rows.append(f"| {_code(_usage(action))} | {_cell(action_help)} |")
    return "\n".join(rows) + "\n"


def _fenced(text: str, info: str = "text") -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}\n"


def cli_reference() -> str:
    """docs/cli.md: the --help of `assistant` and of every subcommand and action, verbatim."""
    parts = []
    for parser in all_parsers():
        with _columns(HELP_COLUMNS):
            help_text = parser.format_help()
        parts.append(f"## `{parser.prog}`\n\n{_fenced(help_text)}")
    return "\n".join(parts)


def _type_name(annotation) -> str:
    import typing
    from pathlib import Path

    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if annotation is Path:
        return "path"
    args = typing.get_args(annotation)
    if type(None) in args:  # float | None: a value, or unset for a default that depends on others
        return " or ".join(_type_name(a) for a in args if a is not type(None)) + " or unset"
    return getattr(annotation, "__name__", str(annotation))


def _bounds(field) -> str:
    words = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    found = []
    for constraint in field.metadata:
        for attr, symbol in words.items():
            value = getattr(constraint, attr, None)
            if value is not None:
                found.append(f"{symbol} {value}")
    return ", ".join(found)


def _default(name: str, field) -> str:
    import json

    from pydantic_core import PydanticUndefined

    if name in MACHINE_DEFAULTS:
        return MACHINE_DEFAULTS[name]
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"  # as written in settings.toml
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    return _code(json.dumps(value) if isinstance(value, (list, dict)) else str(value))


def settings_table() -> str:
    """docs/settings.md: every field of assistant.settings.Settings."""
    from assistant.settings import ENV_PREFIX, Settings

    rows = ["| setting | environment variable | type | default | description |", "|---|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        kind = _type_name(field.annotation)
        bounds = _bounds(field)
        kind = f"{kind} ({bounds})" if bounds else kind
        rows.append(f"| `{name}` | `{ENV_PREFIX}{name.upper()}` | {kind} | {_default(name, field)} "
                    f"| {_cell(field.description or '')} |")
    return "\n".join(rows) + "\n"
