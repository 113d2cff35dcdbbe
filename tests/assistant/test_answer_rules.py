"""The rules of answering, on a scripted model: when the assistant refuses before asking the model,
what it streams and in which order, which citations survive, when it rewrites, translates or
double-checks a question, and with which limits each model call is made.

Every model call is recognised by the prompt it carries (the condense, translation, rare-word
check and answer prompts differ), so a test states which calls a question costs. Thresholds
come from the real settings; similarities are placed relative to them. These run in
milliseconds: the real model, embedder and store are tested end to end in test_answer.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import pytest

from assistant.answer import REFUSALS, Answer, Answerer, Finished, SourcesFound, TextDelta, Turn
from assistant.passage import Passage
from assistant.settings import Settings, load_settings
from tests.fakes import BagOfWordsEncoder, CountedKeywords, ScriptedLLM, StaticRetriever, make_passage, scripted_model

# ---------------------------------------------------------------- the rig

EN_QUESTION = "How many days of annual leave do full-time employees get?"
FR_QUESTION = "Combien de jours de congés payés ont les salariés à temps plein ?"
FR_TRANSLATION = "How many days of paid leave do full-time employees get?"
LEAVE_TEXT = "Full-time employees get 25 days of paid annual leave."
PART_TIME_TEXT = "Part-time employees get their annual leave pro rata: 15 days for three days a week."
CANTEEN_TEXT = "The canteen opens at noon and serves lunch until two."
EN_ANSWER = "Full-time employees get 25 days of paid annual leave [1]."


def kind(messages) -> str:
    """Which of the assistant's model calls these messages are."""
    system, last = messages[0].content or "", messages[-1].content or ""
    if last.endswith("Rewritten question:"):
        return "condense"
    if system.startswith("You are a translator"):
        return "translate"
    if last.endswith("Reply yes or no."):
        return "check"
    if last.startswith("Your answer states"):
        return "correction"  # the answer again, after the facts check found a fact not in its excerpt
    if last.startswith("The question asks for a number"):
        return "count"  # the answer again, after a "how many" answer gave no number
    assert "Answer in " in last, f"not an answer prompt: {last!r}"
    return "answer"


Reply = str | Callable[[list], str]


@dataclass
class Rig:
    answerer: Answerer
    llm: ScriptedLLM
    retriever: StaticRetriever
    keywords: CountedKeywords
    languages_asked: list[str]
    models_built: list[int]

    def events(self, question: str, collections: Sequence[str] = ("c",), history: Sequence[Turn] = ()) -> list:
        return list(self.answerer.stream(question, list(collections), list(history)))

    def ask(self, question: str, collections: Sequence[str] = ("c",), history: Sequence[Turn] = ()) -> Answer:
        events = self.events(question, collections, history)
        assert isinstance(events[-1], Finished)
        return events[-1].answer

    @property
    def kinds(self) -> list[str]:
        return [kind(messages) for messages, _ in self.llm.calls]

    def call(self, which: str) -> tuple[list, dict]:
        matching = [(m, kw) for m, kw in self.llm.calls if kind(m) == which]
        assert len(matching) == 1, f"expected one {which} call, got {self.kinds}"
        return matching[0]

    def prompt(self, which: str = "answer") -> str:
        return self.call(which)[0][-1].content

    @property
    def searched(self) -> tuple[str, list[str], list[str]]:
        assert len(self.retriever.queries) == 1, self.retriever.queries
        return self.retriever.queries[0]


def rig(settings: Settings, passages: Sequence[Passage], *, answer: Reply = EN_ANSWER, check: Reply = "yes",
        condense: Reply | None = None, translate: Reply | None = None,
        languages: dict[str, set[str]] | None = None, keywords: CountedKeywords | None = None,
        checks_rare_terms: bool = True, neighbours: dict[str, Sequence[Passage]] | None = None) -> Rig:
    """An Answerer on fakes. A call of a kind the test gave no reply for fails the test."""
    replies = {"answer": answer, "correction": answer, "count": answer, "check": check, "condense": condense, "translate": translate}

    def respond(messages) -> str:
        reply = replies[kind(messages)]
        assert reply is not None, f"unexpected {kind(messages)} call"
        return reply(messages) if callable(reply) else reply

    model = scripted_model(respond)
    models_built: list[int] = []
    languages_asked: list[str] = []

    def chat_model():
        models_built.append(1)
        return model

    def collection_languages(collection: str) -> set[str]:
        languages_asked.append(collection)
        return (languages or {}).get(collection, {"en"})

    # By default every word of a question is common in the documents: nothing is rare.
    keywords = keywords or CountedKeywords(chunks=100, default=10)
    retriever = StaticRetriever(passages, neighbours=neighbours)
    answerer = Answerer(settings, retriever, keywords, collection_languages, BagOfWordsEncoder(), chat_model,
                        checks_rare_terms=checks_rare_terms)
    return Rig(answerer, model.llm, retriever, keywords, languages_asked, models_built)


