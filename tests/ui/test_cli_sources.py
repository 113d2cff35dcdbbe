"""`ask` and `chat` list an answer's sources under the numbers its [n] markers use."""
from assistant.answer.events import Answer
from tests.fakes import make_passage
from ui.cli import _print_sources


def test_each_source_is_printed_under_the_number_the_answer_cites_it_by(capsys):
    leave = make_passage("Full-time staff get 25 days.", "/d/leave-policy.md")
    travel = make_passage("Trains are booked through Bellhop.", "/d/travel.md")
    # The answer cites excerpt 3 first, then excerpt 1: its sources are listed in that order.
    answer = Answer("q", "Book through Bellhop [3]; 25 days of leave [1].", [travel, leave], [], False, "en",
                    quotes=["Trains are booked through Bellhop.", "Full-time staff get 25 days."])
    _print_sources(answer)
    lines = capsys.readouterr().out.splitlines()
    sources = [line for line in lines if line.startswith("[")]
    assert sources[0].startswith("[3]") and "travel.md" in sources[0]
    assert sources[1].startswith("[1]") and "leave-policy.md" in sources[1]
    assert "    quote: Trains are booked through Bellhop." in lines
