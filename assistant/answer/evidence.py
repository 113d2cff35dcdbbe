"""Whether retrieval found something an answer can stand on, decided before the model is asked.

Small models both invent and over-refuse (FACTS: a fixed refusal sentence made them refuse
answerable questions), so the refusal rests on retrieval evidence: similarity, the question's
subject words in the passages, and words the documents never or hardly use.
"""
from __future__ import annotations

import re
from typing import Protocol, Sequence

from assistant.language import Language
from assistant.passage import Passage
from assistant.text import DIMENSION_FORMS, content_terms, term_coverage

REFUSALS: dict[Language, str] = {
    "en": "The documents do not cover this question.",
    "fr": "Les documents ne couvrent pas cette question.",
}

# A part of a question that no passage covers, said after the answer to the others.
NOT_STATED: dict[Language, str] = {
    "en": "The documents do not state: {part}",
    "fr": "Les documents ne précisent pas : {part}",
}

# A near miss: the passages are about the question's subject but never name what it asks about.
# One line: what they do not mention, and the sentence closest to it, quoted with its citation.
NEAR_MISS: dict[Language, str] = {
    "en": "The documents do not mention {missing}; on the subject they say: “{sentence}” [{number}]",
    "fr": "Les documents ne mentionnent pas {missing} ; sur ce sujet, ils disent : « {sentence} » [{number}]",
}
NOT_NAMED: dict[Language, str] = {"en": "this", "fr": "ce point"}

# The facts check's last resort quotes a sentence; when that sentence shares little of the
# question's subject, it is shown as the closest the documents come, not as the answer.
CLOSEST: dict[Language, str] = {
    "en": "The documents do not state this; the closest they say is: {quote}",
    "fr": "Les documents ne précisent pas ce point ; le plus proche qu'ils disent : {quote}",
}

_MODEL_REFUSAL = re.compile(
    r"(do(es)? not|don't|doesn't) (cover|contain|mention|say|provide|include|specify|address)"
    r"|not (mentioned|covered|specified|provided|stated|found|available) in"
    r"|no (relevant )?information|cannot (answer|find|determine)|unable to (answer|find|determine)"
    r"|ne (couvrent|couvre|mentionne|mentionnent|contient|contiennent|précise|précisent|pr[ée]cisent|indique|indiquent) pas"
    r"|aucune information|pas d'information",
    re.I)


class KeywordStatistics(Protocol):
    """How often words occur in a collection's chunks (the keyword index answers this)."""

    def count(self, collection: str) -> int: ...

    def chunk_counts(self, collection: str, terms: Sequence[str], limit: int) -> dict[str, int]: ...


def looks_like_refusal(text: str) -> bool:
    return bool(_MODEL_REFUSAL.search(text))


def has_evidence(phrasings: Sequence[str], passages: Sequence[Passage], min_relevance: float,
                 confident_relevance: float, min_term_coverage: float) -> bool:
    """Whether retrieval found something the answer can stand on. A passage that is only loosely
    similar must also share the subject words of the question in one of its phrasings (the
    question, its translation); else the model would invent."""
    best = max((p.similarity for p in passages), default=-1.0)
    if best < min_relevance:
        return False
    if best >= confident_relevance:
        return True
    text = " ".join(f"{p.text} {p.heading}" for p in passages)
    return max(term_coverage(content_terms(q), text) for q in phrasings) >= min_term_coverage


def _absence(rare: dict[str, int]) -> tuple[int, int]:
    """How foreign a phrasing is to the documents: words they never use, then words they hardly use."""
    return sum(1 for n in rare.values() if n == 0), len(rare)


def rare_terms(keywords: KeywordStatistics, phrasings: Sequence[str], collections: Sequence[str],
               rare_share: float) -> dict[str, int]:
    """Subject words of the question that the documents never or hardly use (in at most
    `rare_share` of the chunks), with their chunk counts, for the phrasing the documents know
    best: the strongest sign that related passages do not answer."""
    total = sum(keywords.count(c) for c in collections)
    limit = int(rare_share * total)  # below 1/share chunks: only words never used
    best: dict[str, int] | None = None
    for phrasing in phrasings:
        terms = [t for t in content_terms(phrasing) if not t.isdigit()]
        # A word the documents use only in another form ("length" as "long") is not foreign to them.
        # Not "minimum" as "least": "at least" is written about anything, so it says nothing of
        # whether the documents set a minimum.
        forms = {t: (t, *DIMENSION_FORMS.get(t, ())) for t in terms}
        counts = dict.fromkeys(terms, 0)
        for collection in collections:
            found = keywords.chunk_counts(collection, [f for t in terms for f in forms[t]], limit + 1)
            for term in terms:
                counts[term] += max(found.get(f, 0) for f in forms[term])
        rare = {t: n for t, n in counts.items() if n <= limit}
        if best is None or _absence(rare) < _absence(best):
            best = rare
    return best or {}
