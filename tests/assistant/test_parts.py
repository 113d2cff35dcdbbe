"""Questions that ask several things: the rule splitter on real gold questions, and the answerer
giving each part its own search, evidence and excerpt budget, on a scripted model."""
from __future__ import annotations

import pytest

from assistant.answer import Retracted, TextDelta
from assistant.answer.excerpts import select_context_per_part
from assistant.answer.parts import question_parts, refers_back
from tests.assistant.test_answer_rules import (LEAVE_TEXT, PART_TIME_TEXT, confident, ids, irrelevant, passage, rig,
                                               settings, streamed)  # noqa: F401 (settings is a fixture)
from tests.fakes import BagOfWordsEncoder, StaticRetriever


@pytest.mark.parametrize("question, parts", [
    ("With which command should manual pages be compressed, and what uid does the user nobody have?",
     ["With which command should manual pages be compressed?", "What uid does the user nobody have?"]),
    ("Where must a package's distribution license be installed, and may that file be compressed?",
     ["Where must a package's distribution license be installed?", "May that file be compressed?"]),
    ("Within how much time must a security incident be reported, and to which address?",
     ["Within how much time must a security incident be reported?", "To which address?"]),
    ("Qui doit valider le formulaire de demande de badge, et à qui faut-il ensuite le transmettre ?",
     ["Qui doit valider le formulaire de demande de badge ?", "À qui faut-il ensuite le transmettre ?"]),
    # "Quel jour et à quelle heure" asks one fact: only the second "et" starts a part.
    ("Quel jour et à quelle heure a lieu la réunion d'équipe Etalab, et à quelle heure le bâtiment ouvre-t-il ce jour-là ?",
     ["Quel jour et à quelle heure a lieu la réunion d'équipe Etalab ?",
      "À quelle heure le bâtiment ouvre-t-il ce jour-là ?"]),
    ("What is the leave policy? Who approves it?", ["What is the leave policy?", "Who approves it?"]),
])
def test_a_question_asking_several_things_is_split_into_its_questions(question, parts):
    assert question_parts(question) == parts


@pytest.mark.parametrize("question", [
    "Quand et où a lieu la réunion d'équipe Etalab ?",
    "À quelle heure et à quel endroit dois-je me présenter le premier jour ?",
    "Quelle est la différence entre anonymisation et pseudonymisation ?",
    "What is the difference between a uid and a gid?",
    "Quel est le tarif pour une rémunération comprise entre 3 001 € et 4 000 € ?",
    "Which port and security type should I use for outgoing mail?",
    "How many days of annual leave do full-time employees get?",
])
def test_a_question_asking_one_thing_is_left_whole(question):
    assert question_parts(question) == [question]


def test_a_part_that_points_back_is_recognised():
    assert refers_back("May that file be compressed?") and refers_back("When was this version released?")
    assert refers_back("Jusqu'à quand faut-il utiliser ces jours ?")
    assert not refers_back("What uid does the user nobody have?")
    assert not refers_back("Qui doit valider le formulaire de demande de badge ?"), "le, la, les are articles"


GZIP_TEXT = "Manual pages should be compressed with gzip -9."
NOBODY_TEXT = "The uid 65534 is reserved for the user nobody."
# Many sentences about manual pages: under one shared budget they would crowd out the uid sentence.
MANUAL_TEXT = " ".join(f"Manual pages of section {n} should be installed compressed in the man{n} folder."
                       for n in range(1, 9))
TWO_PARTS = "With which command should manual pages be compressed, and what uid does the user nobody have?"


def test_each_part_is_searched_and_gets_its_own_excerpt_budget(settings):
    # One prompt listing the parts (answer_each_part off): each part's sentences are in it.
    settings = settings.model_copy(update={"context_tokens": 40, "part_context_tokens": 40,
                                           "answer_each_part": False})
    manual = passage(f"{GZIP_TEXT} {MANUAL_TEXT}", confident(settings), "/d/docs.md")
    nobody = passage(NOBODY_TEXT, confident(settings), "/d/opersys.md")
    r = rig(settings, [manual], answer="Use gzip -9 [1]; nobody has uid 65534 [2].")
    r.retriever.by_query = {"What uid": [nobody], "manual pages": [manual]}
    answer = r.ask(TWO_PARTS)
    queries = [q for q, _, _ in r.retriever.queries]
    assert queries == [TWO_PARTS, "With which command should manual pages be compressed?",
                       "What uid does the user nobody have?"]
    prompt = r.prompt()
    assert GZIP_TEXT in prompt and NOBODY_TEXT in prompt, "both parts' sentences are in the prompt"
    assert ("The question asks 2 things; answer each, citing its excerpt: (1) With which command should manual "
            "pages be compressed? (2) What uid does the user nobody have?") in prompt
    assert ids(answer.sources) == ids([manual, nobody]) and not answer.refused


