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

from assistant.context import ContextPassage, select_context
from assistant.llm import ChatModel
from assistant.models import judges_answerability
from assistant.retrieval import Retriever
from assistant.settings import Settings
from assistant.store import Passage
from assistant.text import content_terms, detect_language, missing_terms, term_coverage

REFUSALS = {
    "en": "The documents do not cover this question.",
    "fr": "Les documents ne couvrent pas cette question.",
}

LANGUAGE_NAMES = {"en": "English", "fr": "French"}

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
def has_evidence(question: str, passages: Sequence[Passage], settings: Settings) -> bool:
    """Whether retrieval found something the answer can stand on. A passage that is only loosely
    similar must also share the question's subject words; else the model would invent."""
    best = max((p.similarity for p in passages), default=-1.0)
    if best < settings.min_relevance:
        return False
    if best >= settings.confident_relevance:
        return True
    text = " ".join(f"{p.text} {p.heading}" for p in passages)
    return term_coverage(content_terms(question), text) >= settings.min_term_coverage


def _absence(rare: dict[str, int]) -> tuple[int, int]:
    """How foreign a phrasing is to the documents: words they never use, then words they hardly use."""
    return sum(1 for n in rare.values() if n == 0), len(rare)


# ---------------------------------------------------------------- prompts
SYSTEM_PROMPT = (
    "You answer staff questions about company documents using only the numbered excerpts given. "
    "Answer in one or two sentences with the exact facts the excerpts state (numbers, names, commands), "
    "and cite the excerpts you use by number, like [1]. "
    "The excerpts may be related to the question without answering it: then say that the documents do not "
    "cover the question, and do not use your own knowledge."
)

TRANSLATE_PROMPT = "You are a translator. Translate the text the user gives into {language}. Do not answer it. Reply with the translation only."

CONDENSE_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the conversation. "
    "Keep the language of the last question. Reply with the rewritten question only."
)


def passage_label(passage: Passage, headings: int | None = None) -> str:
    """File, page and heading path; `headings` keeps only the innermost ones."""
    parts = [passage.file_name]
    if passage.page is not None:
        parts.append(f"page {passage.page}")
    if passage.heading:
        path = passage.heading.split(" > ")
        parts.append(" > ".join(path[-headings:] if headings else path))
    return ", ".join(parts)


def question_with_excerpts(question: str, context: Sequence[ContextPassage]) -> str:
    """The part of the prompt every model call about one question shares, so that llama.cpp
    evaluates it once."""
    # The innermost heading names what an excerpt is about; the whole path would cost the wait
    # of ~50 more prompt tokens per question (bench/DECISIONS.md).
    excerpts = "\n".join(f"[{i}] ({passage_label(c.passage, headings=1)}) {c.excerpt}" for i, c in enumerate(context, 1))
    return f"Excerpts:\n{excerpts}\n\nQuestion: {question}"