@pytest.fixture
def settings(tmp_path) -> Settings:
    # The facts check has its own tests (test_grounding.py); these scripted answers are not about it.
    return load_settings(home=tmp_path, check_facts=False)


def confident(s: Settings) -> float:
    return s.confident_relevance + 0.05


def loose(s: Settings) -> float:
    """Related, but not enough to stand on without the question's subject words."""
    assert s.min_relevance < s.confident_relevance
    return (s.min_relevance + s.confident_relevance) / 2


def irrelevant(s: Settings) -> float:
    return s.min_relevance - 0.05


def passage(text: str, similarity: float, source: str = "/d/leave-policy.md", collection: str = "c") -> Passage:
    return make_passage(text, source, similarity=similarity, collection=collection)


def ids(passages: Sequence[Passage]) -> list[str]:
    return [p.chunk_id for p in passages]


def streamed(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# ---------------------------------------------------------------- refusal from retrieval evidence

@pytest.mark.parametrize("question, language, collection_language", [
    (EN_QUESTION, "en", "en"), (FR_QUESTION, "fr", "fr")])
def test_with_no_passage_above_min_relevance_the_refusal_comes_in_the_question_language_without_the_model(
        settings, question, language, collection_language):
    # The passages even share the question's words: similarity alone decides that they are not evidence.
    related = [passage(LEAVE_TEXT, irrelevant(settings)), passage(FR_QUESTION, irrelevant(settings), "/d/fr.md")]
    r = rig(settings, related, answer=lambda m: pytest.fail("the model must not be asked"),
            languages={"c": {collection_language}})
    events = r.events(question)
    answer = events[-1].answer
    assert [type(e) for e in events] == [SourcesFound, TextDelta, Finished]
    assert events[0].passages == []
    assert answer.text == REFUSALS[language] and streamed(events) == REFUSALS[language]
    assert answer.refused and answer.language == language
    assert answer.sources == []
    assert ids(answer.retrieved) == ids(related)
    assert answer.prompt_tokens == 0
    assert r.llm.calls == [] and r.models_built == [], "a refusal from retrieval never loads nor asks the model"


def test_loosely_similar_passages_without_the_subject_words_are_refused(settings):
    r = rig(settings, [passage(CANTEEN_TEXT, loose(settings))])
    answer = r.ask(EN_QUESTION)
    assert answer.refused and answer.text == REFUSALS["en"]
    assert answer.sources == []
    assert r.llm.calls == [] and r.models_built == []


def test_loosely_similar_passages_with_the_subject_words_are_answered(settings):
    leave = passage(LEAVE_TEXT, loose(settings))
    r = rig(settings, [leave])
    answer = r.ask(EN_QUESTION)
    assert not answer.refused
    assert answer.text == EN_ANSWER
    assert ids(answer.sources) == ids([leave])
    assert r.kinds == ["answer"]


def test_a_confidently_similar_passage_is_evidence_even_without_the_subject_words(settings):
    canteen = passage(CANTEEN_TEXT, settings.confident_relevance)
    r = rig(settings, [canteen])
    answer = r.ask(EN_QUESTION)
    assert not answer.refused and answer.text == EN_ANSWER
    assert r.kinds == ["answer"]


def test_a_passage_exactly_at_min_relevance_with_the_subject_words_is_evidence(settings):
    r = rig(settings, [passage(LEAVE_TEXT, settings.min_relevance)])
    assert not r.ask(EN_QUESTION).refused


def test_the_sources_shown_first_are_the_passages_above_min_relevance_only(settings):
    leave = passage(LEAVE_TEXT, confident(settings))
    canteen = passage(CANTEEN_TEXT, irrelevant(settings), "/d/canteen.md")
    r = rig(settings, [leave, canteen])
    events = r.events(EN_QUESTION)
    assert ids(events[0].passages) == ids([leave])
    assert ids(events[-1].answer.retrieved) == ids([leave, canteen])
    assert "canteen" not in r.prompt(), "a passage below min_relevance is not shown to the model"


# ---------------------------------------------------------------- the stream

def test_events_come_sources_first_then_text_pieces_then_the_answer_and_the_stream_is_the_text(settings):
    leave = passage(LEAVE_TEXT, confident(settings))
    r = rig(settings, [leave])
    events = r.events(EN_QUESTION)
    assert isinstance(events[0], SourcesFound)
    assert ids(events[0].passages) == ids([leave])
    assert events[0].standalone_question == EN_QUESTION
    assert isinstance(events[-1], Finished)
    middle = events[1:-1]
    assert len(middle) > 1 and all(isinstance(e, TextDelta) for e in middle), "the answer is streamed in pieces"
    assert streamed(events) == events[-1].answer.text == EN_ANSWER
    assert sum(isinstance(e, (SourcesFound, Finished)) for e in events) == 2


# ---------------------------------------------------------------- citations

def test_markers_naming_no_excerpt_are_dropped_and_the_sources_are_the_cited_passages_in_citation_order(settings):
    leave = passage(LEAVE_TEXT, confident(settings) + 0.1, "/d/leave-policy.md")
    part_time = passage(PART_TIME_TEXT, confident(settings), "/d/part-time.md")
    r = rig(settings, [leave, part_time],
            answer="Part-time staff get 15 days [2]. Full-time staff get 25 [7], see the policy [1, 9].")
    events = r.events(EN_QUESTION)
    answer = events[-1].answer
    assert "[1] (leave-policy.md)" in r.prompt() and "[2] (part-time.md)" in r.prompt()
    assert answer.text == "Part-time staff get 15 days [2]. Full-time staff get 25, see the policy [1]."
    assert ids(answer.sources) == ids([part_time, leave])
    assert "[7]" not in streamed(events) and "9" not in streamed(events)


def test_an_answer_without_markers_has_all_the_excerpts_shown_as_sources(settings):
    leave = passage(LEAVE_TEXT, confident(settings) + 0.1, "/d/leave-policy.md")
    part_time = passage(PART_TIME_TEXT, confident(settings), "/d/part-time.md")
    unrelated = passage(CANTEEN_TEXT, irrelevant(settings), "/d/canteen.md")
    r = rig(settings, [leave, part_time, unrelated], answer="Full-time employees get 25 days.")
    answer = r.ask(EN_QUESTION)
    assert answer.text == "Full-time employees get 25 days."
    assert ids(answer.sources) == ids([leave, part_time])


def test_excerpt_one_is_the_most_similar_passage_whatever_the_retrieval_order(settings):
    part_time = passage(PART_TIME_TEXT, loose(settings), "/d/part-time.md")
    leave = passage(LEAVE_TEXT, confident(settings), "/d/leave-policy.md")
    r = rig(settings, [part_time, leave], answer="Full-time employees get 25 days [1].")
    answer = r.ask(EN_QUESTION)
    assert r.prompt().index("[1] (leave-policy.md)") < r.prompt().index("[2] (part-time.md)")
    assert ids(answer.sources) == ids([leave])


@pytest.mark.parametrize("with_neighbours", [True, False])
def test_the_chunk_beside_a_retrieved_one_in_its_section_may_give_the_excerpt(tmp_path, with_neighbours):
    """dev d01: the section was cut in two and its rule sat in the half that was not retrieved."""
    s = load_settings(home=tmp_path, check_facts=False, section_neighbours=with_neighbours)
    found = passage("Annual leave is booked in the HR portal by full-time employees.", confident(s))
    beside = passage(LEAVE_TEXT, 0.0)
    r = rig(s, [found], neighbours={found.chunk_id: [beside]})
    r.ask(EN_QUESTION)
    prompt = r.prompt()
    assert ("25 days of paid annual leave" in prompt) is with_neighbours
    # The retrieved passage leads; its neighbour comes after it.
    assert "[1] (leave-policy.md) Annual leave is booked" in prompt


# ---------------------------------------------------------------- the model's own refusal

def test_the_models_own_refusal_is_retracted_for_the_closest_sentence_of_the_excerpts(settings):
    leave, part_time = passage(LEAVE_TEXT, confident(settings)), passage(PART_TIME_TEXT, confident(settings), "/d/pt.md")
    r = rig(settings, [leave, part_time], answer="The excerpts do not mention the dress code for forklift drivers.")
    events = r.events("How many days of annual leave do part-time employees get a week?")
    answer = events[-1].answer
    kinds = [type(e).__name__ for e in events]
    assert kinds[-3:] == ["Retracted", "TextDelta", "Finished"], kinds
    assert answer.refused
    # The sentence sharing most subject words with the question, from whichever excerpt holds it.
    assert answer.text == events[-2].text == (
        f"The documents do not mention this; on the subject they say: “{PART_TIME_TEXT}” [2]")
    assert ids(answer.sources) == ids([part_time]) and answer.quotes == [PART_TIME_TEXT]


def test_a_model_refusal_with_no_excerpt_sharing_a_subject_word_stays_the_plain_refusal(settings):
    r = rig(settings, [passage(CANTEEN_TEXT, confident(settings))], answer="The excerpts do not cover this.")
    answer = r.ask(EN_QUESTION)
    assert answer.refused and answer.text == "The excerpts do not cover this."


def test_a_partial_refusal_that_cites_an_excerpt_is_an_answer(settings):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))],
            answer="The excerpts do not mention part-time staff; full-time employees get 25 days [1].")
    assert not r.ask(EN_QUESTION).refused


