"""An answer's numbers, addresses and names come from the excerpt it cites, or the answer is not
shown as written: regenerated once with the wrong part pointed out, then the cited sentence quoted.
Unit rules first, then the whole answer stream on a scripted model that writes wrong numbers."""
import pytest

from assistant.answer import Finished, Retracted, TextDelta
from assistant.answer.grounding import asks_for_address, count_from_another_sentence, facts, given_facts, numbers, states_address, states_count, supporting_sentences, unsupported_facts
from assistant.settings import load_settings
from assistant.text import STOPWORDS
from tests.assistant.test_answer_rules import rig
from tests.fakes import make_passage

LEAVE = "Full-time employees get 25 days of paid annual leave. Requests go through Bellhop, the HR portal."
PASSWORD = "Le mot de passe doit comporter au moins 14 caractères. Il change tous les 90 jours."


@pytest.mark.parametrize("text, expected", [
    ("at least fourteen characters", {"14"}),
    ("3–5 working days", {"3", "5"}),
    ("25 000 euros, or 25,000", {"25000"}),
    ("0,30 euros per km", {"0.3"}),
    ("quatorze caractères", {"14"}),
    ("uid 65534, range 100-999", {"65534", "100", "999"}),
])
def test_numbers_are_compared_by_value_whatever_their_writing(text, expected):
    assert numbers(text) == expected


def test_the_facts_of_an_answer_are_its_numbers_addresses_links_and_names():
    found = facts("Write to hr@bellmont.example or see https://intranet.example/leave; Bellhop takes "
                  "requests 10 days ahead [1].", STOPWORDS)
    assert "hr@bellmont.example" in found and "https://intranet.example/leave" in found
    assert "10" in found and "Bellhop" in found
    assert "Write" not in found, "a capital that opens a sentence is no name"


def test_a_number_the_cited_excerpt_does_not_state_is_reported_with_its_sentence():
    problems = unsupported_facts("Full-time employees get 30 days of leave [1].", [LEAVE], STOPWORDS)
    assert [(p.fact, p.cited) for p in problems] == [("30", (1,))]
    assert unsupported_facts("Full-time employees get 25 days of leave [1].", [LEAVE], STOPWORDS) == []


def test_formatting_differences_are_not_errors():
    assert unsupported_facts("At least fourteen characters [1].", [PASSWORD], STOPWORDS) == []
    assert unsupported_facts("Au moins quatorze caractères, changé tous les 90 jours [1].", [PASSWORD], STOPWORDS) == []


def test_a_day_or_month_may_be_named_in_the_other_language_of_its_excerpt():
    meeting = "Réunion hebdomadaire data.gouv.fr le lundi à 14h00, et bilan en juin."
    assert unsupported_facts("The weekly meeting is on Monday at 14:00 [1].", [meeting], STOPWORDS) == []
    assert unsupported_facts("It is held on Mondays; the review is in June [1].", [meeting], STOPWORDS) == []
    wrong = unsupported_facts("The weekly meeting is on Tuesday at 14:00, review in July [1].", [meeting], STOPWORDS)
    assert [p.fact for p in wrong] == ["July", "Tuesday"]
    assert unsupported_facts("La réunion a lieu le Lundi [1].", ["Meeting on Monday at 2 pm."], STOPWORDS) == []


def test_a_french_article_is_no_number_of_an_answer():
    prices = "Tranche tarifaire: 3; Rémunération mensuelle nette: 3 001 € à 4 000 €; Tarif du forfait: 3,64 €"
    assert unsupported_facts("Pour un agent entre 3 001 € et 4 000 €, le tarif est de 3,64 € [1].", [prices],
                             STOPWORDS) == []
    assert [p.fact for p in unsupported_facts("Le tarif est de 4,64 € pour une personne [1].", [prices],
                                              STOPWORDS)] == ["4.64"]
    assert unsupported_facts("Il faut 1 badge [1].", ["Il faut une carte et un badge."], STOPWORDS) == []


def test_a_blank_left_for_a_fact_is_unsupported_unless_the_excerpt_has_it():
    checklist = "Version 3.8.0: Released June, 2008. The base section has been removed."
    problems = unsupported_facts("The base section was removed in 3.8.0, released on [insert date] [1].",
                                 [checklist], STOPWORDS)
    assert [p.fact for p in problems] == ["[insert date]"]
    template = "Vous pouvez demander la communication des règles auprès de [Nom de l'administration]."
    assert unsupported_facts("Écrivez à [Nom de l'administration] [1].", [template], STOPWORDS) == []
    # Citation markers and the text of a link are no blanks.
    assert unsupported_facts("See [the ENSAP site](https://ensap.gouv.fr) [1][2].",
                             ["Voir le site https://ensap.gouv.fr de l'ENSAP.", "ENSAP"], STOPWORDS) == []