def test_under_one_shared_budget_the_words_the_first_parts_passages_repeat_do_not_crowd_out_the_second(settings):
    """With splitting off, the manual pages' passages lead and fill the budget with sentences on
    manual pages; the uid sentence still goes in, since the words only it holds ("uid",
    "nobody") weigh more than the ones every manual sentence repeats (excerpts._word_share)."""
    settings = settings.model_copy(update={"context_tokens": 40, "split_questions": False})
    manuals = [passage(f"{GZIP_TEXT} {MANUAL_TEXT}", confident(settings) + 0.02, f"/d/docs{n}.md") for n in range(3)]
    nobody = passage(NOBODY_TEXT, confident(settings), "/d/opersys.md")
    r = rig(settings, [*manuals, nobody], answer="Use gzip -9 [1].")
    r.ask(TWO_PARTS)
    assert len(r.retriever.queries) == 1
    prompt = r.prompt()
    assert NOBODY_TEXT in prompt and GZIP_TEXT in prompt
    assert prompt.count("Manual pages of section") <= 1, "the budget went to both parts, not to the repeats"


def test_a_part_no_passage_covers_is_named_in_the_prompt_and_said_after_the_answer(settings):
    manual = passage(GZIP_TEXT, confident(settings), "/d/docs.md")
    canteen = passage("The canteen opens at noon.", irrelevant(settings), "/d/canteen.md")
    r = rig(settings, [manual], answer="Use gzip -9 [1].")
    r.retriever.by_query = {"What uid": [canteen]}
    events = r.events(TWO_PARTS)
    answer = events[-1].answer
    assert "The excerpts do not answer 'What uid does the user nobody have?': do not answer that part." in r.prompt()
    assert answer.text == "Use gzip -9 [1].\nThe documents do not state: What uid does the user nobody have?"
    assert streamed(events) == answer.text and not answer.refused
    assert ids(answer.sources) == ids([manual])


def test_a_part_that_points_back_is_searched_with_the_part_before_it(settings):
    licence = passage("The copyright file must be installed in /usr/share/doc/PACKAGE/copyright "
                      "and must not be compressed.", confident(settings), "/d/docs.md")
    r = rig(settings, [licence], answer="In /usr/share/doc/PACKAGE/copyright, not compressed [1].")
    r.ask("Where must a package's distribution license be installed, and may that file be compressed?")
    assert [q for q, _, _ in r.retriever.queries][1:] == [
        "Where must a package's distribution license be installed?",
        "Where must a package's distribution license be installed? May that file be compressed?"]


def test_a_follow_up_joined_to_its_question_is_not_split(settings):
    from assistant.answer import Turn

    r = rig(settings, [passage(PART_TIME_TEXT, confident(settings))], condense="x" * 2000,
            answer="15 days [1].")
    r.ask("And part-time staff?", history=[Turn("How many days of annual leave do full-time employees get?", "25")])
    assert len(r.retriever.queries) == 1


def test_a_passage_two_parts_draw_on_is_one_excerpt_with_both_parts_sentences():
    both = passage(f"{GZIP_TEXT} Some other sentence about folders. {NOBODY_TEXT}", 0.9)
    encoder = BagOfWordsEncoder()
    excerpts = select_context_per_part(
        [("With which command should manual pages be compressed?", [], [both]),
         ("What uid does the user nobody have?", [], [both])],
        encoder.embed, encoder.count_tokens, 12)
    assert len(excerpts) == 1
    assert excerpts[0].text == f"{GZIP_TEXT} … {NOBODY_TEXT}"


def test_french_near_miss_names_the_missing_word_as_written(settings):
    from tests.fakes import CountedKeywords

    leave = passage("Les salariés à temps plein ont 25 jours de congés payés.", confident(settings), "/d/conges.md")
    r = rig(settings, [leave], check="non", languages={"c": {"fr"}}, translate="How many days of sabbatical leave?",
            keywords=CountedKeywords(chunks=100, counts={"sabbatiques": 0}, default=10))
    events = r.events("Combien de jours de congés sabbatiques ont les salariés ?")
    answer = events[-1].answer
    assert not any(isinstance(e, Retracted) for e in events)
    assert answer.refused and [e.text for e in events if isinstance(e, TextDelta)] == [answer.text]
    assert answer.text == ("Les documents ne mentionnent pas “sabbatiques” ; sur ce sujet, ils disent : "
                           "« Les salariés à temps plein ont 25 jours de congés payés. » [1]")