def build_messages(question: str, context: Sequence[ContextPassage], language: str,
                   unknown_terms: Sequence[str] = ()) -> list[dict]:
    note = (f"\nNote: the documents never mention {', '.join(repr(t) for t in unknown_terms)}."
            if unknown_terms else "")
    user = f"{question_with_excerpts(question, context)}{note}\nAnswer in {LANGUAGE_NAMES[language]}."
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
    # The passages the answer cites, or those it was written from when it cites none; for a
    # refusal, the passages that were checked (none when nothing relevant was found).
    sources: list[Passage]
    retrieved: list[Passage]
    refused: bool
    language: str
    standalone_question: str = ""
    prompt_tokens: int = 0  # what the model had to read before its first word (0: it was not asked)

    def as_json(self) -> dict:
        return {"answer": self.text, "refused": self.refused, "sources": [p.as_json() for p in self.sources]}


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

    @property
    def checks_rare_terms(self) -> bool:
        mode = self.settings.check_rare_terms
        return mode == "on" or (mode == "auto" and judges_answerability(self.settings))

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

    def rare_terms(self, phrasings: Sequence[str], collections: Sequence[str]) -> dict[str, int]:
        """Subject words of the question that the documents never or hardly use (in at most
        `rare_term_share` of the chunks), with their chunk counts, for the phrasing the
        documents know best: the strongest sign that related passages do not answer."""
        keywords = self.retriever.store.keywords
        total = sum(keywords.count(c) for c in collections)
        limit = int(self.settings.rare_term_share * total)  # below 1/share chunks: only words never used
        best: dict[str, int] | None = None
        for phrasing in phrasings:
            terms = [t for t in content_terms(phrasing) if not t.isdigit()]
            counts = dict.fromkeys(terms, 0)
            for collection in collections:
                for term, n in keywords.chunk_counts(collection, terms, limit + 1).items():
                    counts[term] += n
            rare = {t: n for t, n in counts.items() if n <= limit}
            if best is None or _absence(rare) < _absence(best):
                best = rare
        return best or {}

    def excerpts_answer(self, question: str, context: Sequence[ContextPassage], missing: Sequence[str]) -> bool:
        """Whether the excerpts state the answer in other words than the missing subject words.
        Asked with the answer's own prompt up to the question, so llama.cpp reuses that prefix
        for the answer. A small model says "yes" to "do the excerpts answer?" almost always;
        told which words are absent it tells "said differently" from "not said"
        (bench/DECISIONS.md)."""
        words = ", ".join(repr(t) for t in missing)
        absent = (f"The word {words} is not in the excerpts." if len(missing) == 1
                  else f"The words {words} are not in the excerpts.")
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": f"{question_with_excerpts(question, context)}\n{absent} "
                                                "Do they state the answer in other words? Reply yes or no."}]
        reply = "".join(self.model.stream_chat(messages, max_tokens=3, temperature=0.0)).strip().lower()
        return not reply.startswith("no")

    def translations(self, question: str, language: str, collections: Sequence[str]) -> list[str]:
        """The question in the collections' other language, when they hold one: the embedder is
        English-only and BM25 matches words, so a French question finds French text and the
        other way round."""
        present = set().union(*(self.retriever.store.languages(c) for c in collections)) if collections else set()
        others = sorted(present - {language})
        translations = []
        for other in others:
            messages = [{"role": "system", "content": TRANSLATE_PROMPT.format(language=LANGUAGE_NAMES[other])},
                        {"role": "user", "content": f"Translate into {LANGUAGE_NAMES[other]}:\n\n{question}"}]
            text = "".join(self.model.stream_chat(messages, max_tokens=80, temperature=0.0)).strip()
            text = text.strip('"').splitlines()[0].strip() if text else ""
            # A small model sometimes answers instead of translating: an answer is rarely the length of the question.
            if text and text.lower() != question.lower() and 0.4 * len(question) < len(text) < 3 * len(question) + 40:
                translations.append(text)
        return translations

    def stream(self, question: str, collections: Sequence[str], history: Sequence[Turn] = ()) -> Iterator[Event]:
        language = detect_language(question)
        standalone = self.standalone_question(question, history)
        alternatives = self.translations(standalone, language, collections) if self.settings.translate_queries else []
        retrieved = self.retriever.search(standalone, collections, self.settings.top_k, alternatives)
        evidence = [p for p in retrieved if p.similarity >= self.settings.min_relevance]
        if not has_evidence(standalone, evidence, self.settings):
            evidence = []
        yield SourcesFound(evidence, standalone)
        if not evidence:
            text = REFUSALS[language]
            yield TextDelta(text)
            yield Finished(Answer(question, text, [], retrieved, True, language, standalone))
            return
        embedder = self.retriever.embedder
        # The prompt leads with what is closest in meaning to the question in any of its phrasings.
        by_similarity = sorted(evidence, key=lambda p: p.similarity, reverse=True)
        context = select_context(standalone, by_similarity, embedder.embed, embedder.count_tokens,
                                 self.settings.context_tokens, alternatives)
        rare = self.rare_terms([standalone, *alternatives], collections)
        unknown = [t for t, n in rare.items() if n == 0] if self.settings.flag_unknown_terms else []
        messages = build_messages(standalone, context, language, unknown)
        prompt_tokens = sum(self.model.count_tokens(m["content"]) for m in messages) + 4 * len(messages)
        shown_text = " ".join(f"{passage_label(c.passage)} {c.excerpt}" for c in context)
        missing = missing_terms(list(rare), shown_text)
        checked = [c.passage for c in context]
        if missing and self.checks_rare_terms and not self.excerpts_answer(standalone, context, missing):
            text = REFUSALS[language]
            yield TextDelta(text)
            # The passages checked stay listed: the reader can see what was looked at, and open it.
            yield Finished(Answer(question, text, checked, retrieved, True, language, standalone, prompt_tokens))
            return
        stream_filter = CitationStreamFilter(len(context))
        raw = []
        for piece in self.model.stream_chat(messages, self.settings.llm_max_tokens, self.settings.llm_temperature):
            raw.append(piece)
            shown = stream_filter.feed(piece)
            if shown:
                yield TextDelta(shown)
        tail = stream_filter.flush()
        if tail:
            yield TextDelta(tail)
        text, cited = clean_citations("".join(raw), len(context))
        refused = not cited and looks_like_refusal(text)
        if not text:
            text, refused = REFUSALS[language], True
        sources = [checked[n - 1] for n in cited] or checked
        yield Finished(Answer(question, text, sources, retrieved, refused, language, standalone, prompt_tokens))

    def ask(self, question: str, collections: Sequence[str], history: Sequence[Turn] = ()) -> Answer:
        for event in self.stream(question, collections, history):
            if isinstance(event, Finished):
                return event.answer
        raise AssertionError("stream ended without an answer")
