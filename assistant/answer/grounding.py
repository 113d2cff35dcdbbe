"""Every checkable fact of an answer must stand in the excerpt it cites.

A small model copies the right passage and changes its number on the way (a minimum length, an
hour count, a duration): the citation then makes a wrong fact look trustworthy. The facts
checked are the ones a reader acts on and a model gets wrong: numbers (with amounts, dates and
durations, which are numbers in words), e-mail addresses, URLs and proper names. Formatting is
allowed: "fourteen" is 14, "3–5" is 3 and 5, "25 000" is 25000, "0,30" is 0.30.

Each sentence of the answer is checked against the excerpts it cites, or against every excerpt
shown when it cites none (a sentence without a marker still rests on the prompt).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Sequence

from assistant.answer.excerpts import split_sentences

_NUMBER_WORDS = {
    # English and French, as small models write them
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "hundred": 100, "thousand": 1000,
    "zéro": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8, "neuf": 9,
    "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16, "vingt": 20,
    "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60, "cent": 100, "mille": 1000,
}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.I)
# 25 000, 25,000, 1.5, 0,30 — a thousands separator is 3 digits after it; a decimal is not.
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:[ \u00a0\u202f,.]\d{3})+(?![\d])|\d+(?:[.,]\d+)?")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_MARKER = re.compile(r"\[(\d+)\]")
# "[insert date]", "[Nom de l'administration]": a blank the model left for a fact it lacked (dev
# d12). Not a citation marker, not the text of a markdown link. Checked like a fact: a blank the
# excerpt itself has (a letter template) is the excerpt's.
_PLACEHOLDER = re.compile(r"\[(?!\d+\])[^\[\]\n]{2,60}\](?![(\\])")
# "version 3.8.0": a release number, which a reader takes for a version only where it is one.
_VERSION = re.compile(r"\bversion\s+(\d+(?:\.\d+)+)\b", re.I)


# Days and months, which an answer in one language names from an excerpt in the other: "Monday"
# from "le lundi à 14h00" (French gold fr17). Accents folded.
_CALENDAR = {
    "monday": "lundi", "tuesday": "mardi", "wednesday": "mercredi", "thursday": "jeudi", "friday": "vendredi",
    "saturday": "samedi", "sunday": "dimanche", "january": "janvier", "february": "fevrier", "march": "mars",
    "april": "avril", "may": "mai", "june": "juin", "july": "juillet", "august": "aout", "september": "septembre",
    "october": "octobre", "november": "novembre", "december": "decembre",
}
_CALENDAR_WORDS = {**_CALENDAR, **{french: english for english, french in _CALENDAR.items()}}


@dataclass(frozen=True)
class Unsupported:
    """A fact of the answer that the excerpts it rests on do not contain."""
    fact: str
    sentence: str
    cited: tuple[int, ...]  # the excerpt numbers the sentence cites; () when it cites none


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def _number_value(token: str) -> str:
    compact = re.sub(r"[ \u00a0\u202f]", "", token)
    if re.fullmatch(r"\d{1,3}(?:[,.]\d{3})+", compact):
        compact = re.sub(r"[,.]", "", compact)  # a thousands separator
    whole, _, fraction = compact.replace(",", ".").partition(".")
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


# French "un", "une" are articles far more often than numbers: an answer saying "pour un agent"
# states no 1 (French gold fr11 was retracted for it). An excerpt's "une" still stands for a 1.
_ARTICLES = frozenset({"un", "une"})


def numbers(text: str, articles: bool = True) -> set[str]:
    """The numbers a text states, normalised: digits as written, and number words (with the
    words that are also articles unless `articles` is false)."""
    found = {_number_value(m.group()) for m in _NUMBER.finditer(_URL.sub(" ", _EMAIL.sub(" ", text)))}
    return found | _spelled_numbers(text, articles)


def _spelled_numbers(text: str, articles: bool) -> set[str]:
    """The numbers a text writes as words ("fourteen", "vingt-deux"), normalised."""
    return {str(_NUMBER_WORDS[part]) for word in _WORD.findall(text.lower()) for part in re.split(r"[-’']", word)
            if part in _NUMBER_WORDS and (articles or part not in _ARTICLES)}


def _sentence_starts(text: str) -> set[int]:
    starts, position = {0}, 0
    for match in re.finditer(r"[.!?:;]\s+|\n+|\]\s*", text):
        position = match.end()
        starts.add(position)
    return starts


def proper_names(text: str, common_words: frozenset[str]) -> set[str]:
    """Capitalised words that do not open a sentence and are no common word: names of people,
    products, teams and places ("Bellhop", "Marie Dupont")."""
    starts = _sentence_starts(text)
    names = set()
    for match in _WORD.finditer(text):
        word = match.group()
        if match.start() in starts or not word[0].isupper() or len(word) < 3:
            continue
        if _fold(word) in common_words:
            continue
        names.add(word)
    return names


def facts(text: str, common_words: frozenset[str]) -> list[str]:
    """The checkable facts of a text, as they are written in it."""
    found = [m.group() for m in _PLACEHOLDER.finditer(text)]
    text = _MARKER.sub(" ", text)
    found += [m.group() for m in _EMAIL.finditer(text)] + [m.group().rstrip(".,;") for m in _URL.finditer(text)]
    rest = _URL.sub(" ", _EMAIL.sub(" ", text))
    found += sorted(numbers(rest, articles=False))
    found += [m.group() for m in _VERSION.finditer(rest)]
    found += sorted(proper_names(rest, common_words))
    return found


def _version_value(number: str) -> str:
    """3.8.0 and 3.8 are one version."""
    parts = number.split(".")
    while len(parts) > 2 and parts[-1] == "0":
        parts.pop()
    return ".".join(parts)


def _has_version(excerpt: str, fact: str) -> bool:
    """A version the answer names is one the excerpt names as a version, when it names any: dev
    d12 answered "version 3.7", a section number of an excerpt that named version 3.8.0."""
    number = _VERSION.fullmatch(fact).group(1)
    named = {_version_value(m.group(1)) for m in _VERSION.finditer(excerpt)}
    if named:
        return _version_value(number) in named
    return _number_value(number) in numbers(excerpt)


def _contains(excerpt: str, fact: str) -> bool:
    if "@" in fact or fact.lower().startswith(("http", "www.")):
        return fact.lower() in excerpt.lower()
    if re.fullmatch(r"[\d.]+", fact):
        return fact in numbers(excerpt)
    if _VERSION.fullmatch(fact):
        return _has_version(excerpt, fact)
    folded, text = _fold(fact), _fold(excerpt)
    if folded in text:
        return True
    other = _CALENDAR_WORDS.get(folded) or _CALENDAR_WORDS.get(folded.removesuffix("s"))  # "Mondays"
    return other is not None and re.search(rf"\b{other}s?\b", text) is not None


def _answer_sentences(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Sentences with the excerpt numbers each cites (a marker right after its full stop, as
    models often write "... 25 days. [1]", belongs to the sentence before it)."""
    pieces = split_sentences(text)
    result: list[tuple[str, tuple[int, ...]]] = []
    for piece in pieces:
        cited = tuple(int(n) for n in _MARKER.findall(piece))
        if not _MARKER.sub("", piece).strip(" .") and result:
            sentence, previous = result[-1]
            result[-1] = (sentence + " " + piece, previous + cited)
        else:
            result.append((piece, cited))
    return result


