"""The audit trail: events appended with their time and user, read back by user, date and kind,
never edited, pruned past the retention, and never holding a secret; on real SQLite files."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from assistant.accounts import Audit, AuditKind, Database


class Clock:
    def __init__(self):
        self.now = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def database(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'accounts.sqlite'}")
    yield database
    database.close()


def test_events_come_back_oldest_first_filtered_by_user_date_and_kind(database, clock):
    audit = Audit(database, now=clock)
    audit.record(AuditKind.LOGIN, "alice", {"client": "10.0.0.1"})
    clock.now += timedelta(days=1)
    audit.record(AuditKind.QUESTION, "alice", {"question": "How many days of leave?", "collections": ["hr"]})
    audit.record(AuditKind.LOGIN, "bob", {"client": "10.0.0.2"})

    assert [(e.kind, e.user) for e in audit.query()] == [("login", "alice"), ("question", "alice"), ("login", "bob")]
    assert [e.kind for e in audit.query(user="alice")] == ["login", "question"]
    assert [e.user for e in audit.query(since=datetime(2026, 12, 4, tzinfo=timezone.utc))] == ["alice", "bob"]
    assert [e.user for e in audit.query(kinds=["login"])] == ["alice", "bob"]
    question = audit.query(kinds=[AuditKind.QUESTION])[0]
    assert question.detail == {"question": "How many days of leave?", "collections": ["hr"]}
    assert question.at == datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
    assert question.as_json()["at"] == "2026-12-04T09:00:00Z"


def test_the_database_refuses_to_change_an_event(database, clock):
    Audit(database, now=clock).record(AuditKind.LOGIN, "alice", {"client": "10.0.0.1"})
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), database.writing() as session:
        session.execute(sa.text("UPDATE audit_events SET user_name = 'mallory'"))
    assert [e.user for e in Audit(database).query()] == ["alice"]


def test_events_older_than_the_retention_are_deleted_as_new_ones_come(database, clock):
    audit = Audit(database, retention_days=30, now=clock)
    audit.record(AuditKind.LOGIN, "alice")
    clock.now += timedelta(days=31)
    audit.record(AuditKind.LOGIN, "bob")
    assert [e.user for e in audit.query()] == ["bob"]


def test_a_retention_of_0_days_keeps_every_event(database, clock):
    audit = Audit(database, retention_days=0, now=clock)
    audit.record(AuditKind.LOGIN, "alice")
    clock.now += timedelta(days=4000)
    audit.record(AuditKind.LOGIN, "bob")
    assert audit.prune() == 0
    assert [e.user for e in audit.query()] == ["alice", "bob"]


@pytest.mark.parametrize("detail", [{"password": "x"}, {"client": "a", "extra": {"token_hash": "y"}},
                                    {"items": [{"session_token": "z"}]}, {"Password_Hash": "w"}])
def test_a_detail_naming_a_password_hash_or_token_is_refused(database, detail):
    audit = Audit(database)
    with pytest.raises(ValueError, match="never carries a password, hash or token"):
        audit.record(AuditKind.ADMIN, "alice", detail)
    assert audit.query() == []
