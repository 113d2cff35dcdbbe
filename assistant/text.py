"""Small language helpers shared by retrieval and answering: accent folding, stopwords (English
and French), subject words of a question. The language of a question or passage is in
assistant.language."""
from __future__ import annotations

import re
import unicodedata
from typing import Mapping, Sequence

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers him his how i if in into is it its itself just me more most my no nor not now of off on
once only or other our ours out over own same she should so some such than that the their theirs them then
there these they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours get gets got many much must need needs may might shall tell give
told know say said use used using make made does done company staff employee employees document documents
quel quelle quels quelles comment combien pourquoi quand faut peut doit dois sont avec dans pour par sur
une des les est que qui quoi ceux cette ces mon mes notre nos votre vos leur leurs elle elles ils nous vous
etre avoir fait faire plus moins tout tous toute toutes aussi alors donc mais entre chez sans sous vers
per via one two new pas aux ont son ses peu cet est-ce
""".split())


# A table row as text, as the readers write it: "header: value; header: value", so a chunk cut
# from the middle of a long table still says what each value is. Written by ingest's readers and
# read back by excerpt selection (a row has no full stop: only its line end parts it from the next).
TABLE_CELL = "{header}: {value}"
TABLE_CELL_SEPARATOR = "; "
TABLE_ROW = re.compile(r"[^\n:;]{1,80}: [^\n]*; ")


def table_row(pairs: Sequence[tuple[str, str]]) -> str:
    """One row as a line: each value after its column's header (none: the value alone), each
    cell once (merged cells repeat)."""
    cells = [TABLE_CELL.format(header=h, value=v) if h else v for h, v in pairs if v]
    return TABLE_CELL_SEPARATOR.join(dict.fromkeys(cells))


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def content_terms(text: str) -> list[str]:
    """The words of a question that carry its subject: no stopwords, no one- or two-letter words
    (numbers kept)."""
    words = re.findall(r"[a-z0-9][a-z0-9_./-]*", fold(text))
    terms = [w.strip("./-") for w in words if (len(w) >= 3 or w.isdigit()) and w not in STOPWORDS]
    return list(dict.fromkeys(t for t in terms if t))


# Words a question asks with that the documents state in another form: "the minimum length of a
# name" is answered by "at least two characters long" (dev d01). Dimension nouns and their
# adjectives, and "minimum"/"maximum" as the documents write them; folded, English and French.
DIMENSION_FORMS: dict[str, tuple[str, ...]] = {
    "length": ("long",), "longueur": ("long",), "width": ("wide",), "largeur": ("large",),
    "height": ("high", "tall"), "hauteur": ("haut",), "depth": ("deep",), "profondeur": ("profond",),
}
# Not "most" for "maximum": "most packages" is no limit, and it let dev d17's "maximum file size"
# (stated nowhere) be answered.
EQUIVALENT_FORMS: dict[str, tuple[str, ...]] = {
    **DIMENSION_FORMS, "minimum": ("least", "minimal"), "maximum": ("maximal", "exceed"),
}
# The endings a short word takes in the documents (plural, past): "name" finds "names".
_SHORT_WORD_ENDINGS = ("", "s", "es", "d", "ed", "x")


def with_equivalent_forms(query: str) -> str:
    """The query with the other forms of its words appended, for a keyword search: "minimum
    length of a package name" also finds the chunk saying "at least two characters long"."""
    extra = [f for t in content_terms(query) for f in EQUIVALENT_FORMS.get(t, ())]
    return f"{query} {' '.join(extra)}" if extra else query


def missing_terms(terms: list[str], text: str, forms: Mapping[str, tuple[str, ...]] = EQUIVALENT_FORMS) -> list[str]:
    """The terms the text does not contain, compared by their first five letters so that plurals
    and inflections match ('compresser' finds 'compressed'); a word shorter than that with its
    endings ('name' finds 'names'); a word also by its `forms` ('length' finds 'long')."""
    words = set(re.findall(r"[a-z0-9][a-z0-9_-]*", fold(text)))
    prefixes = {word[:5] for word in words}

    def found(term: str) -> bool:
        if len(term) < 5:
            return any(term + ending in words for ending in _SHORT_WORD_ENDINGS)
        return term[:5] in prefixes

    return [t for t in terms if not found(t) and not any(found(f) for f in forms.get(t, ()))]


def term_coverage(terms: list[str], text: str) -> float:
    """Share of the terms found in the text (see missing_terms). No terms: fully covered."""
    if not terms:
        return 1.0
    return (len(terms) - len(missing_terms(terms, text))) / len(terms)


def question_words(text: str, terms: Sequence[str]) -> list[str]:
    """The words of the text, as written (accents, case), that the folded terms came from."""
    written = {}
    for word in re.findall(r"[\w][\w./-]*", text):
        written.setdefault(fold(word).strip("./-"), word.strip("./-"))
    return [written.get(term, term) for term in terms]
