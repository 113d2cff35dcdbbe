"""A question with several parts ("Where must X be installed, and may it be compressed?") split into
the questions it asks, so that each part gets its own passages and its own share of the prompt.

By rules rather than by the model: the model costs a call (~1 s of prompt reading on 2 cores)
before retrieval can even start, and on the dev and French gold sets the rules split every
two-part question the sets hold and none of the one-part ones (tests/assistant/test_parts.py,
bench/DECISIONS.md). A part starts at "and"/"et" (after a comma or not) followed by a question
word or an auxiliary, or at a question mark inside the text; "when and where" stays one part,
since both are asked of one fact.
"""
from __future__ import annotations

import re

MAX_PARTS = 3
# A part before another that is this short shares that one's predicate ("Quel jour et à quelle heure
# a lieu ...", "When and where is ..."): the two ask about one fact. A last part may be elliptic
# ("..., and to which address?") but not a lone word.
MIN_LEADING_WORDS = 4
MIN_LAST_WORDS = 2

_EN_PREPOSITIONS = r"(?:to|at|in|on|from|for|with|by|within|under|after|before|of)"
_EN_ASKING = (r"(?:what|which|who|whom|whose|when|where|why|how|may|can|must|should|does|do|did|is|are|was|"
              r"were|will|would|could|has|have)")
_FR_PREPOSITIONS = r"(?:à|a|avec|en|de|d'|pour|dans|par|sur|jusqu'à|jusqu'|chez|vers|depuis)"
_FR_ASKING = (r"(?:qui|que|qu'|quoi|quel|quelle|quels|quelles|quand|où|comment|combien|pourquoi|lequel|laquelle|"
              r"lesquels|lesquelles|est-ce|[\w'-]+-t-(?:il|elle|on)|[\w']+-(?:il|elle|on|ils|elles))")

# The boundary: ", and" / " and " before a question word in English, "et" in French; what follows
# the boundary is the next part.
_BOUNDARY = re.compile(
    rf"\s*,?\s+(?:and|et)\s+(?=(?:(?:{_EN_PREPOSITIONS}|{_FR_PREPOSITIONS})\s*)?(?:{_EN_ASKING}|{_FR_ASKING})\b)"
    r"|(?<=\?)\s+(?=\S)"
    r"|\s*;\s+",
    re.IGNORECASE)


def _as_question(part: str, mark: str) -> str:
    part = part.strip().strip(",;").strip()
    if not part:
        return part
    if part[-1] not in "?.!":
        part = f"{part}{mark}"
    return part[0].upper() + part[1:]


def question_parts(question: str) -> list[str]:
    """The questions a question asks, each ending with its question mark; the question alone when it
    asks one thing. At most MAX_PARTS: past that, the split is more likely wrong than right."""
    text = " ".join(question.split())
    if not text:
        return []
    # French sets a space before "?": keep the question's own style on the parts.
    mark = " ?" if re.search(r"\s\?\s*$", text) else "?"
    # (start, end) of each piece, so that pieces merged back keep the words that joined them.
    spans, start = [], 0
    for boundary in _BOUNDARY.finditer(text):
        spans.append((start, boundary.start()))
        start = boundary.end()
    spans.append((start, len(text)))
    spans = [(a, b) for a, b in spans if text[a:b].strip()]
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and len(text[merged[-1][0]:merged[-1][1]].split()) < MIN_LEADING_WORDS:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    if len(merged) > 1 and len(text[merged[-1][0]:merged[-1][1]].split()) < MIN_LAST_WORDS:
        merged[-2:] = [(merged[-2][0], merged[-1][1])]
    if not 1 < len(merged) <= MAX_PARTS:
        return [text]
    return [_as_question(text[a:b], mark) for a, b in merged]


# Words by which a part points back at what the part before it named ("that file", "cette version").
# Not French le/la/les: they are articles far more often than pronouns.
# French also points back with an inverted subject pronoun: "à quoi servait-il ?", "ouvre-t-elle".
_REFERRING = re.compile(r"\b(?:that|this|these|those|it|its|they|them|their|there|"
                        r"lui|leur|leurs|ce|cet|cette|ces|celui|celle|ceux|celles)\b"
                        r"|\w-(?:t-)?(?:il|elle|ils|elles)\b", re.IGNORECASE)


def refers_back(part: str) -> bool:
    """Whether a part needs the one before it to be understood ("When was that version released?")."""
    return bool(_REFERRING.search(part))
