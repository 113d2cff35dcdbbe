"""Which of a question's subject words a text holds: the comparison excerpts, refusals and the
rare-word check all rest on."""
from assistant.text import content_terms, missing_terms, term_coverage


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
