"""Questions -> grounded, cited, streamed answers (or an honest "the documents do not cover this").

Order of events for one question: the sources are known first (retrieval is fast), then the
model's text streams, then the final answer with its citations checked against the prompt.
Small models both invent and over-refuse, so the refusal is decided from retrieval evidence
before the model is asked, and citations are mapped from what was retrieved, never trusted raw.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Generator, Iterator, Protocol, Sequence

from assistant.answer import prompts
from assistant.answer.citations import CitationStreamFilter, clean_citations
from assistant.answer.events import Answer, Event, Finished, Retracted, SourcesFound, TextDelta, Turn
from assistant.answer.evidence import (CLOSEST, NEAR_MISS, NOT_NAMED, NOT_STATED, REFUSALS, KeywordStatistics, has_evidence,
                                       looks_like_refusal, rare_terms)
from assistant.answer.excerpts import Excerpt, select_context, select_context_per_part
from assistant.answer.parts import question_parts, refers_back
from assistant.answer.grounding import (address_sentence, asked_address, asks_for_count, count_from_another_sentence,
                                        count_sentence, given_facts,
                                        numbers, recited, states_address, states_count,
                                        supporting_sentences, unsupported_facts)
from assistant.language import Language, detect_language
from assistant.llm import ChatModel
from assistant.passage import Passage
from assistant.settings import Settings
from assistant.text import DIMENSION_FORMS, STOPWORDS, content_terms, missing_terms, question_words, term_coverage


def first_line(reply: str) -> str:
    """The first line of a rewrite or translation, without the quotes small models put around it."""
    line = next((line for line in reply.splitlines() if line.strip()), "")
    return line.strip().strip('"').strip()


_MARKER = re.compile(r"\[(\d+)\]")


def _renumbered(events: Generator[Event, None, tuple], renumber: dict[int, int],
                before: str) -> Generator[Event, None, tuple]:
    """A part's events with its excerpt numbers turned into the joined answer's; a retraction
    inside the part withdraws all the text shown so far, so the parts before are shown again."""
    def joined(text: str) -> str:
        return _MARKER.sub(lambda m: f"[{renumber.get(int(m.group(1)), int(m.group(1)))}]", text)

    while True:
        try:
            event = next(events)
        except StopIteration as done:
            text, *rest = done.value
            return (joined(text), *rest)
        if isinstance(event, TextDelta):
            yield TextDelta(joined(event.text))
        elif isinstance(event, Retracted):
            yield event
            if before:
                yield TextDelta(before)
        else:
            yield event


# Letters two words share at their start to be taken for one word in two languages.
COGNATE_PREFIX = 5


def _quoted(sentence: str, number: int, language: Language, heading: str = "") -> str:
    """The sentence in quotation marks with its citation, after the heading of its section when
    that heading states a number the sentence does not: dev d12's "Released June, 2008." is the
    release of the version its heading names ("Version 3.8.0")."""
    open_quote, close_quote = ("« ", " »") if language == "fr" else ("“", "”")
    quoted = f"{open_quote}{sentence}{close_quote} [{number}]"
    # A heading's own section number ("5. Classification") is no fact, nor a number word ("Qu'est-ce
    # qu'une réutilisation ?" is no 1): only the numbers it writes in digits.
    body = re.sub(r"[^\W\d_]+", " ", re.sub(r"^\d+(?:\.\d+)*\.?\s+", "", heading))
    if heading and numbers(body) - numbers(sentence):
        return f"{heading}: {quoted}"
    return quoted


def _as_shown(excerpts: Sequence[Excerpt]) -> list[str]:
    """Each excerpt with its label, as the facts check reads it: a label's heading may hold the fact."""
    return [f"{e.passage.label()} {e.text}" for e in excerpts]


def _writes_label(text: str, label: str) -> bool:
    """Whether the text holds an excerpt's label as the prompt writes it, or bare where it is
    more than a file name ("webmail-et-calendrier.pdf, page 4, Configurer les e-mails"): an
    answer may name a file, not its page and heading."""
    return f"({label})" in text or ("," in label and label in text)


def _heading(excerpt: Excerpt) -> str:
    return str(excerpt.passage.heading.innermost(1)) if excerpt.passage.heading else ""