@pytest.mark.parametrize("output", ["", "   ", "[7]"], ids=["empty", "blank", "only-invalid-markers"])
@pytest.mark.parametrize("question, language, collection_language", [
    (EN_QUESTION, "en", "en"), (FR_QUESTION, "fr", "fr")])
def test_an_empty_model_output_becomes_the_refusal_text(settings, output, question, language, collection_language):
    leave = passage(LEAVE_TEXT, confident(settings))
    r = rig(settings, [leave], answer=output, languages={"c": {collection_language}})
    answer = r.ask(question)
    assert answer.text == REFUSALS[language]
    assert answer.refused
    assert ids(answer.sources) == ids([leave]), "the passages the model was shown stay listed"


@pytest.mark.parametrize("output", ["", "[7]"], ids=["empty", "only-invalid-markers"])
def test_an_empty_model_output_streams_the_refusal_text_it_is_replaced_by(settings, output):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], answer=output)
    events = r.events(EN_QUESTION)
    assert streamed(events) == events[-1].answer.text == REFUSALS["en"]


# ---------------------------------------------------------------- rare-word check

SABBATICAL = "How many days of sabbatical leave do employees get?"


def never_sabbatical() -> CountedKeywords:
    """'sabbatical' is in no chunk; every other word is common."""
    return CountedKeywords(chunks=100, counts={"sabbatical": 0}, default=10)


