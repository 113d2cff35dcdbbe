"""[n] markers checked against the excerpts the prompt numbered: a marker that names no excerpt is
removed, also while the answer streams, and the cited numbers become the answer's sources.
Small models number freely; a citation is only ever mapped from what was retrieved."""
from __future__ import annotations

import re

_MARKER = re.compile(r"\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*)\]")


def _replace_markers(text: str, n_passages: int, cited: list[int]) -> str:
    def replace(match: re.Match) -> str:
        numbers = [int(x) for x in re.findall(r"\d+", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= n_passages]
        cited.extend(n for n in valid if n not in cited)
        return "".join(f"[{n}]" for n in dict.fromkeys(valid))

    return _MARKER.sub(replace, text)


def clean_citations(text: str, n_passages: int) -> tuple[str, list[int]]:
    """Drop [n] markers that name no passage; return the text and the cited numbers in order."""
    cited: list[int] = []
    cleaned = _replace_markers(text, n_passages, cited)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip(), cited


class CitationStreamFilter:
    """Streams text while holding back a '[...' until it is known whether it is a valid marker."""

    def __init__(self, n_passages: int):
        self.n = n_passages
        self._held = ""

    def feed(self, text: str) -> str:
        self._held += text
        start = self._held.rfind("[")
        if start == -1 or "]" in self._held[start:] or len(self._held) - start > 16:
            out, self._held = self._held, ""
        else:
            out, self._held = self._held[:start], self._held[start:]
        return _replace_markers(out, self.n, [])

    def flush(self) -> str:
        out, self._held = self._held, ""
        return _replace_markers(out, self.n, [])