def given_facts(question: str, common_words: frozenset[str]) -> frozenset[str]:
    """The facts an answer may repeat from the question without an excerpt stating them: the
    counts it spells out and the names it uses ("the names of the four maintainer scripts", dev
    d09, answered "The four maintainer scripts are preinst, ..." from a sentence that lists them
    without counting them). Not a number in digits: "is the minimum 8 characters?" states a
    premise the answer must not take from the question."""
    names = {_fold(name) for name in proper_names(question, common_words)}
    return frozenset(_spelled_numbers(question, articles=False) | names)


def _given(fact: str, given: frozenset[str]) -> bool:
    return fact in given or _fold(fact) in given


def unsupported_facts(answer: str, excerpts: Sequence[str], common_words: frozenset[str],
                      given: frozenset[str] = frozenset()) -> list[Unsupported]:
    """The facts of `answer` that are not in the excerpts its sentences cite (numbered from 1),
    nor among the `given` facts of the question (given_facts)."""
    problems = []
    for sentence, cited in _answer_sentences(answer):
        valid = tuple(n for n in cited if 1 <= n <= len(excerpts))
        sources = [excerpts[n - 1] for n in valid] if valid else list(excerpts)
        text = " ".join(sources)
        for fact in facts(sentence, common_words):
            if not _given(fact, given) and not _contains(text, fact):
                problems.append(Unsupported(fact, _MARKER.sub("", sentence).strip(), valid))
    return problems