def _last_resort(sentence: str, number: int, language: Language, phrasings: Sequence[str], min_coverage: float,
                 heading: str = "") -> str:
    """The facts check's fallback: the cited sentence quoted. One that holds too few of the
    question's subject words in any of its phrasings (French gold fr52: "how many days of
    leave?" got a sentence on editing the guide) is said to be the closest the documents come, so
    that a quote is never passed off as an answer it is not. The translation counts: an English
    question quoting a French sentence shares its words only with the question's French."""
    quoted = _quoted(sentence, number, language, heading)
    coverages = [term_coverage(terms, f"{heading} {sentence}") for terms in map(content_terms, phrasings) if terms]
    if not coverages or max(coverages) >= min_coverage:
        return quoted
    return CLOSEST[language].format(quote=quoted)


def _closest_excerpt(text: str, excerpts: Sequence[Excerpt]) -> int:
    """The number of the excerpt sharing most of the text's words (0: none shares any)."""
    terms = content_terms(text)
    best, best_coverage = 0, 0.0
    for number, excerpt in enumerate(excerpts, 1):
        coverage = term_coverage(terms, excerpt.text) if terms else 0.0
        if coverage > best_coverage:
            best, best_coverage = number, coverage
    return best


def _leaves_out(text: str, cited: Sequence[int], excerpts: Sequence[Excerpt], part: QuestionPart,
               parts: Sequence[QuestionPart]) -> bool:
    """Whether an answer to all the parts left this one out: it cites no excerpt that only this
    part's search found, and holds none of the words only this part asks with (dev d15's answer
    had neither "DEB_BUILD_OPTIONS", "tag" nor "tests"). "Use gzip -9 [1]" answers "with which
    command should manual pages be compressed?" by its citation."""
    own_chunks = {p.chunk_id for p in part.evidence} - {p.chunk_id for o in parts if o is not part for p in o.evidence}
    if any(excerpts[n - 1].passage.chunk_id in own_chunks for n in cited):
        return False
    others = {t for p in parts if p is not part for t in content_terms(p.text)}
    own = [t for t in content_terms(part.text) if t not in others and not t.isdigit()]
    return bool(own) and len(missing_terms(own, text)) == len(own)


def _unique(passages: Sequence[Passage]) -> list[Passage]:
    """Passages in order, each once (the same chunk found by two phrasings)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for passage in passages:
        if passage.key not in seen:
            seen.add(passage.key)
            kept.append(passage)
    return kept


@dataclass
class QuestionPart:
    """One part of a question that asks several things, with what its own search found."""
    text: str
    alternatives: list[str]  # its translations
    evidence: list[Passage]  # empty: the documents do not cover this part
    follows: str = ""  # the part before, when this one points back to it ("may that file be compressed?")


@dataclass
class NearMissLine:
    """The one line of a near miss, and the excerpt (1-based) and sentence it quotes ("" for none)."""
    text: str
    number: int
    sentence: str


class PassageSearch(Protocol):
    """Retrieval with the access boundary: only `collections` are searched."""

    def search(self, query: str, collections: Sequence[str], k: int, alternatives: Sequence[str] = ()) -> list[Passage]: ...

    def section_neighbours(self, passages: Sequence[Passage]) -> list[Passage]: ...


class TextEncoder(Protocol):
    """What excerpt selection needs of the embedder."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]: ...

    def count_tokens(self, text: str) -> int: ...