@pytest.mark.parametrize("no", ["no", "No."])
def test_a_subject_word_the_documents_never_use_is_checked_and_a_no_refuses_listing_the_checked_passages(
        settings, no):
    leave = passage(LEAVE_TEXT, confident(settings))
    r = rig(settings, [leave], check=no, answer=lambda m: pytest.fail("a 'no' must not be followed by an answer"),
            keywords=never_sabbatical())
    events = r.events(SABBATICAL)
    answer = events[-1].answer
    assert r.kinds == ["check"]
    assert "'sabbatical'" in r.prompt("check")
    assert SABBATICAL in r.prompt("check") and LEAVE_TEXT in r.prompt("check"), "the check reads the answer's excerpts"
    # A near miss, in one line: what the documents do not mention, and what they say on the subject.
    assert answer.refused and streamed(events) == answer.text == (
        "The documents do not mention “sabbatical”; on the subject they say: "
        "“Full-time employees get 25 days of paid annual leave.” [1]")
    assert answer.quotes == [LEAVE_TEXT]
    assert ids(answer.sources) == ids([leave]), "the passage checked is listed with the refusal"
    assert ids(events[0].passages) == ids([leave])
    assert answer.prompt_tokens > 0


FR_CANTEEN = "La cantine est exploitée par Elior. Elle se trouve au rez-de-chaussée du bâtiment, près de la cafétéria."


def test_words_a_translation_left_in_english_do_not_refuse_an_english_question_on_french_passages(settings):
    # The 1.5B model's French kept "canteen" (French gold fr09); its own wording ("gère") is rare too.
    keywords = CountedKeywords(chunks=100, counts={"canteen": 0, "gere": 0, "company": 0, "runs": 0}, default=10)
    r = rig(settings, [passage(FR_CANTEEN, confident(settings), source="/d/ou-dejeuner.docx")],
            translate="Quelle entreprise gère le canteen du bâtiment ?", answer="Elior runs the canteen [1].",
            languages={"c": {"fr"}}, keywords=keywords, check=lambda m: pytest.fail("no rare-word check"))
    answer = r.ask("Which company runs the canteen in the building?")
    assert r.kinds == ["translate", "answer"]
    assert "never mention" not in r.prompt()
    assert answer.text == "Elior runs the canteen [1]." and not answer.refused