def test_a_count_or_name_the_question_states_may_be_repeated_but_not_a_number_in_digits():
    """dev d09: the sentence lists the four scripts without counting them."""
    scripts = "These scripts are the control information files preinst, postinst, prerm and postrm."
    answer = "The four maintainer scripts are preinst, postinst, prerm and postrm [1]."
    question = "What are the names of the four maintainer scripts?"
    assert [p.fact for p in unsupported_facts(answer, [scripts], STOPWORDS)] == ["4"]
    assert unsupported_facts(answer, [scripts], STOPWORDS, given_facts(question, STOPWORDS)) == []
    # A name the question uses is the question's, not the answer's invention.
    assert unsupported_facts("Elior runs the canteen in the Ségur building [1].", ["La cantine est exploitée par Elior."],
                             STOPWORDS, given_facts("Which company runs the canteen in the Ségur building?",
                                                    STOPWORDS)) == []
    # A number in digits is a premise to check: "yes, 8" must not pass on the question's word.
    premise = given_facts("Is the minimum password length 8 characters?", STOPWORDS)
    assert [p.fact for p in unsupported_facts("Yes, at least 8 characters [1].", [PASSWORD], STOPWORDS, premise)] == ["8"]
    # Nor a number the question does not state.
    assert [p.fact for p in unsupported_facts("The five scripts are preinst and postinst [1].", [scripts], STOPWORDS,
                                              given_facts(question, STOPWORDS))] == ["5"]


def test_each_sentence_is_checked_against_the_excerpts_it_cites():
    excerpts = [LEAVE, PASSWORD]
    # 14 is in excerpt 2, but this sentence cites excerpt 1.
    problems = unsupported_facts("Passwords need 14 characters [1].", excerpts, STOPWORDS)
    assert [p.fact for p in problems] == ["14"]
    assert unsupported_facts("Passwords need 14 characters [2].", excerpts, STOPWORDS) == []
    # A sentence citing nothing rests on every excerpt shown.
    assert unsupported_facts("Passwords need 14 characters.", excerpts, STOPWORDS) == []


def test_a_name_the_excerpts_never_use_is_reported():
    problems = unsupported_facts("Requests go through Workday [1].", [LEAVE], STOPWORDS)
    assert [p.fact for p in problems] == ["Workday"]
    assert unsupported_facts("Requests go through Bellhop [1].", [LEAVE], STOPWORDS) == []


def test_a_version_is_one_the_excerpt_names_as_a_version_not_any_number_it_holds():
    """dev d12: "version 3.7" was the number of a section in an excerpt about version 3.8.0."""
    excerpt = "(upgrading-checklist.pdf, page 25, Version 3.8.0) 3.7 Released June, 2008. The base section has been removed."
    problems = unsupported_facts("The base section was removed in version 3.7 [1].", [excerpt], STOPWORDS)
    assert [p.fact for p in problems] == ["version 3.7"]
    assert unsupported_facts("It was removed in Version 3.8.0, released June 2008 [1].", [excerpt], STOPWORDS) == []
    assert unsupported_facts("It was removed in version 3.8 [1].", [excerpt], STOPWORDS) == []
    # An excerpt that names no version is read for the number alone.
    assert unsupported_facts("Install version 2.4 [1].", ["Release 2.4 is the current one."], STOPWORDS) == []
    assert [p.fact for p in unsupported_facts("Install version 2.5 [1].", ["Release 2.4 is current."], STOPWORDS)] \
        == ["2.5", "version 2.5"]


def test_a_quote_never_spans_the_gap_an_excerpt_leaves_in_its_passage():
    excerpt = "The IT helpdesk is on extension 4357. … The helpdesk is staffed from 08:00 to 18:00."
    assert supporting_sentences(excerpt, "Call extension 4357 [1].", "What is the extension?", STOPWORDS) == [
        "The IT helpdesk is on extension 4357."]


def test_the_supporting_sentence_is_the_one_holding_the_answers_fact():
    assert supporting_sentences(LEAVE, "25 days [1].", "How many days?", STOPWORDS) == [
        "Full-time employees get 25 days of paid annual leave."]
    assert supporting_sentences(LEAVE, "Through the HR portal [1].", "Where do requests go?", STOPWORDS) == [
        "Requests go through Bellhop, the HR portal."]


