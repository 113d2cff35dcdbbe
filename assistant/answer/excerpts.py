"""What the model reads: the sentences of the retrieved passages that bear on the question.

On a 2-core CPU the model reads a prompt at ~60 tokens/s, so every prompt token is waiting time
before the first word of the answer. Whole passages would cost ~1,000 tokens (~17 s); the
sentences that share the question's meaning and words cost a fifth of that, and small models
answer better without the noise around them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from assistant.passage import Passage
from assistant.text import TABLE_ROW, content_terms, fold, missing_terms

MIN_SENTENCE_SCORE = 0.2
RELATIVE_SENTENCE_SCORE = 0.5
LEAD_LINE_WORDS = 6

# A sentence starts with a capital, accented ones included (É, À and Ç open French sentences), a
# digit, or an opening quote or bracket.
_SENTENCE_START = "A-Z0-9\u00C0-\u00D6\u00D8-\u00DE\u0152\"'(\\[«-"
_SENTENCE_END = re.compile(rf"(?<=[.!?])\s+(?=[{_SENTENCE_START}])|\n+")


# A line break inside a paragraph is only wrapping; one before a list item, heading, table row or
# blank line ends a unit of its own.
_SOFT_BREAK = re.compile(r"(?<!\n)\n(?!\s*(?:[-*+•|#>]|\d+[.)]\s|\n))")


def _unwrapped(text: str) -> str:
    def join(match: re.Match) -> str:
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        before, after = text[start:match.start()], text[match.end():end if end >= 0 else len(text)]
        return "\n" if TABLE_ROW.match(before) or TABLE_ROW.match(after) else " "
    return _SOFT_BREAK.sub(join, text)


def split_sentences(text: str) -> list[str]:
    text = _unwrapped(text)
    sentences: list[str] = []
    for piece in (s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()):
        if sentences and re.fullmatch(r"(\d+|[a-zA-Z])[.)]", sentences[-1]):
            sentences[-1] += " " + piece  # "1." of a numbered list belongs to its item
        else:
            sentences.append(piece)
    return sentences


@dataclass
class Excerpt:
    """A retrieved passage and the part of it the prompt shows."""
    passage: Passage
    text: str


Embed = Callable[[list[str]], list[list[float]]]


def select_context(question: str, passages: Sequence[Passage], embed: Embed,
                   count_tokens: Callable[[str], int], budget: int,
                   alternatives: Sequence[str] = (), embed_queries: Embed | None = None) -> list[Excerpt]:
    """Pick sentences by meaning (cosine to the question or its translation) and words (shared
    subject terms) until the token budget is spent; keep each passage's sentences in order.
    `embed_queries` embeds the question's phrasings where the embedder tells questions from
    passages (e5); else `embed` embeds both."""
    chosen = _chosen_sentences(question, passages, embed, count_tokens, budget, alternatives, embed_queries)
    return _excerpts(list(passages), {p: chosen[p] for p in sorted(chosen)})


def select_context_per_part(parts: Sequence[tuple[str, Sequence[str], Sequence[Passage]]],
                            embed: Embed, count_tokens: Callable[[str], int],
                            budget_per_part: int, embed_queries: Embed | None = None) -> list[Excerpt]:
    """Sentences for each part of a question (its text, its translations, its passages) within a
    budget of its own, so that one part's passages cannot crowd out another's; a passage two parts
    draw on is one excerpt holding the sentences of both."""
    cache: dict[str, list[float]] = {}

    def cached_embed(texts: list[str]) -> list[list[float]]:
        new = [t for t in dict.fromkeys(texts) if t not in cache]
        if new:
            cache.update(zip(new, embed(new)))
        return [cache[t] for t in texts]

    order: list[Passage] = []
    index_of: dict[tuple[str, str], int] = {}
    positions: dict[int, dict[int, str]] = {}
    for question, alternatives, passages in parts:
        chosen = _chosen_sentences(question, passages, cached_embed, count_tokens, budget_per_part, alternatives,
                                   embed_queries)
        for p_index, sentences in chosen.items():
            passage = passages[p_index]
            if passage.key not in index_of:
                index_of[passage.key] = len(order)
                order.append(passage)
            positions.setdefault(index_of[passage.key], {}).update(sentences)
    # A sentence two passages share (documents repeat themselves) is shown once, in the first.
    seen: set[str] = set()
    kept: dict[int, list[tuple[int, str]]] = {}
    for i in sorted(positions):
        for position, sentence in sorted(positions[i].items()):
            folded = " ".join(sentence.lower().split())
            if folded not in seen:
                seen.add(folded)
                kept.setdefault(i, []).append((position, sentence))
    return _excerpts(order, kept)


# "What are the four maintainer scripts?" wants the sentence that lists four things; it shares one
# word with the question ("scripts") and lost to sentences about the scripts (dev d09).
_COUNTED_THINGS = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|[2-9]|1[0-9])"
    r"\s+(?!(?:days?|hours?|weeks?|months?|years?|minutes?|jours?|heures?|semaines?|mois|ans?|années?)\b)[^\W\d]{3,}",
    re.I)
_NUMBER_WORDS = {w: n for n, words in enumerate(
    [(), (), ("two", "deux"), ("three", "trois"), ("four", "quatre"), ("five", "cinq"), ("six",), ("seven", "sept"),
     ("eight", "huit"), ("nine", "neuf"), ("ten", "dix")]) for w in words}
LIST_BONUS = 1.0  # above the best cosine + word share of a sentence merely about the things (d09: 0.87 + 0.25)


def listed_count(question: str) -> int:
    """How many things a question asks to be named ("the four scripts": 4; 0 when it names no
    count of things; durations are amounts, not lists)."""
    match = _COUNTED_THINGS.search(question)
    if not match:
        return 0
    word = match.group(1).lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def list_items(sentence: str) -> int:
    """How many things a sentence lists: its code spans, or the members of an "a, b and c" series."""
    spans = len(re.findall(r"`[^`]+`", sentence))
    series = re.search(r"((?:[^,;:.]+,\s*)+[^,;:.]+?\s(?:and|or|et|ou)\s[^,;:.]+)", sentence)
    members = series.group(1).count(",") + 2 if series else 0
    return max(spans, members)


# "How many Developers must second a proposal?" wants the sentence with the number ("we're going
# with N=3"); it shared fewer words with the question than one saying who may second (dev d15).
COUNT_BONUS = 0.3
# Cosine plus this times the word share: what the sentence says, and whether it names the subject.
WORD_SHARE_WEIGHT = 0.5
# A sentence opening on a pronoun ("They must ...", "This is ..."), not on a determiner that
# names its subject ("These scripts are ...").
_POINTS_BACK = re.compile(r"(?:They|It|Its|Their|Ils|Elles|Il|Elle|Cela|Ceci|Ceux|Celles?)\b"
                          r"|(?:This|These|Those|That|Such)\s+(?:is|are|was|were|must|should|may|can|will|has|have)\b"
                          r"|(?:Ce|Ces)\s+(?:est|sont|doit|doivent|peut|peuvent)\b")


# Stopwords elsewhere, but what "which priority do most packages use?" asks about: the sentence
# saying "Most Debian packages will have a priority of optional" (dev d14) is told by it alone.
_QUANTIFIERS = frozenset({"most", "plupart", "majorite"})


def _subject_words(question: str) -> list[str]:
    asked = set(re.findall(r"[a-z]+", fold(question)))
    return [*content_terms(question), *sorted(_QUANTIFIERS & asked)]


def _word_share(terms: Sequence[str], texts: Sequence[str]) -> list[float]:
    """For each text, the share of the question's subject words it holds, each word weighted by
    how few of the texts hold it: in "the minimum length of a Debian package name", every
    sentence of a Debian manual says "package" and few say "least ... long" (dev d01), and a
    plain share ranked "every package must have a unique name" above the rule on its length."""
    if not terms:
        return [0.0] * len(texts)
    holds = [[t not in missing for t in terms] for missing in (set(missing_terms(list(terms), x)) for x in texts)]
    weights = [math.log(1 + len(texts) / (1 + sum(row[j] for row in holds))) for j in range(len(terms))]
    total = sum(weights)
    return [sum(w for w, held in zip(weights, row) if held) / total for row in holds]


def _chosen_sentences(question: str, passages: Sequence[Passage], embed: Embed,
                      count_tokens: Callable[[str], int], budget: int,
                      alternatives: Sequence[str], embed_queries: Embed | None = None) -> dict[int, list[tuple[int, str]]]:
    """passage index -> the (position, sentence) pairs chosen from it."""
    import numpy as np

    # grounding reads sentences with this module's splitter: imported here, not at the top.
    from assistant.answer.grounding import asks_for_count, states_count

    sentences: list[tuple[int, int, str]] = []  # (passage index, position, sentence)
    for p_index, passage in enumerate(passages):
        for position, sentence in enumerate(split_sentences(passage.text)):
            sentences.append((p_index, position, sentence))
    if not sentences:
        return {}
    phrasings = [question, *alternatives]
    texts = [s for _, _, s in sentences]
    if embed_queries is None:  # one call for both
        vectors = np.asarray(embed(phrasings + texts), dtype=np.float32)
        asked, sentence_vectors = vectors[:len(phrasings)], vectors[len(phrasings):]
    else:
        asked = np.asarray(embed_queries(phrasings), dtype=np.float32)
        sentence_vectors = np.asarray(embed(texts), dtype=np.float32)
    similarity = (sentence_vectors @ asked.T).max(axis=1)
    # A sentence that opens on a pronoun ("They must be at least two characters long") is read
    # with the sentence before it, which names what it is about ("Package names must ...").
    leaning = [i for i, (p_index, position, s) in enumerate(sentences)
               if position and _POINTS_BACK.match(s) and sentences[i - 1][0] == p_index]
    context = {i: f"{sentences[i - 1][2]} {sentences[i][2]}" for i in leaning}
    if leaning:
        joined = np.asarray(embed([context[i] for i in leaning]), dtype=np.float32)
        for row, i in enumerate(leaning):
            similarity[i] = max(similarity[i], float((joined[row] @ asked.T).max()))
    wanted = max((listed_count(p) for p in phrasings), default=0)
    counting = any(asks_for_count(p) for p in phrasings)
    shares = [_word_share(_subject_words(p), [context.get(i, s) for i, (_, _, s) in enumerate(sentences)])
              for p in phrasings]
    scores = [float(similarity[i]) + WORD_SHARE_WEIGHT * max(share[i] for share in shares)
              + (LIST_BONUS if wanted and list_items(s) >= wanted else 0.0)
              + (COUNT_BONUS if counting and states_count(s) else 0.0)
              for i, (_, _, s) in enumerate(sentences)]

    chosen: set[int] = set()
    spent = 0
    # The best sentence of each of the first passages goes in first: retrieval ranked them for a
    # reason, and a question about two documents needs both.
    best_per_passage: dict[int, int] = {}
    for i, (p_index, _, _) in enumerate(sentences):
        if p_index not in best_per_passage or scores[i] > scores[best_per_passage[p_index]]:
            best_per_passage[p_index] = i
    firsts = [best_per_passage[p] for p in sorted(best_per_passage)[:2]]
    # Beyond those, a sentence must be about the question, not merely fit in the budget.
    floor = max(MIN_SENTENCE_SCORE, RELATIVE_SENTENCE_SCORE * max(scores))
    # Documents repeat themselves (the same rule in three chapters): a sentence is shown once.
    shown_texts: set[str] = set()

    def take(i: int) -> None:
        nonlocal spent
        text = " ".join(sentences[i][2].lower().split())
        if i in chosen or text in shown_texts:
            return
        cost = count_tokens(sentences[i][2])
        if spent + cost <= budget or not chosen:
            chosen.add(i)
            shown_texts.add(text)
            spent += cost

    ranked = sorted(range(len(sentences)), key=lambda i: scores[i], reverse=True)
    # The best sentence of all before them: the firsts of two near-duplicate passages (and the
    # sentences they point back to) spent the budget that d01's rule needed.
    for i in [ranked[0], *firsts, *ranked[1:]]:
        if i in chosen or (i not in firsts and scores[i] < floor):
            continue
        if i in context and i - 1 not in chosen and (
                not chosen or spent + count_tokens(sentences[i - 1][2]) + count_tokens(sentences[i][2]) <= budget):
            take(i - 1)  # with the sentence it points back to, when both fit: alone it names nothing
        take(i)
        # A sentence that announces what follows ("calculated as follows:") is nothing without it.
        following = i + 1
        if i in chosen and following < len(sentences) and sentences[following][0] == sentences[i][0] \
                and sentences[i][2].rstrip().endswith(":"):
            take(following)

    # A short opening line of a passage ("Released June, 2008.", "Updated 2024-01-15") qualifies
    # everything under its heading: it goes with any sentence taken from that passage, even a
    # few tokens over the budget.
    for p_index in sorted({sentences[i][0] for i in chosen}):
        first = next(i for i, (p, _, _) in enumerate(sentences) if p == p_index)
        if first not in chosen and len(sentences[first][2].split()) <= LEAD_LINE_WORDS:
            chosen.add(first)

    by_passage: dict[int, list[tuple[int, str]]] = {}
    for i in chosen:
        p_index, position, sentence = sentences[i]
        by_passage.setdefault(p_index, []).append((position, sentence))
    return by_passage


def _excerpts(passages: Sequence[Passage], chosen: dict[int, list[tuple[int, str]]]) -> list[Excerpt]:
    """One excerpt per passage, in the order of `chosen`: its sentences in document order, " … "
    where the excerpt skips some."""
    result = []
    for p_index, parts in chosen.items():
        text, previous = "", None
        for position, sentence in sorted(parts):
            gap = previous is not None and position != previous + 1
            text += (" … " if gap else " ") + sentence
            previous = position
        result.append(Excerpt(passages[p_index], text.strip()))
    return result