def test_a_name_the_translation_kept_is_still_checked_and_refused_with_a_sentence_in_the_documents_language(
        settings):
    keywords = CountedKeywords(chunks=100, counts={"wi-fi": 0, "password": 0}, default=10)
    r = rig(settings, [passage(FR_CANTEEN, confident(settings), source="/d/ou-dejeuner.docx")],
            translate="Quel est le mot de passe Wi-Fi du bâtiment ?", languages={"c": {"fr"}}, keywords=keywords,
            check="no", answer=lambda m: pytest.fail("a 'no' must not be followed by an answer"))
    answer = r.ask("What is the Wi-Fi password in the building?")
    assert r.kinds == ["translate", "check"]
    assert "'wi-fi'" in r.prompt("check") and "'password'" not in r.prompt("check")
    # The English question shares no word with the French passage; its translation does ("bâtiment").
    assert answer.refused and answer.text == (
        "The documents do not mention “Wi-Fi”; on the subject they say: "
        "“Elle se trouve au rez-de-chaussée du bâtiment, près de la cafétéria.” [1]")


def test_the_same_words_refuse_a_question_asked_in_the_documents_language(settings):
    # Not across languages: "canteen" missing from English documents is a detail they do not state.
    keywords = CountedKeywords(chunks=100, counts={"canteen": 0}, default=10)
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], languages={"c": {"en"}}, keywords=keywords,
            check="no", answer=lambda m: pytest.fail("a 'no' must not be followed by an answer"))
    assert r.ask("Which company runs the canteen for employees?").refused
    assert r.kinds == ["check"]


def test_a_yes_to_the_rare_word_check_lets_the_answer_be_generated(settings):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], check="yes",
            answer="Sabbatical leave is not described; annual leave is 25 days [1].", keywords=never_sabbatical())
    answer = r.ask(SABBATICAL)
    assert r.kinds == ["check", "answer"]
    assert answer.text == "Sabbatical leave is not described; annual leave is 25 days [1]."
    assert not answer.refused


def test_without_checks_rare_terms_no_check_call_is_made(settings):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], check=lambda m: pytest.fail("no check"),
            keywords=never_sabbatical(), checks_rare_terms=False)
    answer = r.ask(SABBATICAL)
    assert r.kinds == ["answer"]
    assert answer.text == EN_ANSWER and not answer.refused


def test_a_rare_word_the_excerpts_show_needs_no_check(settings):
    # 'annual' is in a single chunk of a large collection: rare, but the excerpt shows it.
    keywords = CountedKeywords(chunks=int(10 / settings.rare_term_share), counts={"annual": 1}, default=1000)
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], check=lambda m: pytest.fail("no check"),
            keywords=keywords)
    r.ask(EN_QUESTION)
    assert r.kinds == ["answer"]


def test_a_rare_but_used_word_absent_from_the_excerpts_is_checked_too(settings):
    chunks = int(10 / settings.rare_term_share)
    assert int(settings.rare_term_share * chunks) >= 1, "a word in one chunk must count as rare here"
    keywords = CountedKeywords(chunks=chunks, counts={"sabbatical": 1}, default=1000)
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], check="no", keywords=keywords)
    assert r.ask(SABBATICAL).refused
    assert r.kinds == ["check"]


# ---------------------------------------------------------------- the "never mention" note

def test_the_answer_prompt_names_the_words_no_document_contains_when_flag_unknown_terms_is_on(tmp_path):
    s = load_settings(home=tmp_path, check_facts=False, flag_unknown_terms=True)
    r = rig(s, [passage(LEAVE_TEXT, confident(s))], keywords=never_sabbatical(), checks_rare_terms=False)
    r.ask(SABBATICAL)
    assert "Note: the documents never mention 'sabbatical'." in r.prompt()


def test_the_answer_prompt_has_no_note_when_flag_unknown_terms_is_off(tmp_path):
    s = load_settings(home=tmp_path, check_facts=False, flag_unknown_terms=False)
    r = rig(s, [passage(LEAVE_TEXT, confident(s))], keywords=never_sabbatical(), checks_rare_terms=False)
    r.ask(SABBATICAL)
    assert "Note:" not in r.prompt() and "never mention" not in r.prompt()