# ---------------------------------------------------------------- the answer stream
@pytest.fixture
def settings(tmp_path):
    return load_settings(home=tmp_path)


def leave_passage(settings):
    return make_passage(LEAVE, "/d/leave-policy.md", similarity=settings.confident_relevance + 0.1)


def answers(*replies):
    """A scripted answer that says each reply in turn."""
    said = list(replies)

    def respond(messages):
        return said.pop(0) if len(said) > 1 else said[0]
    return respond


def test_a_grounded_answer_is_shown_as_written_with_its_supporting_sentence(settings):
    r = rig(settings, [leave_passage(settings)], answer="Full-time employees get 25 days [1].")
    answer = r.ask("How many days of annual leave do full-time employees get?")
    assert answer.text == "Full-time employees get 25 days [1]." and answer.grounding == "grounded"
    assert answer.as_json()["sources"][0]["quote"] == "Full-time employees get 25 days of paid annual leave."
    assert r.kinds == ["answer"]


def test_an_answer_repeating_the_count_its_question_states_is_shown_as_written(settings):
    scripts = make_passage("These scripts are the control information files preinst, postinst, prerm and postrm.",
                           "/d/maintainer-scripts.md", similarity=settings.confident_relevance + 0.1)
    r = rig(settings, [scripts], answer="The four maintainer scripts are preinst, postinst, prerm and postrm [1].")
    answer = r.ask("What are the names of the four maintainer scripts?")
    assert answer.grounding == "grounded" and answer.text.startswith("The four maintainer scripts are preinst")
    assert r.kinds == ["answer"], "no regeneration for a count the question gave"


def test_a_wrong_number_is_withdrawn_and_the_answer_regenerated_with_the_error_named(settings):
    r = rig(settings, [leave_passage(settings)],
            answer=answers("Full-time employees get 30 days [1].", "Full-time employees get 25 days [1]."))
    events = r.events("How many days of annual leave do full-time employees get?")
    answer = events[-1].answer
    assert answer.text == "Full-time employees get 25 days [1]." and answer.grounding == "regenerated"
    retraction = next(i for i, e in enumerate(events) if isinstance(e, Retracted))
    assert "30" in events[retraction].reason
    after = "".join(e.text for e in events[retraction:] if isinstance(e, TextDelta))
    assert after == answer.text, "what streams after the retraction is the answer shown"
    correction = r.llm.calls[1][0]
    assert "'30'" in correction[-1].content and correction[-2].content.startswith("Full-time employees get 30")


def test_an_answer_that_writes_the_excerpts_back_becomes_the_closest_sentence_quoted(settings):
    leave = leave_passage(settings)
    canteen = make_passage("The canteen opens at noon.", "/d/canteen.md", heading="Site > Canteen",
                           similarity=settings.confident_relevance)  # the prompt labels it by "Canteen" only
    # Only the canteen excerpt written back, as the prompt labels it: enough to be an echo.
    echo = lambda messages: "[1] (canteen.md, Canteen) The canteen opens at noon. 25 days."
    r = rig(settings, [canteen, leave], answer=echo)
    events = r.events("How many days of annual leave do full-time employees get?")
    answer = events[-1].answer
    assert answer.grounding == "quoted" and len(r.llm.calls) == 1, "an echo is not asked again"
    assert answer.text == "“Full-time employees get 25 days of paid annual leave.” [1]"
    assert [e.reason for e in events if isinstance(e, Retracted)] == ["the answer repeated the excerpts"]


def test_a_number_still_wrong_after_the_retry_becomes_the_cited_sentence_quoted(settings):
    r = rig(settings, [leave_passage(settings)], answer="Full-time employees get 30 days [1].")
    events = r.events("How many days of annual leave do full-time employees get?")
    answer = events[-1].answer
    assert answer.grounding == "quoted"
    assert answer.text == "“Full-time employees get 25 days of paid annual leave.” [1]"
    assert "30" not in answer.text
    last = max(i for i, e in enumerate(events) if isinstance(e, Retracted))
    assert "".join(e.text for e in events[last:] if isinstance(e, TextDelta)) == answer.text
    assert len(r.llm.calls) == 2, "one regeneration, not more"