@dataclass
class Answerer:
    settings: Settings
    retriever: PassageSearch
    keywords: KeywordStatistics
    # The languages of a collection's prose: whether a question must also be searched in translation.
    collection_languages: Callable[[str], set[Language]]
    encoder: TextEncoder
    # The model is loaded only when an answer needs it: a refusal from retrieval never waits for it.
    chat_model: Callable[[], ChatModel]
    # Whether the model can tell "said in other words" from "not said" (assistant.models).
    checks_rare_terms: bool = True
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
        rewritten = first_line(self.model.reply(prompts.condense_messages(question, history), max_tokens=64))
        if not rewritten or len(rewritten) > 4 * len(question) + 200:
            return f"{history[-1].question} {question}"
        return rewritten

    def excerpts_answer(self, question: str, excerpts: Sequence[Excerpt], missing: Sequence[str]) -> bool:
        """Whether the excerpts state the answer in other words than the missing subject words.
        Asked with the answer's own prompt up to the question, so llama.cpp reuses that prefix."""
        reply = self.model.reply(prompts.other_words_messages(question, excerpts, missing), max_tokens=3)
        return not reply.lower().startswith("no")

    def translations(self, question: str, language: Language, collections: Sequence[str]) -> list[str]:
        """The question in the collections' other language, when they hold one: the embedder is
        English-only and BM25 matches words, so a French question finds French text and the
        other way round."""
        present = set().union(*(self.collection_languages(c) for c in collections)) if collections else set()
        translations = []
        for other in sorted(present - {language}):
            text = first_line(self.model.reply(prompts.translate_messages(question, other), max_tokens=80))
            # A small model sometimes answers instead of translating: an answer is rarely the length of the question.
            if text and text.lower() != question.lower() and 0.4 * len(question) < len(text) < 3 * len(question) + 40:
                translations.append(text)
        return translations

    def _rare_terms(self, question: str, alternatives: Sequence[str], language: Language,
                    passages: Sequence[Passage], collections: Sequence[str]) -> dict[str, int]:
        """The question's subject words the documents never or hardly use (evidence.rare_terms).
        When the passages are in another language than the question, a rare word of its
        translations counts only where it plainly stands for a word of the question: a name kept
        as written ("Wi-Fi", "Mattermost") or a cognate ("sabbatical" for "sabbatiques"). The
        others are words a small model left untranslated ("canteen", "meeting") or wordings of
        its own ("devrais-je", "gère"), not details the documents do not state: they refused
        French gold fr09, fr17 and fr35 with the answer in the excerpts."""
        s = self.settings
        across = bool(alternatives) and detect_language(" ".join(p.text for p in passages)) != language
        rare = rare_terms(self.keywords, alternatives if across else [question, *alternatives], collections,
                          s.rare_term_share)
        if across:
            names = set(content_terms(" ".join(w for w in question.split() if not w.islower())))
            words = set(content_terms(question)) - names
            rare = {t: n for t, n in rare.items()
                    if t in names or any(w != t and w[:COGNATE_PREFIX] == t[:COGNATE_PREFIX] for w in words)}
        return rare

    def _evidence(self, phrasings: Sequence[str], retrieved: Sequence[Passage]) -> list[Passage]:
        s = self.settings
        evidence = [p for p in retrieved if p.similarity >= s.min_relevance]
        if not has_evidence(phrasings, evidence, s.min_relevance, s.confident_relevance, s.min_term_coverage):
            return []
        return evidence

    def _with_neighbours(self, passages: Sequence[Passage]) -> list[Passage]:
        """The passages, then the chunks next to them in their sections: the sentences an excerpt
        may be chosen from. After them, so that the retrieved passages lead the prompt."""
        unique = _unique(passages)
        if not self.settings.section_neighbours:
            return unique
        return _unique([*unique, *self.retriever.section_neighbours(unique)])

    def _parts(self, question: str, alternatives: Sequence[str], collections: Sequence[str]) -> list[QuestionPart]:
        """The parts of a question that asks several things, each searched on its own (none when
        it asks one thing). A part that refers back ("may that file be compressed?") is searched
        with the part before it, which names what it refers to."""
        texts = question_parts(question)
        if len(texts) < 2:
            return []
        # A translation split the same way pairs up with the parts; else the parts go without.
        split_alternatives = [question_parts(a) for a in alternatives]
        parts = []
        for i, text in enumerate(texts):
            part_alternatives = [a[i] for a in split_alternatives if len(a) == len(texts)]
            query = f"{texts[i - 1]} {text}" if i and refers_back(text) else text
            found = self.retriever.search(query, collections, self.settings.top_k, part_alternatives)
            parts.append(QuestionPart(text, part_alternatives, self._evidence([query, *part_alternatives], found),
                                      texts[i - 1] if query != text else ""))
        return parts

    def stream(self, question: str, collections: Sequence[str], history: Sequence[Turn] = ()) -> Iterator[Event]:
        s = self.settings
        language = detect_language(question)
        standalone = self.standalone_question(question, history)
        alternatives = self.translations(standalone, language, collections) if s.translate_queries else []
        retrieved = self.retriever.search(standalone, collections, s.top_k, alternatives)
        evidence = self._evidence([standalone, *alternatives], retrieved)
        # Only what the user asked is split: a follow-up joined to the question before it is one question.
        asks_several = s.split_questions and (not history or len(question_parts(question)) > 1)
        parts = self._parts(standalone, alternatives, collections) if asks_several else []
        covered = [p for p in parts if p.evidence]
        if not covered:
            parts = []  # no part stands on its own: the whole question decides, as for one part
        uncovered = [p.text for p in parts if not p.evidence]
        # Whatever any phrasing found, the whole question's passages first.
        pool = _unique([*evidence, *(passage for part in covered for passage in part.evidence)])
        retrieved = _unique([*retrieved, *pool])
        yield SourcesFound(pool, standalone)

        def refusal(checked: list[Passage], prompt_tokens: int = 0) -> Iterator[Event]:
            text = REFUSALS[language]
            yield TextDelta(text)
            # The passages checked stay listed: the reader can see what was looked at, and open it.
            yield Finished(Answer(question, text, checked, retrieved, True, language, standalone, prompt_tokens))

        if not pool:
            yield from refusal([])
            return
        rare = self._rare_terms(standalone, alternatives, language, pool, collections)
        unknown = [t for t, n in rare.items() if n == 0] if s.flag_unknown_terms else []
        if len(covered) > 1 and s.answer_each_part:
            yield from self._answer_in_parts(question, standalone, covered, uncovered, retrieved, language, unknown)
            return
        if parts:
            # Each part reads its own passages first, then the whole question's, within its own budget.
            excerpts = select_context_per_part(
                [(part.text, part.alternatives,
                  self._with_neighbours([*sorted(part.evidence, key=lambda p: p.similarity, reverse=True), *evidence]))
                 for part in covered],
                self.encoder.embed, self.encoder.count_tokens, s.part_context_tokens, self.encoder.embed_queries)
        else:
            # The prompt leads with what is closest in meaning to the question in any of its phrasings.
            by_similarity = self._with_neighbours(sorted(evidence, key=lambda p: p.similarity, reverse=True))
            excerpts = select_context(standalone, by_similarity, self.encoder.embed, self.encoder.count_tokens,
                                      s.context_tokens, alternatives, self.encoder.embed_queries)
        messages = prompts.answer_messages(standalone, excerpts, language, unknown,
                                           [p.text for p in covered] if len(covered) > 1 else [], uncovered)
        prompt_tokens = prompts.prompt_tokens(messages, self.model.count_tokens)
        shown_text = " ".join(_as_shown(excerpts))
        # Only a dimension by its adjective: an excerpt saying "exceed" sets no maximum (dev d17).
        missing = missing_terms(list(rare), shown_text, DIMENSION_FORMS)
        checked = [e.passage for e in excerpts]
        # Not for a split question: its parts were judged one by one above, and a word one part misses
        # must not refuse the others (the prompt names the words no document uses).
        if missing and not parts and self.checks_rare_terms and not self.excerpts_answer(standalone, excerpts, missing):
            line = self._near_miss_line(standalone, excerpts, missing, language, alternatives)
            yield from self._near_miss(question, standalone, excerpts, line, retrieved, language, prompt_tokens)
            return
        text = yield from self._streamed_answer(messages, len(excerpts))
        text, cited = clean_citations(text, len(excerpts))
        refused = not cited and looks_like_refusal(text)
        if refused:
            # The passages passed the evidence checks, so they are about the subject: a refusal says
            # what they do state on it, as a near miss does (and the model's refusal is often wrong).
            line = self._near_miss_line(standalone, excerpts, [], language, alternatives)
            if line.sentence:
                yield Retracted("the documents' closest sentence, instead of the model's refusal")
                yield from self._near_miss(question, standalone, excerpts, line, retrieved, language, prompt_tokens)
                return
        grounding = ""
        if text and not refused and s.check_facts:
            text, cited, grounding = yield from self._grounded(text, cited, messages, excerpts, language, standalone,
                                                               alternatives)
        if text and not refused and len(covered) > 1 and s.ask_dropped_parts:
            added, added_cited = self._dropped_parts(text, cited, covered, excerpts, language, unknown)
            if added:
                yield TextDelta(f"\n{added}")
                text = f"{text}\n{added}"
                cited = [*cited, *(n for n in added_cited if n not in cited)]
        if not text:  # nothing said, or only markers that name no excerpt
            text, refused = REFUSALS[language], True
            yield TextDelta(text)
        elif uncovered and not refused and not looks_like_refusal(text):
            # Said by us, not left to the model: which part the documents do not answer.
            line = NOT_STATED[language].format(part=" ".join(uncovered))
            yield TextDelta(f"\n{line}")
            text = f"{text}\n{line}"
        shown = cited or list(range(1, len(excerpts) + 1))  # the cited excerpts, or all when none is
        sources = [checked[n - 1] for n in shown]
        quotes = [] if refused else [
            " ".join(supporting_sentences(excerpts[n - 1].text, text, standalone, STOPWORDS)) for n in shown]
        yield Finished(Answer(question, text, sources, retrieved, refused, language, standalone, prompt_tokens,
                              quotes, grounding))

    def _last_quote(self, excerpts: Sequence[Excerpt], number: int, answer: str, question: str,
                    phrasings: Sequence[str], language: Language) -> str:
        """Excerpt `number`'s sentence(s) the answer leans on (or, for "", the question), quoted
        as the facts check's last resort, under its heading when that names the number."""
        excerpt = excerpts[number - 1]
        sentence = " ".join(supporting_sentences(excerpt.text, answer, question, STOPWORDS))
        return _last_resort(sentence, number, language, phrasings, self.settings.min_term_coverage, _heading(excerpt))

    def _dropped_parts(self, text: str, cited: Sequence[int], covered: Sequence[QuestionPart],
                       excerpts: Sequence[Excerpt], language: Language, unknown: Sequence[str]) -> tuple[str, list[int]]:
        """The answers to the parts `text` leaves out, each asked alone over the same excerpts (so
        its markers keep their numbers, and llama.cpp reuses the cached prompt up to the question).
        With the parts listed in one prompt, the 1.5B still answers the first and drops the other
        (dev d15: three Developers, and no word of the tag). A part answer is checked like any
        answer: one whose facts its excerpts lack is the sentence it leans on, quoted; one the
        model will not give is said not stated."""
        shown = _as_shown(excerpts)
        lines: list[str] = []
        added: list[int] = []
        for part in covered:
            if not _leaves_out(text, cited, excerpts, part, covered):
                continue
            part_terms = set(content_terms(part.text))
            messages = prompts.answer_messages(part.text, excerpts, language, [t for t in unknown if t in part_terms],
                                               follows=part.follows)
            reply, reply_cited = clean_citations(self.model.reply(messages, self.settings.llm_max_tokens,
                                                                  self.settings.llm_temperature), len(excerpts))
            if not reply or (not reply_cited and looks_like_refusal(reply)):
                lines.append(NOT_STATED[language].format(part=part.text))
                continue
            if unsupported_facts(reply, shown, STOPWORDS, given_facts(part.text, STOPWORDS)):
                number = (reply_cited or [_closest_excerpt(reply, excerpts) or 1])[0]
                reply = self._last_quote(excerpts, number, reply, part.text, [part.text, *part.alternatives], language)
                reply_cited = [number]
            lines.append(reply)
            added += [n for n in reply_cited if n not in added]
        return "\n".join(lines), added

    def _answer_in_parts(self, question: str, standalone: str, covered: Sequence[QuestionPart],
                         uncovered: Sequence[str], retrieved: list[Passage], language: Language,
                         unknown: Sequence[str]) -> Iterator[Event]:
        """Each part asked of the model on its own, with its own excerpts, one after the other, and
        the answers joined. With every part in one prompt the 1.5B model answered the first and
        dropped or guessed the others (bench/DECISIONS.md 2026-12-02, "one call per part"); alone,
        a part is a one-fact question, which it answers best, and the first words come sooner
        (the first prompt holds one part's excerpts, not all of them)."""
        s = self.settings
        excerpts: list[Excerpt] = []  # every part's excerpts, numbered as the joined answer cites them
        number_of: dict[tuple[str, str], int] = {}
        said: list[str] = []
        prompt_tokens, groundings = 0, []
        for part in covered:
            passages = self._with_neighbours(sorted(part.evidence, key=lambda p: p.similarity, reverse=True))
            # A prompt of its own: the whole budget, as for a question that asks one thing (at 120 the
            # sentence stating dev d15's "N=3" did not fit).
            own = select_context(part.text, passages, self.encoder.embed, self.encoder.count_tokens,
                                 s.context_tokens, part.alternatives, self.encoder.embed_queries)
            renumber = {}
            for local, excerpt in enumerate(own, 1):
                key = excerpt.passage.key
                if key not in number_of:
                    number_of[key] = len(excerpts) + 1
                    excerpts.append(excerpt)
                elif excerpt.text not in excerpts[number_of[key] - 1].text:  # two parts read one passage
                    known = excerpts[number_of[key] - 1]
                    excerpts[number_of[key] - 1] = Excerpt(known.passage, f"{known.text} … {excerpt.text}")
                renumber[local] = number_of[key]
            part_terms = set(content_terms(part.text))
            messages = prompts.answer_messages(part.text, own, language, [t for t in unknown if t in part_terms],
                                               follows=part.follows)
            prompt_tokens += prompts.prompt_tokens(messages, self.model.count_tokens)
            before = "".join(f"{text}\n" for text in said)  # what a retraction inside this part must restore
            if said:
                yield TextDelta("\n")
            text, grounding = yield from _renumbered(self._part_answer(messages, own, language, part.text),
                                                     renumber, before)
            said.append(text)
            groundings.append(grounding)
        answered = [text for text, grounding in zip(said, groundings) if grounding != "refused"]
        if not answered:
            line = self._near_miss_line(standalone, excerpts, [], language,
                                        [a for part in covered for a in part.alternatives])
            yield Retracted("no part was answered")
            if line.sentence:
                yield from self._near_miss(question, standalone, excerpts, line, retrieved, language, prompt_tokens)
            else:
                yield TextDelta(REFUSALS[language])
                yield Finished(Answer(question, REFUSALS[language], [e.passage for e in excerpts], retrieved, True,
                                      language, standalone, prompt_tokens))
            return
        text = "\n".join(said)
        if uncovered:
            line = NOT_STATED[language].format(part=" ".join(uncovered))
            yield TextDelta(f"\n{line}")
            text = f"{text}\n{line}"
        _, cited = clean_citations(text, len(excerpts))
        shown = cited or list(range(1, len(excerpts) + 1))
        quotes = [" ".join(supporting_sentences(excerpts[n - 1].text, text, standalone, STOPWORDS)) for n in shown]
        checked = [g for g in groundings if g and g != "refused"]
        grounding = next((g for g in checked if g != "grounded"), checked[0] if checked else "")
        yield Finished(Answer(question, text, [excerpts[n - 1].passage for n in shown], retrieved, False, language,
                              standalone, prompt_tokens, quotes, grounding))

    def _part_answer(self, messages, excerpts: Sequence[Excerpt], language: Language,
                     part: str) -> Generator[Event, None, tuple[str, str]]:
        """One part's answer, its facts checked like a whole answer's; a part the model will not
        answer is said not stated, in our words. Returns (text, how the facts check went, or
        "refused")."""
        text = yield from self._streamed_answer(messages, len(excerpts))
        text, cited = clean_citations(text, len(excerpts))
        if not text or (not cited and looks_like_refusal(text)):
            if text:
                yield Retracted("the model did not answer this part")
            line = NOT_STATED[language].format(part=part)
            yield TextDelta(line)
            return line, "refused"
        if not _MARKER.sub("", text).strip(" .,;:`*\n"):  # only a marker: the model pointed, it did not say
            number = cited[0]
            sentence = " ".join(supporting_sentences(excerpts[number - 1].text, "", part, STOPWORDS))
            quoted = _quoted(sentence, number, language, _heading(excerpts[number - 1]))
            yield Retracted("a citation with no words")
            yield TextDelta(quoted)
            return quoted, "quoted"
        if not cited:  # the joined answer lists several parts' sources: each part points at its own
            number = _closest_excerpt(text, excerpts)
            if number:
                text = f"{text} [{number}]"
                yield TextDelta(f" [{number}]")
        grounding = ""
        if self.settings.check_facts:
            text, cited, grounding = yield from self._grounded(text, cited, messages, excerpts, language, part)
        return text, grounding

    @staticmethod
    def _near_miss(question: str, standalone: str, excerpts: Sequence[Excerpt], line: NearMissLine,
                   retrieved: list[Passage], language: Language, prompt_tokens: int) -> Iterator[Event]:
        """The passages are about the question's subject but do not state what it asks: say so, and
        quote the sentence closest to it, in one line, so the reader sees what they do say."""
        yield TextDelta(line.text)
        sources = [excerpts[line.number - 1].passage] if line.sentence else []
        yield Finished(Answer(question, line.text, sources, retrieved, True, language, standalone,
                              prompt_tokens, [line.sentence] if line.sentence else [], ""))

    @staticmethod
    def _near_miss_line(question: str, excerpts: Sequence[Excerpt], missing: Sequence[str],
                        language: Language, alternatives: Sequence[str] = ()) -> NearMissLine:
        """The line, and the excerpt and sentence it quotes; the plain refusal with no sentence
        when no excerpt shares a subject word with the question or its translation (an English
        question's words are not in French excerpts)."""
        best = NearMissLine(REFUSALS[language], 0, "")
        best_coverage = 0.0
        for phrasing in [question, *alternatives]:  # a translation only where the question's words find none
            terms = content_terms(phrasing)
            for number, excerpt in enumerate(excerpts, 1):
                for sentence in supporting_sentences(excerpt.text, "", phrasing, STOPWORDS, limit=1):
                    coverage = term_coverage(terms, sentence) if terms else 0.0
                    if coverage > best_coverage:
                        best, best_coverage = NearMissLine("", number, sentence), coverage
            if best.sentence:
                break
        if not best.sentence:
            return best
        # Only the question's own words are named: a missing word of its translation is not the reader's.
        own = set(content_terms(question))
        named = ", ".join(f"“{word}”" for word in question_words(question, [t for t in missing if t in own]))
        best.text = NEAR_MISS[language].format(missing=named or NOT_NAMED[language], sentence=best.sentence,
                                               number=best.number)
        return best

    def _streamed_answer(self, messages, n_excerpts: int) -> Generator[Event, None, str]:
        """Stream the model's answer with its markers checked as they come; return the raw text."""
        s = self.settings
        stream_filter = CitationStreamFilter(n_excerpts)
        raw = []
        for piece in self.model.stream(messages, s.llm_max_tokens, s.llm_temperature):
            raw.append(piece)
            shown = stream_filter.feed(piece)
            if shown:
                yield TextDelta(shown)
        tail = stream_filter.flush()
        if tail:
            yield TextDelta(tail)
        return "".join(raw)

    def _grounded(self, text: str, cited: list[int], messages, excerpts: Sequence[Excerpt], language: Language,
                  question: str, alternatives: Sequence[str] = ()) -> Generator[Event, None, tuple[str, list[int], str]]:
        """The answer if each of its facts is in the excerpt it cites; else the same answer citing
        the excerpts that do hold them; else one regeneration told what was wrong; else the cited
        sentence quoted verbatim, with its citation."""
        shown = _as_shown(excerpts)
        phrasings = [question, *alternatives]
        # An English question's words are not in French excerpts: its translation's are.
        asked = " ".join(phrasings)
        texts = [e.text for e in excerpts]
        kind = asked_address(question) if not states_address(text) else ""
        address = address_sentence(texts, asked, STOPWORDS, kind) if kind else None
        # The prompt's labels in the answer: the excerpts written back (the 0.5B does this, adding a
        # heading of its own) or a file name given as the answer (the 1.5B, French gold fr07).
        if any(_writes_label(text, e.passage.label(headings=1)) for e in excerpts):
            # No answer to check: the sentence closest to the question is quoted.
            number = address[0] if address else _closest_excerpt(asked, excerpts) or 1
            quoted = (self._quote(address, language, phrasings, excerpts) if address else
                      self._last_quote(excerpts, number, "", asked, phrasings, language))
            yield Retracted("the answer repeated the excerpts")
            yield TextDelta(quoted)
            return quoted, [number], "quoted"
        given = given_facts(question, STOPWORDS)
        problems = unsupported_facts(text, shown, STOPWORDS, given)
        if not problems:
            if asks_for_count(question):
                found = count_sentence(texts, asked, STOPWORDS)
                if found is not None and not states_count(text):
                    return (yield from self._counted(text, messages, excerpts, language, found, phrasings))
                if found is not None and count_from_another_sentence(text, texts, asked, found[1], STOPWORDS, given):
                    quoted = self._quote(found, language, phrasings, excerpts)
                    yield Retracted("the answer's number is from a sentence about something else")
                    yield TextDelta(quoted)
                    return quoted, [found[0]], "quoted"
            if address:
                # Quoted at once, not asked again: the address is a string to copy, which the
                # sentence holds exactly.
                quoted = self._quote(address, language, phrasings, excerpts)
                yield Retracted("the question asks for an address and the answer gives none")
                yield TextDelta(quoted)
                return quoted, [address[0]], "quoted"
            return text, cited, "grounded"
        facts = list(dict.fromkeys(p.fact for p in problems))
        fixed = recited(text, shown, STOPWORDS, given)
        if fixed is not None:
            fixed, fixed_cited = clean_citations(fixed, len(excerpts))
            yield Retracted(f"cited the wrong excerpt for {', '.join(facts)}")
            yield TextDelta(fixed)
            return fixed, fixed_cited, "recited"
        yield Retracted(f"not in the cited excerpts: {', '.join(facts)}")
        retry = yield from self._streamed_answer(prompts.correction_messages(messages, text, facts), len(excerpts))
        retry, retry_cited = clean_citations(retry, len(excerpts))
        if retry and not unsupported_facts(retry, shown, STOPWORDS, given) and not looks_like_refusal(retry):
            return retry, retry_cited, "regenerated"
        # Uncited, the answer rests on the excerpt holding most of its words (dev d12 cited none, and
        # excerpt 1 was about another version).
        number = (cited or retry_cited or [_closest_excerpt(text, excerpts) or 1])[0]
        quoted = self._last_quote(excerpts, number, text, question, [question, *alternatives], language)
        yield Retracted("the regenerated answer still states facts the excerpts do not")
        yield TextDelta(quoted)
        return quoted, [number], "quoted"

    def _quote(self, found: tuple[int, str], language: Language, phrasings: Sequence[str],
               excerpts: Sequence[Excerpt]) -> str:
        """An excerpt's sentence as the last resort quotes it (said to be only the closest when it
        holds too few of the question's words)."""
        number, sentence = found
        return _last_resort(sentence, number, language, phrasings, self.settings.min_term_coverage,
                            _heading(excerpts[number - 1]))

    def _counted(self, text: str, messages, excerpts: Sequence[Excerpt], language: Language,
                 found: tuple[int, str], phrasings: Sequence[str]) -> Generator[Event, None, tuple[str, list[int], str]]:
        """A "how many" answer that states no number (the 1.5B often writes the sentence next to
        it) while an excerpt states one: asked once more, then the excerpt's sentence quoted."""
        shown = _as_shown(excerpts)
        yield Retracted("the question asks for a number and the answer gives none")
        retry = yield from self._streamed_answer(prompts.count_messages(messages, text), len(excerpts))
        retry, retry_cited = clean_citations(retry, len(excerpts))
        given = given_facts(phrasings[0], STOPWORDS)
        if (retry and states_count(retry) and not unsupported_facts(retry, shown, STOPWORDS, given)
                and not looks_like_refusal(retry)):
            return retry, retry_cited, "regenerated"
        number, _ = found
        quoted = self._quote(found, language, phrasings, excerpts)
        yield Retracted("the regenerated answer still gives no number")
        yield TextDelta(quoted)
        return quoted, [number], "quoted"

    def ask(self, question: str, collections: Sequence[str], history: Sequence[Turn] = ()) -> Answer:
        for event in self.stream(question, collections, history):
            if isinstance(event, Finished):
                return event.answer
        raise AssertionError("stream ended without an answer")