def test_the_note_names_only_words_in_no_chunk_not_words_that_are_merely_rare(settings):
    chunks = int(10 / settings.rare_term_share)
    keywords = CountedKeywords(chunks=chunks, counts={"sabbatical": 1}, default=1000)
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], keywords=keywords, checks_rare_terms=False)
    r.ask(SABBATICAL)
    assert "never mention" not in r.prompt()


# ---------------------------------------------------------------- follow-up questions

FIRST = Turn("How many days of annual leave do full-time employees get?", "Full-time employees get 25 days [1].")
FOLLOW_UP = "And part-time staff?"
REWRITTEN = "How many days of annual leave do part-time employees get?"


def test_a_follow_up_is_searched_with_the_models_rewrite_of_it(settings):
    r = rig(settings, [passage(PART_TIME_TEXT, confident(settings))], condense=REWRITTEN)
    events = r.events(FOLLOW_UP, history=[FIRST])
    answer = events[-1].answer
    assert r.kinds == ["condense", "answer"]
    assert FIRST.question in r.prompt("condense") and FOLLOW_UP in r.prompt("condense")
    assert r.searched[0] == REWRITTEN
    assert answer.standalone_question == REWRITTEN == events[0].standalone_question
    assert answer.question == FOLLOW_UP
    assert f"Question: {REWRITTEN}" in r.prompt(), "the answer is asked for the rewritten question"


def test_the_rewrite_is_its_first_line(settings):
    r = rig(settings, [passage(PART_TIME_TEXT, confident(settings))],
            condense=f"{REWRITTEN}\nThis keeps the subject of the conversation.")
    assert r.ask(FOLLOW_UP, history=[FIRST]).standalone_question == REWRITTEN
    assert r.searched[0] == REWRITTEN


def test_a_quoted_rewrite_loses_its_quotes(settings):
    r = rig(settings, [passage(PART_TIME_TEXT, confident(settings))], condense=f'"{REWRITTEN}"')
    assert r.ask(FOLLOW_UP, history=[FIRST]).standalone_question == REWRITTEN


def test_a_quoted_first_line_followed_by_more_lines_loses_both_quotes(settings):
    r = rig(settings, [passage(PART_TIME_TEXT, confident(settings))],
            condense=f'"{REWRITTEN}"\nThis keeps the subject of the conversation.')
    assert r.ask(FOLLOW_UP, history=[FIRST]).standalone_question == REWRITTEN


def test_an_absurdly_long_rewrite_falls_back_to_the_previous_question_and_the_follow_up(settings):
    rambling = "Part-time employees " + "get annual leave pro rata and " * 20
    assert len(rambling) > 4 * len(FOLLOW_UP) + 200
    r = rig(settings, [passage(PART_TIME_TEXT, confident(settings))], condense=rambling)
    answer = r.ask(FOLLOW_UP, history=[FIRST])
    assert answer.standalone_question == f"{FIRST.question} {FOLLOW_UP}"
    assert r.searched[0] == f"{FIRST.question} {FOLLOW_UP}"


def test_an_empty_rewrite_falls_back_to_the_previous_question_and_the_follow_up(settings):
    r = rig(settings, [passage(PART_TIME_TEXT, confident(settings))], condense="")
    assert r.ask(FOLLOW_UP, history=[FIRST]).standalone_question == f"{FIRST.question} {FOLLOW_UP}"


@pytest.mark.parametrize("reply", ['""', '"'])
def test_a_rewrite_of_only_quotes_falls_back_instead_of_failing(settings, reply):
    r = rig(settings, [passage(PART_TIME_TEXT, confident(settings))], condense=reply)
    assert r.ask(FOLLOW_UP, history=[FIRST]).standalone_question == f"{FIRST.question} {FOLLOW_UP}"


def test_without_history_there_is_no_rewrite_call(settings):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], condense=lambda m: pytest.fail("no condense"))
    answer = r.ask(EN_QUESTION)
    assert r.kinds == ["answer"]
    assert r.searched[0] == EN_QUESTION == answer.standalone_question


def test_the_rewrite_reads_only_the_last_turns(settings):
    oldest = Turn("Where is the canteen?", "On the ground floor [1].")
    history = [oldest, Turn("When does it open?", "At noon [1]."), FIRST]
    r = rig(settings, [passage(PART_TIME_TEXT, confident(settings))], condense=REWRITTEN)
    r.ask(FOLLOW_UP, history=history)
    assert "When does it open?" in r.prompt("condense") and FIRST.question in r.prompt("condense")
    assert oldest.question not in r.prompt("condense")


