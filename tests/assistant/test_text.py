"""Which of a question's subject words a text holds: the comparison excerpts, refusals and the
rare-word check all rest on."""
from assistant.text import DIMENSION_FORMS, content_terms, missing_terms, term_coverage, with_equivalent_forms


def test_long_words_match_by_their_first_five_letters_and_short_ones_with_their_endings():
    assert missing_terms(["compresser", "name", "box", "file"], "Files are compressed; names and boxes too.") == []
    # A short word is not found inside a longer one that merely starts like it.
    assert missing_terms(["name", "cat"], "The namespace holds a catalogue.") == ["name", "cat"]


def test_a_dimension_asked_as_a_noun_is_found_as_the_adjective_the_documents_use():
    rule = "They must be at least two characters long."
    assert missing_terms(["minimum", "length"], rule) == []
    assert missing_terms(["largeur", "hauteur"], "Le panneau est large de deux mètres et haut d'un mètre.") == []
    assert missing_terms(["maximum"], "No file may exceed 4 MB.") == []
    # The forms stand in for the word asked, not for any other.
    assert missing_terms(["width"], rule) == ["width"]


def test_coverage_is_the_share_of_subject_words_held():
    terms = content_terms("What is the minimum length of a Debian package name?")
    assert terms == ["minimum", "length", "debian", "package", "name"]
    assert term_coverage(terms, "Debian package names must be at least two characters long.") == 1.0
    assert term_coverage(terms, "Every Debian package is built from source.") == 0.4


def test_a_keyword_query_carries_the_other_forms_of_its_words():
    assert with_equivalent_forms("What is the minimum length of a name?") == \
        "What is the minimum length of a name? least minimal long"
    assert with_equivalent_forms("Who approves leave?") == "Who approves leave?"


def test_maximum_is_not_found_as_most_and_the_refusal_check_reads_dimensions_only():
    assert missing_terms(["maximum"], "Most packages are optional.") == ["maximum"]
    # The refusal path passes DIMENSION_FORMS: "exceed" sets no maximum there.
    assert missing_terms(["maximum", "length"], "It must not exceed the line; it is long.", DIMENSION_FORMS) == ["maximum"]


def test_a_rare_word_is_counted_with_its_dimension_forms_only():
    from assistant.answer.evidence import rare_terms
    from tests.fakes import CountedKeywords

    keywords = CountedKeywords(chunks=1000, counts={"length": 0, "long": 40, "maximum": 0, "exceed": 40, "size": 40},
                               default=40)
    assert rare_terms(keywords, ["What is the maximum size and length?"], ["c"], rare_share=0.01) == {"maximum": 0}