def recited(answer: str, excerpts: Sequence[str], common_words: frozenset[str],
            given: frozenset[str] = frozenset()) -> str | None:
    """The answer with each sentence whose cited excerpts lack its facts pointed at the excerpts
    that hold them (a small model often states the right fact and numbers the wrong excerpt);
    None when some fact stands in no excerpt at all."""
    rewritten = []
    for sentence, cited in _answer_sentences(answer):
        wanted = [f for f in facts(sentence, common_words) if not _given(f, given)]
        valid = [n for n in cited if 1 <= n <= len(excerpts)]
        own = " ".join(excerpts[n - 1] for n in valid) if valid else " ".join(excerpts)
        if all(_contains(own, f) for f in wanted):
            rewritten.append(sentence)
            continue
        chosen: list[int] = []
        for fact in wanted:  # each fact from the first excerpt that holds it, the cited ones first
            if any(_contains(excerpts[n - 1], fact) for n in chosen):
                continue
            order = valid + [n for n in range(1, len(excerpts) + 1) if n not in valid]
            holder = next((n for n in order if _contains(excerpts[n - 1], fact)), None)
            if holder is None:
                return None
            chosen.append(holder)
        bare = _MARKER.sub("", sentence).rstrip()
        body, end = re.match(r"(.*?)([.!?]*)$", bare, re.S).groups()
        rewritten.append(f"{body.rstrip()} {''.join(f'[{n}]' for n in sorted(chosen))}{end}")
    return " ".join(rewritten)


def supporting_sentences(excerpt: str, answer: str, question: str, common_words: frozenset[str],
                         limit: int = 2) -> list[str]:
    """The sentence(s) of an excerpt an answer relies on: those holding its facts, else the one
    sharing most of its words (and the question's)."""
    # An excerpt marks what it leaves out of its passage with " … ": a quote never spans that gap.
    sentences = [s for part in excerpt.split(" … ") for s in split_sentences(part) if s.strip(" …")]
    if not sentences:
        return []
    answer_facts = [f for f in facts(answer, common_words)]
    holding = [s for s in sentences if any(_contains(s, f) for f in answer_facts)]
    if holding:
        return holding[:limit]
    words = _asked_words(answer + " " + question, common_words)
    return [max(sentences, key=lambda s: _shared_words(words, s))]


# "How many...?" wants a number; "one" and "un(e)" are also pronouns and articles, so they do not count.
_ASKS_COUNT = re.compile(r"\b(how (many|much|long|often|old)|combien)\b", re.I)
_NOT_A_COUNT = {"1"}


def asks_for_count(question: str) -> bool:
    return bool(_ASKS_COUNT.search(question))


def states_count(text: str) -> bool:
    """Whether a text states a number other than "one" written as a word."""
    plain = _MARKER.sub(" ", text)
    return bool(_NUMBER.search(_URL.sub(" ", _EMAIL.sub(" ", plain)))) or bool(numbers(plain) - _NOT_A_COUNT)


# "What e-mail address / which website / quelle adresse…?" wants an e-mail address or a web
# address (French gold fr07 got a file name, fr21 "mail modernisation.gouv.fr").
_ASKS_ADDRESS = re.compile(
    r"\b(?:what|which)\b[^?.]{0,30}\b(?:e-?mail address(?:es)?|address(?:es)?|url|web ?sites?|links?)\b"
    r"|\bquel(?:le)?s?\b[^?.]{0,30}\b(?:adresses?|url|sites?|liens?|courriels?)\b"
    r"|\b(?:to|à) (?:what|which|quelle) (?:e-?mail )?adress?e?s?\b", re.I)