# ---------------------------------------------------------------- translation of the question

def test_a_french_question_on_an_english_collection_is_also_searched_in_translation(settings):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], translate=FR_TRANSLATION,
            answer="Les salariés à temps plein ont 25 jours [1].", languages={"c": {"en"}})
    answer = r.ask(FR_QUESTION)
    assert r.kinds == ["translate", "answer"]
    assert "English" in r.prompt("translate") and FR_QUESTION in r.prompt("translate")
    assert r.searched == (FR_QUESTION, ["c"], [FR_TRANSLATION])
    assert answer.standalone_question == FR_QUESTION


def test_an_english_question_on_a_bilingual_collection_is_translated_into_french_only(settings):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], translate=FR_QUESTION,
            languages={"c": {"en", "fr"}})
    r.ask(EN_QUESTION)
    assert r.kinds == ["translate", "answer"]
    assert "French" in r.prompt("translate")
    assert r.searched[2] == [FR_QUESTION]


def test_the_languages_of_all_searched_collections_count(settings):
    hr, it = passage(LEAVE_TEXT, confident(settings), collection="hr"), passage(CANTEEN_TEXT, loose(settings),
                                                                              collection="it")
    r = rig(settings, [hr, it], translate=FR_QUESTION, languages={"hr": {"en"}, "it": {"fr"}})
    r.ask(EN_QUESTION, ["hr", "it"])
    assert r.kinds == ["translate", "answer"]
    assert r.searched[2] == [FR_QUESTION]


def test_a_loosely_similar_passage_matching_the_translation_of_the_question_is_evidence(settings):
    leave = passage(LEAVE_TEXT, loose(settings))
    english = rig(settings, [leave])
    assert not english.ask(FR_TRANSLATION).refused, "the English phrasing stands on this passage"
    r = rig(settings, [leave], translate=FR_TRANSLATION, answer="25 jours [1].", languages={"c": {"en"}})
    answer = r.ask(FR_QUESTION)
    assert r.searched[2] == [FR_TRANSLATION]
    assert not answer.refused


def test_a_french_question_on_a_french_collection_is_not_translated(settings):
    r = rig(settings, [passage(FR_QUESTION, confident(settings))], translate=lambda m: pytest.fail("no translation"),
            answer="25 jours [1].", languages={"c": {"fr"}})
    r.ask(FR_QUESTION)
    assert r.kinds == ["answer"]
    assert r.searched[2] == []


def test_no_translation_when_translate_queries_is_off(tmp_path):
    s = load_settings(home=tmp_path, check_facts=False, translate_queries=False)
    r = rig(s, [passage(LEAVE_TEXT, confident(s))], translate=lambda m: pytest.fail("no translation"),
            answer="25 jours [1].", languages={"c": {"en"}})
    r.ask(FR_QUESTION)
    assert r.kinds == ["answer"]
    assert r.searched[2] == []


def test_a_translation_that_is_really_an_answer_is_dropped(settings):
    answer_instead = ("Full-time employees get twenty-five days of paid annual leave per calendar year, and "
                      "part-time employees get their leave pro rata, which is fifteen days for three days a week; "
                      "unused days carry over until the end of March, after which they are lost unless the manager "
                      "approves an exception.")
    assert len(answer_instead) >= 3 * len(FR_QUESTION) + 40
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], translate=answer_instead,
            answer="25 jours [1].", languages={"c": {"en"}})
    r.ask(FR_QUESTION)
    assert r.kinds == ["translate", "answer"]
    assert r.searched[2] == []
    assert "twenty-five" not in r.prompt(), "a dropped translation is not a phrasing of the question anywhere"


def test_a_translation_far_shorter_than_the_question_is_dropped(settings):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], translate="Leave?", answer="25 jours [1].",
            languages={"c": {"en"}})
    r.ask(FR_QUESTION)
    assert r.searched[2] == []


@pytest.mark.parametrize("same", [FR_QUESTION, FR_QUESTION.upper()], ids=["identical", "other-case"])
def test_a_translation_equal_to_the_question_is_dropped(settings, same):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], translate=same, answer="25 jours [1].",
            languages={"c": {"en"}})
    r.ask(FR_QUESTION)
    assert r.kinds == ["translate", "answer"]
    assert r.searched[2] == []