def test_an_uncited_wrong_answer_quotes_the_excerpt_holding_its_words_under_a_heading_naming_its_version(settings):
    """dev d12: the version asked is only in the heading of the section the sentence is in."""
    other = make_passage("Restructuring caused shifts in section numbers.", "/d/checklist.pdf", page=30,
                         heading="Checklist > Version 3.6.0", similarity=settings.confident_relevance + 0.1)
    # "2.4, 3.7": the Policy sections a change touches, which the model took for a version.
    removed = make_passage("Released June, 2008. 2.4, 3.7 The base section has been removed.", "/d/checklist.pdf", page=25,
                           heading="Checklist > Version 3.8.0", similarity=settings.confident_relevance)
    r = rig(settings, [other, removed], answer="The base section was removed in version 2.4, released June 2008.")
    answer = r.ask("In which version was the base section removed?")
    assert answer.grounding == "quoted" and len(r.llm.calls) == 2
    assert answer.text == "Version 3.8.0: “Released June, 2008. 2.4, 3.7 The base section has been removed.” [2]"
    assert [s.chunk_id for s in answer.sources] == [removed.chunk_id]


def test_a_heading_is_not_put_before_a_quote_when_it_states_nothing_the_sentence_lacks(settings):
    from assistant.answer.answerer import _quoted

    assert _quoted("Full-time staff get 25 days.", 1, "en", "1. Annual leave") == "“Full-time staff get 25 days.” [1]"
    assert _quoted("Released in 2008.", 2, "fr", "Version 3.8.0") == "Version 3.8.0: « Released in 2008. » [2]"
    assert _quoted("Released in 2008.", 2, "en") == "“Released in 2008.” [2]"
    assert _quoted("La réutilisation désigne l'usage des données.", 1, "fr", "Qu'est-ce qu'une réutilisation ?") == \
        "« La réutilisation désigne l'usage des données. » [1]", "« une » is an article there, not a number"


def test_a_last_resort_quote_far_from_the_question_is_said_to_be_only_the_closest(settings):
    """The passages passed the evidence rules but the model invents the asked number twice, and
    the cited sentence is about something else: not shown as if it answered."""
    editing = make_passage("To edit this guide, change the .md files of the repository. The guide has 40 pages.",
                           "/d/README.md", similarity=settings.confident_relevance + 0.1)
    r = rig(settings, [editing], answer="Staff get 30 days of annual leave [1].")
    answer = r.ask("How many days of annual leave do staff get?")
    assert answer.grounding == "quoted" and len(r.llm.calls) == 2
    # A "how many" question is shown the sentence stating a number (excerpts.COUNT_BONUS).
    assert answer.text == ("The documents do not state this; the closest they say is: "
                           "“The guide has 40 pages.” [1]")
    assert "30" not in answer.text


def test_a_count_quote_far_from_the_question_is_said_to_be_only_the_closest_in_french(settings):
    badge = make_passage("Pour obtenir le badge du bâtiment, voici la marche à suivre : 1. remplir le formulaire.",
                         "/d/bureaux.md", similarity=settings.confident_relevance + 0.1)
    r = rig(settings, [badge], answer="Il faut envoyer le formulaire à l'accueil [1].", languages={"c": {"fr"}})
    answer = r.ask("Combien de temps faut-il attendre pour recevoir son badge après avoir envoyé le formulaire ?")
    assert answer.grounding == "quoted"
    assert answer.text.startswith("Les documents ne précisent pas ce point ; le plus proche qu'ils disent : « Pour obtenir")


def test_an_english_question_quoting_a_french_sentence_is_judged_by_its_translation(settings):
    """The quote shares the question's words only in French: it is quoted as the answer, not hedged."""
    passage = make_passage(PASSWORD, "/d/securite.docx", similarity=settings.confident_relevance + 0.1)
    r = rig(settings, [passage], answer="A password needs 12 characters [1].", languages={"c": {"en", "fr"}},
            translate="Combien de caractères doit comporter le mot de passe ?")
    answer = r.ask("How many characters must the password have?")
    assert answer.grounding == "quoted"
    assert answer.text == "“Le mot de passe doit comporter au moins 14 caractères.” [1]"


def test_a_french_answer_is_quoted_with_french_quotation_marks(settings):
    passage = make_passage(PASSWORD, "/d/securite.docx", similarity=settings.confident_relevance + 0.1)
    r = rig(settings, [passage], answer="Le mot de passe doit avoir 12 caractères [1].", languages={"c": {"fr"}})
    answer = r.ask("Combien de caractères doit avoir le mot de passe ?")
    assert answer.text == "« Le mot de passe doit comporter au moins 14 caractères. » [1]"