def test_a_word_one_part_misses_does_not_refuse_a_split_question(settings):
    from tests.fakes import CountedKeywords

    settings = settings.model_copy(update={"answer_each_part": False})
    manual = passage(GZIP_TEXT, confident(settings), "/d/docs.md")
    nobody = passage(NOBODY_TEXT, confident(settings), "/d/opersys.md")
    r = rig(settings, [manual], check=lambda m: pytest.fail("no rare-word check on a split question"),
            answer="Use gzip -9 [1]; nobody has uid 65534 [2].",
            keywords=CountedKeywords(chunks=100, counts={"command": 0}, default=10))
    r.retriever.by_query = {"What uid": [nobody]}
    answer = r.ask(TWO_PARTS)
    assert r.kinds == ["answer"] and not answer.refused
    assert "Note: the documents never mention 'command'." in r.prompt()


# ---------------------------------------------------------------- each part asked on its own

def shown(events) -> str:
    """What the reader ends up seeing: a retraction withdraws all the text streamed before it."""
    text = ""
    for event in events:
        if isinstance(event, Retracted):
            text = ""
        elif isinstance(event, TextDelta):
            text += event.text
    return text


def by_part(gzip: str, uid: str):
    """A scripted model that answers whichever part its prompt asks."""
    def reply(messages) -> str:
        return uid if "Question: What uid" in messages[-1].content else gzip
    return reply


def two_part_rig(settings, answer, **kwargs):
    settings = settings.model_copy(update={"answer_each_part": True})
    manual = passage(GZIP_TEXT, confident(settings), "/d/docs.md")
    nobody = passage(NOBODY_TEXT, confident(settings), "/d/opersys.md")
    r = rig(settings, [manual], answer=answer, **kwargs)
    r.retriever.by_query = {"What uid": [nobody], "manual pages": [manual]}
    return r, manual, nobody


def test_each_part_is_asked_on_its_own_and_the_answers_are_joined_with_the_joined_numbering(settings):
    r, manual, nobody = two_part_rig(settings, by_part("Use gzip -9 [1].", "The user nobody has uid 65534 [1]."))
    events = r.events(TWO_PARTS)
    answer = events[-1].answer
    prompts = [messages[-1].content for messages, _ in r.llm.calls]
    assert r.kinds == ["answer", "answer"]
    assert GZIP_TEXT in prompts[0] and NOBODY_TEXT not in prompts[0] and "Question: With which command" in prompts[0]
    assert NOBODY_TEXT in prompts[1] and GZIP_TEXT not in prompts[1] and "Question: What uid" in prompts[1]
    # Each prompt numbered its own excerpt [1]; the joined answer cites [1] and [2], in source order.
    assert answer.text == "Use gzip -9 [1].\nThe user nobody has uid 65534 [2]."
    assert streamed(events) == answer.text and not answer.refused
    assert ids(answer.sources) == ids([manual, nobody])
    assert "65534" in answer.quote_of(1) and "gzip" in answer.quote_of(0)


def test_a_part_the_model_will_not_answer_is_said_not_stated_and_the_other_kept(settings):
    r, manual, _ = two_part_rig(settings, by_part("Use gzip -9 [1].", "The documents do not mention that."))
    events = r.events(TWO_PARTS)
    answer = events[-1].answer
    assert answer.text == "Use gzip -9 [1].\nThe documents do not state: What uid does the user nobody have?"
    assert shown(events) == answer.text and not answer.refused
    assert ids(answer.sources) == ids([manual])


def test_a_wrong_number_in_the_second_part_is_withdrawn_and_the_first_part_shown_again(settings):
    """The facts check of a part: its retraction withdraws all the text shown, so the parts
    before are sent again; the second part, still wrong when regenerated, is quoted."""
    settings = settings.model_copy(update={"check_facts": True})
    r, manual, nobody = two_part_rig(settings, by_part("Use gzip -9 [1].", "The user nobody has uid 99 [1]."))
    events = r.events(TWO_PARTS)
    answer = events[-1].answer
    assert any(isinstance(e, Retracted) for e in events)
    assert answer.text == f"Use gzip -9 [1].\n“{NOBODY_TEXT}” [2]"
    assert shown(events) == answer.text
    assert answer.grounding == "quoted" and ids(answer.sources) == ids([manual, nobody])


def test_when_no_part_is_answered_the_closest_sentence_is_quoted(settings):
    r, _, _ = two_part_rig(settings, "The documents do not cover this.")
    events = r.events(TWO_PARTS)
    answer = events[-1].answer
    assert answer.refused and shown(events) == answer.text
    assert answer.text.startswith("The documents do not mention this; on the subject they say: “")


def test_a_part_answered_with_only_a_marker_quotes_the_sentence_it_points_at(settings):
    r, manual, nobody = two_part_rig(settings, by_part("[1]", "The user nobody has uid 65534 [1]."))
    events = r.events(TWO_PARTS)
    answer = events[-1].answer
    assert answer.text == f"“{GZIP_TEXT}” [1]\nThe user nobody has uid 65534 [2]."
    assert shown(events) == answer.text and ids(answer.sources) == ids([manual, nobody])


