"""The audit trail: who logged in or failed to, asked what, was shown which passages and got an
answer or a refusal, opened or uploaded a document, or changed an account, with the time.

Append-only: `record` adds an event and nothing edits one (the migration also makes the database
refuse an UPDATE); events older than `audit_retention_days` are deleted, at most once an hour per
process, as events are recorded (0 keeps them forever). Events live in the accounts database,
under a user *name*, so the trail outlives a removed account.

What never goes in: a password, a password hash, a session token or its hash. `record` refuses a
detail with a key naming one (a bug, so it raises), and the faces never pass them. A failed login
under a name no account has is recorded without that name: people type their password into the
name field, and the trail must not keep it.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select

from assistant.accounts.database import Database
from assistant.accounts.models import AuditEventRow
from assistant.accounts.service import utc_now

log = logging.getLogger(__name__)

# The faces' name for the operator: the CLI's user, and the one user of a UI on loopback without
# logins. No account can have it (names have no spaces or parentheses).
OPERATOR = "(local operator)"
PRUNE_EVERY = timedelta(hours=1)
_SECRET_WORDS = ("password", "hash", "token", "secret", "cookie")


class AuditKind(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    QUESTION = "question"
    DOCUMENT_OPENED = "document_opened"
    SEARCH = "search"  # passages shown for a query, with no answer (the API's /v1/search)
    UPLOAD = "upload"
    ADMIN = "admin"


class QuestionOutcome(StrEnum):
    ANSWER = "answer"
    REFUSAL = "refusal"
    NO_ACCESS = "no_access"  # asked of a collection the user may not read: nothing searched
    STOPPED = "stopped"  # the user stopped the answer before it finished
    BUSY = "busy"  # the line at the model was full: told to try again, nothing searched


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: datetime
    kind: str
    user: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"id": self.id, "at": self.at.isoformat().replace("+00:00", "Z"), "kind": self.kind,
                "user": self.user, "detail": self.detail}


def passages_shown(passages) -> list[dict[str, str]]:
    """What the trail keeps of passages shown to a user: their chunk ids, collections and files."""
    return [{"id": p.chunk_id, "collection": p.collection, "file": p.source} for p in passages]


class Audit:
    def __init__(self, database: Database, *, retention_days: int = 365, now: Callable[[], datetime] = utc_now):
        self.database = database
        self.retention_days = retention_days
        self.now = now
        self._pruned_at: datetime | None = None

    def record(self, kind: AuditKind, user: str | None, detail: dict[str, Any] | None = None) -> None:
        detail = dict(detail or {})
        _refuse_secrets(detail)
        now = self.now()
        with self.database.writing() as session:
            session.add(AuditEventRow(at=now, kind=AuditKind(kind).value, user_name=user[:64] if user else None,
                                      detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)))
        if self.retention_days and (self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY):
            self.prune()

    def question(self, user: str | None, question: str, collection: str | None, outcome: QuestionOutcome,
                 found=(), answer=None, **extra: Any) -> None:
        """One question, as every face records it: the collection asked for (searched only when the
        user may read it), the passages shown, those the answer cited, and how it ended."""
        if outcome in (QuestionOutcome.ANSWER, QuestionOutcome.REFUSAL) and answer is not None:
            outcome = QuestionOutcome.REFUSAL if answer.refused else QuestionOutcome.ANSWER
        self.record(AuditKind.QUESTION, user, {
            "question": question,
            "collections": [] if outcome in (QuestionOutcome.NO_ACCESS, QuestionOutcome.BUSY) else [collection],
            "asked_for": collection, "outcome": outcome.value, "shown": passages_shown(found),
            "cited": passages_shown(answer.sources if answer is not None else []), **extra})

    def query(self, *, user: str | None = None, since: datetime | None = None, until: datetime | None = None,
              kinds: Iterable[str] = (), limit: int | None = None) -> list[AuditEvent]:
        """Events oldest first, those of `user`, at or after `since`, before `until`, of these kinds."""
        statement = select(AuditEventRow).order_by(AuditEventRow.at, AuditEventRow.id)
        if user is not None:
            statement = statement.where(AuditEventRow.user_name == user)
        if since is not None:
            statement = statement.where(AuditEventRow.at >= since)
        if until is not None:
            statement = statement.where(AuditEventRow.at < until)
        kinds = [AuditKind(k).value for k in kinds]
        if kinds:
            statement = statement.where(AuditEventRow.kind.in_(kinds))
        if limit is not None:
            statement = statement.limit(limit)
        with self.database.reading() as session:
            rows = session.scalars(statement).all()
        return [AuditEvent(id=r.id, at=r.at, kind=r.kind, user=r.user_name, detail=json.loads(r.detail)) for r in rows]

    def prune(self) -> int:
        """Delete the events older than the retention; returns how many (0 when it is 0 days: keep all)."""
        now = self._pruned_at = self.now()
        if not self.retention_days:
            return 0
        with self.database.writing() as session:
            removed = session.execute(delete(AuditEventRow).where(
                AuditEventRow.at < now - timedelta(days=self.retention_days))).rowcount
        if removed:
            log.info("removed %d audit event(s) older than %d days", removed, self.retention_days)
        return removed


def _refuse_secrets(value: Any, path: str = "detail") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if any(word in str(key).lower() for word in _SECRET_WORDS):
                raise ValueError(f"{path}.{key}: an audit event never carries a password, hash or token")
            _refuse_secrets(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_secrets(item, path)
