"""Questions -> grounded, cited, streamed answers (or an honest "the documents do not cover this").

Order of events for one question: the sources are known first (retrieval is fast), then the
model's text streams, then the final answer with its citations checked against the prompt.
Small models both invent and over-refuse, so the refusal is decided from retrieval evidence
before the model is asked, and citations are mapped from what was retrieved, never trusted raw.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from assistant.llm import ChatModel
from assistant.retrieval import Retriever
from assistant.settings import Settings
from assistant.store import Passage

REFUSALS = {
    "en": "The documents do not cover this question.",
    "fr": "Les documents ne couvrent pas cette question.",
}

LANGUAGE_NAMES = {"en": "English", "fr": "French"}

_FRENCH_WORDS = frozenset(
    "le la les des du de un une est sont que qui quel quelle quels quelles comment pourquoi combien "
    "pour avec dans sur au aux où je nous vous il elle ils elles ce cette ces mon ma mes notre nos "
    "votre vos faut peut doit dois être avoir fait ont et ou pas ne se sa son ses leur leurs quand "
    "quoi jours congés".split())


def detect_language(text: str) -> str:
    words = re.findall(r"[a-zàâäçéèêëîïôöùûüœ']+", text.lower())
    words = [w.split("'")[-1] for w in words]
    french = sum(1 for w in words if w in _FRENCH_WORDS)
    accents = len(re.findall(r"[àâçéèêëîïôùûœ]", text.lower()))
    if french >= 2 or (french >= 1 and accents >= 1) or accents >= 2:
        return "fr"
    return "en"


_MODEL_REFUSAL = re.compile(
    r"(do(es)? not|don't|doesn't) (cover|contain|mention|say|provide|include|specify|address)"
    r"|not (mentioned|covered|specified|provided|stated|found|available) in"
    r"|no (relevant )?information|cannot (answer|find|determine)|unable to (answer|find|determine)"
    r"|ne (couvrent|couvre|mentionne|mentionnent|contient|contiennent|précise|précisent|pr[ée]cisent|indique|indiquent) pas"
    r"|aucune information|pas d'information",
    re.I)


def looks_like_refusal(text: str) -> bool:
    return bool(_MODEL_REFUSAL.search(text))


# ---------------------------------------------------------------- evidence
_STOPWORDS = frozenset("""
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
""".split())


def _fold(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def content_terms(text: str) -> list[str]:
    """The words of a question that carry its subject: no stopwords, no short words (numbers kept)."""
    words = re.findall(r"[a-z0-9][a-z0-9_./-]*", _fold(text))
    terms = [w.strip("./-") for w in words if (len(w) >= 4 or w.isdigit() or w.isupper()) and w not in _STOPWORDS]
    return list(dict.fromkeys(t for t in terms if t))


def term_coverage(question: str, passages: Sequence[Passage]) -> float:
    """Share of the question's subject words found in the passages (5-letter prefixes, so that
    plurals and inflections match: 'compresser' finds 'compressed')."""
    terms = content_terms(question)
    if not terms:
        return 1.0
    prefixes = set()
    for passage in passages:
        for word in re.findall(r"[a-z0-9][a-z0-9_-]*", _fold(passage.text + " " + passage.heading)):
            prefixes.add(word[:5])
    return sum(1 for t in terms if t[:5] in prefixes) / len(terms)


def has_evidence(question: str, passages: Sequence[Passage], settings: Settings) -> bool:
    """Whether retrieval found something the answer can stand on. A passage that is only loosely
    similar must also share the question's subject words; else the model would invent."""
    if not passages or passages[0].score < settings.min_relevance:
        return False
    if passages[0].score >= settings.confident_relevance:
        return True
    return term_coverage(question, passages) >= settings.min_term_coverage


# ---------------------------------------------------------------- prompts
SYSTEM_PROMPT = (
    "You are the company's document assistant. Answer the question using only the numbered passages "
    "from company documents. Cite each passage you use with its number in square brackets, like [1]. "
    "Be brief and specific: give the facts, numbers and names the passages state. "
    "If the passages do not contain the answer, say that the documents do not cover the question."
)

CONDENSE_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the conversation. "
    "Keep the language of the last question. Reply with the rewritten question only."
)