def test_a_part_answered_without_a_citation_cites_the_excerpt_it_repeats(settings):
    r, manual, nobody = two_part_rig(settings, by_part("Use gzip -9 [1].", "The uid of the user nobody is 65534."))
    events = r.events(TWO_PARTS)
    answer = events[-1].answer
    assert answer.text == "Use gzip -9 [1].\nThe uid of the user nobody is 65534. [2]"
    assert streamed(events) == answer.text and ids(answer.sources) == ids([manual, nobody])


def test_a_part_asked_alone_that_points_back_is_told_what_it_refers_to(settings):
    settings = settings.model_copy(update={"answer_each_part": True})
    licence = passage("The copyright file must be installed in /usr/share/doc/PACKAGE/copyright "
                      "and must not be compressed.", confident(settings), "/d/docs.md")
    r = rig(settings, [licence], answer="In /usr/share/doc/PACKAGE/copyright [1].")
    r.ask("Where must a package's distribution license be installed, and may that file be compressed?")
    first, second = [messages[-1].content for messages, _ in r.llm.calls]
    assert "The question follows this one" not in first
    assert ("The question follows this one, which says what it refers to: Where must a package's distribution "
            "license be installed?") in second and "Question: May that file be compressed?" in second


def test_a_french_inverted_pronoun_points_back():
    assert refers_back("À quoi servait-il à l'origine ?") and refers_back("Quand ouvre-t-elle ?")
    assert not refers_back("Quel moteur de géocodage Etalab a développé ?")


def _by_question(replies: dict[str, str]):
    """A scripted answer chosen by the question its prompt asks."""
    def respond(messages):
        question = messages[-1].content.split("Question: ", 1)[1].split("\n", 1)[0]
        return replies[question]
    return respond


def _two_part_rig(settings, answers: dict[str, str]):
    manual = passage(GZIP_TEXT, confident(settings), "/d/docs.md")
    nobody = passage(NOBODY_TEXT, confident(settings), "/d/opersys.md")
    r = rig(settings, [manual], answer=_by_question(answers))
    r.retriever.by_query = {"What uid": [nobody], "manual pages": [manual]}
    return r, manual, nobody


def test_a_part_the_answer_leaves_out_is_asked_alone_and_its_answer_added(settings):
    s = settings.model_copy(update={"answer_each_part": False, "check_facts": True})
    r, manual, nobody = _two_part_rig(s, {TWO_PARTS: "Use gzip -9 [1].",
                                          "What uid does the user nobody have?": "The user nobody has uid 65534 [2]."})
    events = r.events(TWO_PARTS)
    answer = events[-1].answer
    assert answer.text == "Use gzip -9 [1].\nThe user nobody has uid 65534 [2]."
    assert streamed(events) == answer.text
    assert ids(answer.sources) == ids([manual, nobody])
    assert r.kinds == ["answer", "answer"]
    second = r.llm.calls[1][0][-1].content
    assert "[1] (docs.md)" in second and "[2] (opersys.md)" in second, "the same excerpts, under the same numbers"
    assert "asks 2 things" not in second


def test_an_answer_to_every_part_asks_nothing_more(settings):
    s = settings.model_copy(update={"answer_each_part": False})
    r, _, _ = _two_part_rig(s, {TWO_PARTS: "Use gzip -9 [1]; the user nobody has uid 65534 [2]."})
    assert r.ask(TWO_PARTS).text == "Use gzip -9 [1]; the user nobody has uid 65534 [2]."
    assert r.kinds == ["answer"]


def test_a_left_out_part_answered_with_a_made_up_number_is_its_sentence_quoted(settings):
    s = settings.model_copy(update={"answer_each_part": False, "check_facts": True})
    r, _, _ = _two_part_rig(s, {TWO_PARTS: "Use gzip -9 [1].",
                                "What uid does the user nobody have?": "The user nobody has uid 1000 [2]."})
    answer = r.ask(TWO_PARTS)
    assert answer.text == "Use gzip -9 [1].\n“The uid 65534 is reserved for the user nobody.” [2]"


def test_a_left_out_part_the_model_will_not_answer_is_said_not_stated(settings):
    s = settings.model_copy(update={"answer_each_part": False})
    r, _, _ = _two_part_rig(s, {TWO_PARTS: "Use gzip -9 [1].",
                                "What uid does the user nobody have?": "The documents do not say."})
    answer = r.ask(TWO_PARTS)
    assert answer.text == "Use gzip -9 [1].\nThe documents do not state: What uid does the user nobody have?"
    s = s.model_copy(update={"ask_dropped_parts": False})
    r, _, _ = _two_part_rig(s, {TWO_PARTS: "Use gzip -9 [1]."})
    assert r.ask(TWO_PARTS).text == "Use gzip -9 [1]." and r.kinds == ["answer"]