def test_with_the_check_off_the_answer_is_shown_as_the_model_wrote_it(tmp_path):
    settings = load_settings(home=tmp_path, check_facts=False)
    r = rig(settings, [leave_passage(settings)], answer="Full-time employees get 30 days [1].")
    events = r.events("How many days of annual leave do full-time employees get?")
    assert not any(isinstance(e, Retracted) for e in events)
    assert isinstance(events[-1], Finished) and events[-1].answer.text == "Full-time employees get 30 days [1]."


def test_a_fact_cited_to_the_wrong_excerpt_is_cited_to_the_one_that_holds_it():
    from assistant.answer.grounding import recited

    excerpts = ["Manual pages are compressed with gzip -9.", "The user nobody has uid 65534."]
    assert recited("Pages use gzip -9 [1]. Nobody has uid 65534 [1].", excerpts, STOPWORDS) == \
        "Pages use gzip -9 [1]. Nobody has uid 65534 [2]."
    assert recited("Pages use gzip -9 and nobody has uid 65534 [1].", excerpts, STOPWORDS) == \
        "Pages use gzip -9 and nobody has uid 65534 [1][2]."
    assert recited("Nobody has uid 65535 [1].", excerpts, STOPWORDS) is None


def test_a_miscited_answer_is_kept_with_its_citation_corrected_without_asking_the_model_again(settings):
    other = make_passage("The canteen opens at noon.", "/d/canteen.md", similarity=settings.confident_relevance + 0.2)
    r = rig(settings, [other, leave_passage(settings)],
            answer="Full-time employees get 25 days [1].")
    answer = r.ask("How many days of annual leave do full-time employees get?")
    assert answer.grounding == "recited"
    assert [s.file_name for s in answer.sources] == ["leave-policy.md"]
    assert r.kinds == ["answer"]


# ---------------------------------------------------------------- "how many" wants a number
SECONDS = ("A Policy proposal is accepted when three Developers second it. "
           "One must be a Debian Developer to formally second a Policy proposal.")


def seconds_passage(settings):
    return make_passage(SECONDS, "/d/ap-process.md", similarity=settings.confident_relevance + 0.1)


@pytest.mark.parametrize("text, counts", [
    ("one must be a Debian Developer", False), ("three Debian Developers", True), ("N=3 [1]", True),
    ("within 2 weeks", True), ("Il en faut trois.", True), ("Il en faut un.", False), ("See [2].", False),
])
def test_a_count_is_a_number_other_than_one_written_as_a_word(text, counts):
    assert states_count(text) is counts


def test_a_how_many_answer_with_no_number_is_asked_again_for_the_number(settings):
    r = rig(settings, [seconds_passage(settings)],
            answer=answers("One must be a Debian Developer to formally second [1].",
                           "Three Debian Developers must second a proposal [1]."))
    events = r.events("How many Developers must second a Policy proposal?")
    answer = events[-1].answer
    assert r.kinds == ["answer", "count"]
    assert answer.text == "Three Debian Developers must second a proposal [1]." and answer.grounding == "regenerated"
    retraction = next(i for i, e in enumerate(events) if isinstance(e, Retracted))
    assert "".join(e.text for e in events[retraction:] if isinstance(e, TextDelta)) == answer.text


def test_a_how_many_answer_still_without_a_number_quotes_the_sentence_stating_one(settings):
    r = rig(settings, [seconds_passage(settings)], answer="One must be a Debian Developer to formally second [1].")
    events = r.events("How many Developers must second a Policy proposal?")
    answer = events[-1].answer
    assert answer.grounding == "quoted" and len(r.llm.calls) == 2
    assert answer.text == "“A Policy proposal is accepted when three Developers second it.” [1]"
    last = max(i for i, e in enumerate(events) if isinstance(e, Retracted))
    assert "".join(e.text for e in events[last:] if isinstance(e, TextDelta)) == answer.text


def test_a_how_many_answer_stating_its_number_is_not_asked_again(settings):
    r = rig(settings, [seconds_passage(settings)], answer="Three Debian Developers [1].")
    assert r.ask("How many Developers must second a Policy proposal?").grounding == "grounded"
    assert r.kinds == ["answer"]