def passage_label(passage: Passage) -> str:
    parts = [passage.file_name]
    if passage.page is not None:
        parts.append(f"page {passage.page}")
    if passage.heading:
        parts.append(passage.heading)
    return ", ".join(parts)


def build_messages(question: str, passages: Sequence[Passage], language: str) -> list[dict]:
    numbered = "\n\n".join(f"[{i}] ({passage_label(p)})\n{p.text}" for i, p in enumerate(passages, 1))
    user = (f"Passages:\n\n{numbered}\n\nQuestion: {question}\n\n"
            f"Answer in {LANGUAGE_NAMES[language]}, citing passages like [1].")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


# ---------------------------------------------------------------- citations
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


# ---------------------------------------------------------------- answering
@dataclass
class Answer:
    question: str
    text: str
    sources: list[Passage]
    retrieved: list[Passage]
    refused: bool
    language: str
    standalone_question: str = ""

    def as_json(self) -> dict:
        return {"answer": self.text, "sources": [p.as_json() for p in self.sources]}


@dataclass
class SourcesFound:
    """First event: what was retrieved (shown before the model starts writing)."""
    passages: list[Passage]
    standalone_question: str


@dataclass
class TextDelta:
    text: str


@dataclass
class Finished:
    answer: Answer


Event = SourcesFound | TextDelta | Finished


@dataclass
class Turn:
    question: str
    answer: str


@dataclass
class Answerer:
    settings: Settings
    retriever: Retriever
    # The model is loaded only when an answer needs it: a refusal from retrieval never waits for it.
    chat_model: Callable[[], ChatModel]
    history_turns: int = 2
    _model: ChatModel | None = field(default=None, init=False, repr=False)

    @property
    def model(self) -> ChatModel:
        if self._model is None:
            self._model = self.chat_model()
        return self._model

    def standalone_question(self, question: str, history: Sequence[Turn]) -> str:
        """A follow-up ("and for part-time staff?") rewritten with its conversation, for retrieval."""
        if not history:
            return question
        recent = history[-self.history_turns:]
        conversation = "\n".join(f"User: {t.question}\nAssistant: {t.answer[:300]}" for t in recent)
        messages = [{"role": "system", "content": CONDENSE_PROMPT},
                    {"role": "user", "content": f"Conversation:\n{conversation}\n\nLast question: {question}\n\n"
                                                "Rewritten question:"}]
        rewritten = "".join(self.model.stream_chat(messages, max_tokens=64, temperature=0.0)).strip()
        rewritten = rewritten.strip('"').splitlines()[0].strip() if rewritten else ""
        if not rewritten or len(rewritten) > 4 * len(question) + 200:
            return f"{recent[-1].question} {question}"
        return rewritten

    def stream(self, question: str, collections: Sequence[str], history: Sequence[Turn] = ()) -> Iterator[Event]:
        language = detect_language(question)
        standalone = self.standalone_question(question, history)
        retrieved = self.retriever.search(standalone, collections, self.settings.top_k)
        evidence = [p for p in retrieved if p.score >= self.settings.min_relevance]
        if not has_evidence(standalone, evidence, self.settings):
            evidence = []
        yield SourcesFound(evidence, standalone)
        if not evidence:
            text = REFUSALS[language]
            yield TextDelta(text)
            yield Finished(Answer(question, text, [], retrieved, True, language, standalone))
            return
        messages = build_messages(standalone, evidence, language)
        stream_filter = CitationStreamFilter(len(evidence))
        raw = []
        for piece in self.model.stream_chat(messages, self.settings.llm_max_tokens, self.settings.llm_temperature):
            raw.append(piece)
            shown = stream_filter.feed(piece)
            if shown:
                yield TextDelta(shown)
        tail = stream_filter.flush()
        if tail:
            yield TextDelta(tail)
        text, cited = clean_citations("".join(raw), len(evidence))
        refused = not cited and looks_like_refusal(text)
        if not text:
            text, refused = REFUSALS[language], True
        sources = [] if refused else ([evidence[n - 1] for n in cited] or evidence)
        yield Finished(Answer(question, text, sources, retrieved, refused, language, standalone))

    def ask(self, question: str, collections: Sequence[str], history: Sequence[Turn] = ()) -> Answer:
        for event in self.stream(question, collections, history):
            if isinstance(event, Finished):
                return event.answer
        raise AssertionError("stream ended without an answer")
