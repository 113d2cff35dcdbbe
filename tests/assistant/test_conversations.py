"""Conversations in the accounts database: each user's own list, newest first, renamed, deleted and
searched; turns kept with their sources; and never another user's, whatever id is named."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assistant.accounts import OPERATOR, Accounts, ConversationNotFound, Conversations
from tests.fakes import make_passage

PASSWORD = "violet kettle under 9 bridges"


class Clock:
    def __init__(self):
        self.now = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)

    def __call__(self):
        self.now += timedelta(seconds=1)  # every write a moment later
        return self.now


@pytest.fixture
def accounts(tmp_path):
    accounts = Accounts(f"sqlite:///{tmp_path / 'accounts.sqlite'}")
    accounts.add_user("alice", PASSWORD)
    accounts.add_user("bob", "seven quiet lanterns drifting")
    yield accounts
    accounts.close()


@pytest.fixture
def conversations(accounts):
    return Conversations(accounts.database, now=Clock())


def leave_passage():
    return make_passage("Full-time employees get 25 days of paid annual leave.", "/docs/hr/leave-policy.md",
                        page=2, heading="Leave > Annual leave", collection="handbook", score=0.8, similarity=0.7)


def test_a_conversation_keeps_its_turns_with_their_sources_and_quotes(conversations, accounts, tmp_path):
    started = conversations.start("alice", "handbook", "How many days of paid annual leave do full-time staff get?")
    conversations.add_turn("alice", started.id, "How many days of leave?", "25 days [1].", refused=False,
                           sources=[leave_passage()], quotes=["Full-time employees get 25 days"])
    reopened = Conversations(Accounts(f"sqlite:///{tmp_path / 'accounts.sqlite'}").database)  # another process, another day
    [turn] = reopened.turns("alice", started.id)
    assert (turn.question, turn.answer, turn.refused) == ("How many days of leave?", "25 days [1].", False)
    assert turn.quotes == ["Full-time employees get 25 days"]
    [source] = turn.sources
    assert source.label() == "leave-policy.md, page 2, Leave > Annual leave"
    assert (source.chunk_id, source.collection, source.text) == (leave_passage().chunk_id, "handbook",
                                                                 leave_passage().text)
    assert reopened.get("alice", started.id).title.startswith("How many days of paid annual leave")


def test_the_list_is_newest_first_and_follows_renames_and_deletes(conversations):
    first = conversations.start("alice", "handbook", "Parking")
    second = conversations.start("alice", "handbook", "Expenses")
    assert [c.title for c in conversations.list("alice")] == ["Expenses", "Parking"]
    conversations.add_turn("alice", first.id, "Where do I park?", "Level -2.", refused=False, sources=[], quotes=[])
    assert [c.title for c in conversations.list("alice")] == ["Parking", "Expenses"]  # a new turn brings it up
    conversations.rename("alice", second.id, "  Travel   expenses ")
    assert conversations.get("alice", second.id).title == "Travel expenses"
    conversations.delete("alice", first.id)
    assert [c.title for c in conversations.list("alice")] == ["Travel expenses"]
    with pytest.raises(ConversationNotFound):
        conversations.turns("alice", first.id)


def test_search_finds_every_word_in_titles_questions_or_answers(conversations):
    leave = conversations.start("alice", "handbook", "Leave")
    conversations.add_turn("alice", leave.id, "How many days off?", "Twenty-five DAYS of annual leave.", refused=False,
                           sources=[], quotes=[])
    conversations.start("alice", "handbook", "Parking garage")
    assert [c.title for c in conversations.list("alice", "annual days")] == ["Leave"]
    assert [c.title for c in conversations.list("alice", "GARAGE")] == ["Parking garage"]
    assert conversations.list("alice", "annual garage") == []
    assert conversations.list("alice", "100%") == []  # a wildcard is a character, not "anything"


def test_another_users_conversation_is_answered_as_if_it_did_not_exist(conversations):
    mine = conversations.start("alice", "handbook", "Salary bands")
    conversations.add_turn("alice", mine.id, "Salary bands?", "Band C is 52k [1].", refused=False,
                           sources=[leave_passage()], quotes=[""])
    assert conversations.list("bob") == []
    assert conversations.list("bob", "salary") == []
    for call in (lambda: conversations.get("bob", mine.id), lambda: conversations.turns("bob", mine.id),
                 lambda: conversations.rename("bob", mine.id, "mine now"),
                 lambda: conversations.delete("bob", mine.id),
                 lambda: conversations.add_turn("bob", mine.id, "q", "a", refused=False, sources=[], quotes=[]),
                 lambda: conversations.get(OPERATOR, mine.id), lambda: conversations.get("nobody", mine.id),
                 lambda: conversations.get("bob", "' OR 1=1 --")):
        with pytest.raises(ConversationNotFound, match="no such conversation"):
            call()
    assert [t.answer for t in conversations.turns("alice", mine.id)] == ["Band C is 52k [1]."]
    assert conversations.get("alice", mine.id).title == "Salary bands"


def test_removing_a_user_removes_their_conversations(conversations, accounts):
    conversations.start("bob", "handbook", "Budget")
    accounts.remove_user("bob")
    accounts.add_user("bob", "seven quiet lanterns drifting")  # a new bob sees nothing of the old one
    assert conversations.list("bob") == []


def test_the_operator_without_logins_has_a_list_of_their_own(conversations):
    conversations.start(OPERATOR, "handbook", "Local question")
    conversations.start("alice", "handbook", "Alice's question")
    assert [c.title for c in conversations.list(OPERATOR)] == ["Local question"]
    assert [c.title for c in conversations.list("alice")] == ["Alice's question"]


def test_feedback_keeps_the_question_answer_and_sources_even_after_the_conversation_goes(conversations):
    talk = conversations.start("alice", "handbook", "Leave")
    conversations.add_turn("alice", talk.id, "How many days?", "25 days [1].", refused=False,
                           sources=[leave_passage()], quotes=["25 days"])
    conversations.add_turn("alice", talk.id, "And part-time?", "Pro rata [1].", refused=False,
                           sources=[leave_passage()], quotes=[""])
    conversations.give_feedback("alice", talk.id, 1, -1, "  It should say how pro rata is computed. ")
    conversations.give_feedback("alice", talk.id, 1, 1)  # changed her mind: the rating is replaced, the comment kept
    conversations.give_feedback("alice", talk.id, 0, 1)
    with pytest.raises(ConversationNotFound):
        conversations.give_feedback("bob", talk.id, 0, -1, "not his to rate")
    conversations.delete("alice", talk.id)

    later, first = conversations.feedback()
    assert (first.user, first.rating, first.comment, first.question, first.answer) == (
        "alice", 1, "It should say how pro rata is computed.", "And part-time?", "Pro rata [1].")
    assert first.sources[0]["metadata"]["file_name"] == "leave-policy.md"
    assert (later.question, later.rating, later.comment) == ("How many days?", 1, "")
    assert len(conversations.feedback()) == 2