@pytest.mark.parametrize("reply", [f'"{FR_TRANSLATION}"', f"{FR_TRANSLATION}\n(translated from French)"],
                         ids=["quoted", "more-lines"])
def test_a_translation_is_its_first_line_without_quotes(settings, reply):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], translate=reply,
            answer="25 jours [1].", languages={"c": {"en"}})
    r.ask(FR_QUESTION)
    assert r.searched[2] == [FR_TRANSLATION]


def test_a_quoted_first_line_of_a_translation_followed_by_more_lines_loses_both_quotes(settings):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], translate=f'"{FR_TRANSLATION}"\n(translated)',
            answer="25 jours [1].", languages={"c": {"en"}})
    r.ask(FR_QUESTION)
    assert r.searched[2] == [FR_TRANSLATION]


def test_a_translation_of_only_quotes_is_dropped_instead_of_failing(settings):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))], translate='""', answer="25 jours [1].",
            languages={"c": {"en"}})
    r.ask(FR_QUESTION)
    assert r.searched[2] == []


def test_a_follow_up_is_translated_after_it_is_rewritten(settings):
    first = Turn(FR_QUESTION, "25 jours [1].")
    rewritten = "Combien de jours de congés payés ont les salariés à temps partiel ?"
    r = rig(settings, [passage(PART_TIME_TEXT, confident(settings))], condense=rewritten,
            translate="How many days of paid leave do part-time employees get?", answer="15 jours [1].",
            languages={"c": {"en"}})
    r.ask("Et pour les salariés à temps partiel ?", history=[first])
    assert r.kinds == ["condense", "translate", "answer"]
    assert rewritten in r.prompt("translate")
    assert r.searched == (rewritten, ["c"], ["How many days of paid leave do part-time employees get?"])


# ---------------------------------------------------------------- the answer's language

def test_a_french_question_is_answered_in_french(settings):
    r = rig(settings, [passage("Les salariés à temps plein ont 25 jours de congés payés par an.",
                               confident(settings))], answer="25 jours [1].", languages={"c": {"fr"}})
    answer = r.ask(FR_QUESTION)
    assert r.prompt().endswith("Answer in French.")
    assert answer.language == "fr"


def test_an_english_question_is_answered_in_english(settings):
    r = rig(settings, [passage(LEAVE_TEXT, confident(settings))])
    answer = r.ask(EN_QUESTION)
    assert r.prompt().endswith("Answer in English.")
    assert answer.language == "en"


# ---------------------------------------------------------------- per-call limits

def test_each_model_call_has_its_own_limits(tmp_path):
    s = load_settings(home=tmp_path, check_facts=False, llm_max_tokens=123, llm_temperature=0.3)
    first = Turn(FR_QUESTION, "25 jours [1].")
    rewritten = "Combien de jours de congés sabbatiques ont les salariés ?"
    r = rig(s, [passage(LEAVE_TEXT, confident(s))], condense=rewritten,
            translate="How many days of sabbatical leave do employees get?", check="yes", answer="25 jours [1].",
            languages={"c": {"en"}},
            keywords=CountedKeywords(chunks=100, counts={"sabbatical": 0, "sabbatiques": 0}, default=10))
    r.ask("Et les congés sabbatiques ?", history=[first])
    assert r.kinds == ["condense", "translate", "check", "answer"]
    limits = {kind(m): (kw.get("max_tokens"), kw.get("temperature")) for m, kw in r.llm.calls}
    assert limits == {"condense": (64, 0.0), "translate": (80, 0.0), "check": (3, 0.0),
                      "answer": (s.llm_max_tokens, s.llm_temperature)}


# ---------------------------------------------------------------- access boundary

@pytest.mark.parametrize("collections", [["hr"], ["hr", "it"]])
def test_only_the_collections_given_are_searched_and_looked_up(settings, collections):
    passages = [passage(LEAVE_TEXT, confident(settings), collection=c) for c in ("hr", "it", "secret")]
    keywords = CountedKeywords(chunks=100, default=10)
    r = rig(settings, passages, keywords=keywords, languages={"hr": {"en"}, "it": {"en"}, "secret": {"fr"}})
    r.ask(EN_QUESTION, collections)
    assert r.searched[1] == collections
    assert set(r.languages_asked) == set(collections)
    assert keywords.collections_asked and set(keywords.collections_asked) == set(collections)
    assert r.kinds == ["answer"]