@pytest.mark.parametrize("question, asks", [
    ("What email address do I write to in order to book a meeting room?", True),
    ("Quelle est l'adresse du webmail pour consulter ses e-mails @data.gouv.fr ?", True),
    ("Sur quel site consulte-t-on ses fiches de paie ?", True),
    ("Which web address do I read my mail at?", True),
    ("Je m'en vais trois semaines : comment activer un répondeur automatique sur mes e-mails ?", False),
    ("Who should I contact to propose a tweet?", False),
])
def test_a_question_asking_for_an_e_mail_or_web_address_is_told_apart(question, asks):
    assert asks_for_address(question) is asks


def test_an_address_is_an_e_mail_a_url_a_host_or_a_street_number_never_a_file_name():
    assert states_address("Write to dsaf.resa@pm.gouv.fr [1].")
    assert states_address("Go to https://webmail.data.gouv.fr [1].") and states_address("webmail.data.gouv.fr [1]")
    assert states_address("20 avenue de Ségur [1].")
    assert not states_address("Write to webmail-et-calendrier.pdf, the reception desk [1].")


ROOMS = ("Meeting rooms are booked through the CAS desk. The email address for booking a meeting room is "
         "rooms@bellmont.example. The floor plan is at https://intranet.example/plan.")


def rooms_passage(settings, heading=""):
    return make_passage(ROOMS, "/d/rooms.md", heading=heading, similarity=settings.confident_relevance + 0.1)


QUESTION = "What email address do I write to in order to book a meeting room?"


def test_an_address_question_answered_without_an_address_quotes_the_sentence_holding_one(settings):
    r = rig(settings, [rooms_passage(settings)], answer="You should write to the booking desk [1].")
    events = r.events(QUESTION)
    answer = events[-1].answer
    assert answer.grounding == "quoted"
    assert answer.text == "“The email address for booking a meeting room is rooms@bellmont.example.” [1]"
    assert r.kinds == ["answer"], "quoted at once, the model not asked again"
    assert any(isinstance(e, Retracted) and "address" in e.reason for e in events)


def test_an_address_question_answered_with_an_address_is_shown_as_written(settings):
    r = rig(settings, [rooms_passage(settings)], answer="Write to rooms@bellmont.example [1].")
    answer = r.ask(QUESTION)
    assert answer.grounding == "grounded" and answer.text == "Write to rooms@bellmont.example [1]."


def test_an_answer_giving_an_excerpts_label_quotes_the_sentence_asked_for(settings):
    r = rig(settings, [rooms_passage(settings, heading="Office > Booking a meeting room")],
            answer="You should write to rooms.md, Booking a meeting room [1].")
    answer = r.ask(QUESTION)
    assert answer.grounding == "quoted" and "rooms@bellmont.example" in answer.text
    assert "rooms.md" not in answer.text
    # A file name alone is a name an answer may give.
    r = rig(settings, [rooms_passage(settings)], answer="The email address is in rooms.md: rooms@bellmont.example [1].")
    assert r.ask(QUESTION).grounding == "grounded"


LEAVE_RULES = ("Full-time employees get 25 days of paid annual leave per calendar year. An employee contracted to "
               "work 3 days a week gets 15 days of paid annual leave per calendar year.")


def test_a_how_many_answer_taking_its_number_from_a_sentence_about_something_else_is_caught():
    question = "How many days of paid annual leave do full-time employees get?"
    best = "Full-time employees get 25 days of paid annual leave per calendar year."
    assert count_from_another_sentence("15 days of paid annual leave [1].", [LEAVE_RULES], question, best, STOPWORDS)
    assert not count_from_another_sentence("25 days [1].", [LEAVE_RULES], question, best, STOPWORDS)
    # The part-timers' question: its best sentence is theirs, and 15 is in it.
    part_time = "How many days does an employee contracted to work 3 days a week get?"
    assert not count_from_another_sentence("15 days [1].", [LEAVE_RULES], part_time,
                                           "An employee contracted to work 3 days a week gets 15 days of paid "
                                           "annual leave per calendar year.", STOPWORDS)


def test_a_how_many_answer_with_another_sentences_number_quotes_the_sentence_on_the_question(settings):
    passage = make_passage(LEAVE_RULES, "/d/leave-policy.md", similarity=settings.confident_relevance + 0.1)
    r = rig(settings, [passage], answer="15 days of paid annual leave per calendar year [1].")
    answer = r.ask("How many days of paid annual leave do full-time employees get?")
    assert answer.grounding == "quoted" and r.kinds == ["answer"]
    assert answer.text == "“Full-time employees get 25 days of paid annual leave per calendar year.” [1]"