# A host name with no scheme: "webmail.data.gouv.fr", "etalab.studio" (a file name is not one).
_HOST = re.compile(r"\b(?:[a-z0-9-]+\.)+(?:fr|com|org|net|eu|io|gov|gouv|edu|info|studio|club)\b", re.I)


_EMAIL_ASKED = re.compile(
    r"\b(?:e-?mail address(?:es)?|adresses? (?:e-?mail|mail|électronique|electronique)|courriels?)\b", re.I)


def asks_for_address(question: str) -> bool:
    return bool(_ASKS_ADDRESS.search(question))


def asked_address(question: str) -> str:
    """Which address a question asks for: "email" ("what e-mail address…", "quelle adresse
    e-mail…"), "web" ("which website…", "l'adresse du webmail…"), or "" for none."""
    if not asks_for_address(question):
        return ""
    return "email" if _EMAIL_ASKED.search(question) else "web"


def states_email(text: str) -> bool:
    return bool(_EMAIL.search(text))


def states_web_address(text: str) -> bool:
    """Whether a text states an e-mail address, a URL or a host name."""
    plain = _MARKER.sub(" ", text)
    return bool(_EMAIL.search(plain) or _URL.search(plain) or _HOST.search(plain))


def states_address(text: str) -> bool:
    """An e-mail or web address, or a number: "20 avenue de Ségur" answers "quelle adresse ?" too."""
    return states_web_address(text) or bool(_NUMBER.search(_MARKER.sub(" ", text)))


def count_sentence(excerpts: Sequence[str], question: str, common_words: frozenset[str]) -> tuple[int, str] | None:
    """(excerpt number, sentence): of the sentences stating a number, the one sharing most of the
    question's words; None when no excerpt states one."""
    return stating_sentence(excerpts, question, common_words, states_count)


def address_sentence(excerpts: Sequence[str], question: str, common_words: frozenset[str],
                     kind: str = "web") -> tuple[int, str] | None:
    """The same for the sentences stating the kind of address asked for (asked_address: an
    e-mail address, or any e-mail or web address), sharing a word with the question: nearly
    every page has a link, and one on another subject answers nothing."""
    return stating_sentence(excerpts, question, common_words, states_email if kind == "email" else states_web_address,
                            min_shared=1)


def stating_sentence(excerpts: Sequence[str], question: str, common_words: frozenset[str],
                     states: Callable[[str], bool], min_shared: int = 0) -> tuple[int, str] | None:
    """(excerpt number, sentence): of the sentences `states` accepts, the one sharing most of the
    question's words, and at least `min_shared`; None when no excerpt has one."""
    words = _asked_words(question, common_words)
    best, best_shared = None, min_shared - 1
    for number, excerpt in enumerate(excerpts, 1):
        for sentence in _excerpt_sentences(excerpt):
            if states(sentence):
                shared = _shared_words(words, sentence)
                if shared > best_shared:
                    best, best_shared = (number, sentence.strip()), shared
    return best


def _asked_words(question: str, common_words: frozenset[str]) -> set[str]:
    return {_fold(w) for w in _WORD.findall(question) if len(w) > 3} - common_words


def _shared_words(words: set[str], sentence: str) -> int:
    return len(words & {_fold(w) for w in _WORD.findall(sentence)})


def _excerpt_sentences(excerpt: str) -> list[str]:
    return [s for part in excerpt.split(" … ") for s in split_sentences(part)]


def count_from_another_sentence(answer: str, excerpts: Sequence[str], question: str, best: str,
                                common_words: frozenset[str], given: frozenset[str] = frozenset()) -> bool:
    """Whether a "how many" answer took its number from a sentence about something else: the
    number is not in `best` (count_sentence: the sentence with a number sharing most of the
    question's words), and every sentence that holds it shares fewer of them. The seeds' "how
    many days do full-time employees get?" was answered "15 days", the part-timers' figure two
    lines below the full-timers' 25."""
    stated = numbers(_MARKER.sub(" ", answer), articles=False) - _NOT_A_COUNT - given
    if not stated or stated & numbers(best):
        return False
    words = _asked_words(question, common_words)
    holders = [s for e in excerpts for s in _excerpt_sentences(e) if stated & numbers(s)]
    return bool(holders) and max(_shared_words(words, s) for s in holders) < _shared_words(words, best)
