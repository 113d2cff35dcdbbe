"""Accounts, sessions, grants, conversations, feedback and the audit trail on a real PostgreSQL
server, through the same SQLAlchemy code and migrations as SQLite.

The SQLite test modules' own tests run here again (imported, not copied), with their database
fixture pointed at a new database of the session's PostgreSQL: what they specify holds on both.
The tests below them are PostgreSQL's own: its trigger behind the append-only audit trail, and a
second worker process reading what the first wrote.
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from assistant.accounts import Accounts, Audit, AuditKind, Conversations, Database, User
from tests.assistant import test_accounts, test_audit, test_conversations

# The fixtures the imported tests ask for, from their own modules ...
clock = test_accounts.clock
alice = test_accounts.alice
session_token = test_accounts.session_token

# ... and the specifications that must hold on PostgreSQL as on SQLite.
from tests.assistant.test_accounts import (  # noqa: E402
    test_a_database_at_the_first_migration_is_brought_to_head_when_opened,
    test_a_group_grant_gives_its_members_read_and_write_separately,
    test_a_password_change_voids_a_session_even_if_its_row_survived,
    test_a_session_ends_720_minutes_after_login_however_much_it_is_used,
    test_a_session_ends_after_120_idle_minutes,
    test_a_session_ends_when_its_user_changes,
    test_a_session_names_its_user_and_the_token_itself_is_not_stored,
    test_all_reads_every_collection_including_those_made_later,
    test_an_admin_reads_and_writes_every_collection,
    test_failures_from_one_address_across_names_throttle_that_address_only,
    test_five_failures_for_an_account_refuse_even_the_right_password_for_30_s,
    test_leaving_a_group_or_removing_it_withdraws_its_grants,
    test_passwords_are_stored_as_argon2id,
    test_revoke_withdraws_and_counts,
    test_the_migration_made_the_tables_the_models_describe,
    test_the_right_password_logs_in_and_a_wrong_one_does_not,
    test_throttling_is_shared_by_every_process_on_the_database,
    test_two_processes_opening_a_new_database_at_once_both_work,
    test_two_threads_opening_a_new_database_at_once_both_work,
    test_users_lists_roles_groups_and_grants,
)
from tests.assistant.test_audit import (  # noqa: E402
    test_a_detail_naming_a_password_hash_or_token_is_refused,
    test_events_come_back_oldest_first_filtered_by_user_date_and_kind,
    test_events_older_than_the_retention_are_deleted_as_new_ones_come,
    test_the_database_refuses_to_change_an_event,
)
from tests.assistant.test_conversations import (  # noqa: E402
    test_another_users_conversation_is_answered_as_if_it_did_not_exist,
    test_feedback_keeps_the_question_answer_and_sources_even_after_the_conversation_goes,
    test_removing_a_user_removes_their_conversations,
    test_search_finds_every_word_in_titles_questions_or_answers,
    test_the_list_is_newest_first_and_follows_renames_and_deletes,
)

PASSWORD = test_accounts.PASSWORD


@pytest.fixture
def url(postgres_url) -> str:
    return postgres_url


@pytest.fixture
def accounts(url, request):
    """test_accounts' accounts (empty, on the test clock); test_conversations' have alice and bob."""
    if request.node.function.__module__ == test_conversations.__name__:
        accounts = Accounts(url)
        accounts.add_user("alice", PASSWORD)
        accounts.add_user("bob", "seven quiet lanterns drifting")
    else:
        accounts = Accounts(url, now=request.getfixturevalue("clock"))
    yield accounts
    accounts.close()


@pytest.fixture
def conversations(accounts):
    return Conversations(accounts.database, now=test_conversations.Clock())


@pytest.fixture
def database(url):
    database = Database(url)
    yield database
    database.close()


def test_the_database_is_postgresql(accounts):
    assert accounts.database.engine.dialect.name == "postgresql"


def test_the_append_only_trigger_is_postgresqls_own_and_refuses_any_client(database, url):
    """Not only our code: a plain client connection's UPDATE is refused by the server itself."""
    Audit(database).record(AuditKind.LOGIN, "alice", {"client": "10.0.0.1"})
    engine = sa.create_engine(url)
    with engine.connect() as db:
        triggers = db.execute(sa.text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass "
                                      "AND NOT tgisinternal")).scalars().all()
        with pytest.raises(sa.exc.DatabaseError, match="audit events are append-only"):
            db.execute(sa.text("UPDATE audit_events SET detail = '{}'"))
        db.rollback()
        assert db.execute(sa.text("SELECT user_name, detail FROM audit_events")).all() == [
            ("alice", '{"client": "10.0.0.1"}')]
    engine.dispose()
    assert triggers == ["audit_events_append_only"]


def test_a_second_worker_sees_the_conversation_and_session_the_first_wrote(accounts, alice, url):
    """Two web workers share one PostgreSQL: what one writes, the other reads at once."""
    token = accounts.create_session(User("alice"), "10.0.0.1")
    first = Conversations(accounts.database)
    talk = first.start("alice", "handbook", "How many days of paid annual leave?")
    first.add_turn("alice", talk.id, "How many days of leave?", "25 days [1].", refused=False,
                   sources=[test_conversations.leave_passage()], quotes=["Full-time employees get 25 days"])

    # On the same clock as the first worker: with the real one, a session started at the test
    # clock's 09:00 was idle for any run after 11:00 UTC on 2026-12-03, and every run later.
    other_worker = Accounts(url, now=accounts.now)
    try:
        assert other_worker.session_user(token) == User("alice")
        [turn] = Conversations(other_worker.database).turns("alice", talk.id)
        assert (turn.question, turn.answer, turn.quotes) == ("How many days of leave?", "25 days [1].",
                                                              ["Full-time employees get 25 days"])
        assert turn.sources[0].label() == "leave-policy.md, page 2, Leave > Annual leave"
    finally:
        other_worker.close()


def test_a_database_server_that_cannot_be_reached_is_one_line_without_its_password(tmp_path, shared_models_dir):
    from assistant.errors import AssistantError
    from tests.conftest import free_port, make_home, run_cli

    port = free_port()
    dead = f"postgresql+psycopg://assistant:hunter2@127.0.0.1:{port}/accounts"
    expected = f"cannot reach the accounts database at postgresql+psycopg://assistant:***@127.0.0.1:{port}/accounts"
    with pytest.raises(AssistantError, match=re.escape(expected)) as raised:
        Accounts(dead)
    assert "hunter2" not in str(raised.value)

    home = make_home(tmp_path / "home", shared_models_dir)
    home.chmod(0o700)
    result = run_cli("users", "list", home=home, env_extra={"ASSISTANT_ACCOUNTS_URL": dead}, timeout=120)
    assert result.returncode != 0 and "Traceback" not in result.stderr and "hunter2" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert expected in line
