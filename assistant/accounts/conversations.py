"""Conversations: each user's list (newest first, renamed, deleted, searched by words) and their
turns, kept so that a conversation reopens on another day with its answers and sources, and a
follow-up question still has the history it needs.

Every call names the user, and every look-up is by id AND owner: an id the browser sends that
belongs to someone else is answered exactly as an unknown one ("no such conversation"). Ids are
random (uuid4), so one says nothing of the others. The operator of a UI without logins owns the
conversations whose owner is NULL.

Feedback (thumbs up or down, a comment) on one answer copies its question, answer and sources, so it
outlives the conversation; a user's second rating of the same answer replaces their first.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from assistant.accounts.audit import OPERATOR
from assistant.accounts.database import Database
from assistant.accounts.models import ConversationRow, ConversationTurnRow, FeedbackRow, UserRow
from assistant.accounts.service import utc_now
from assistant.errors import AccessError
from assistant.passage import Passage

TITLE_CHARS = 80
MAX_TITLE_CHARS = 200


class ConversationNotFound(AccessError):
    def __init__(self):
        super().__init__("no such conversation: it was deleted, or it is not yours")


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    collection: str
    created_at: datetime
    updated_at: datetime


@dataclass
class StoredTurn:
    question: str
    answer: str
    refused: bool
    sources: list[Passage] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)


def title_from(question: str) -> str:
    words = " ".join(question.split())
    return words if len(words) <= TITLE_CHARS else words[:TITLE_CHARS - 1].rstrip() + "…"


def _sources_json(sources: list[Passage], quotes: list[str]) -> str:
    return json.dumps([{"id": p.chunk_id, "collection": p.collection, "text": p.text, "score": p.score or 0.0,
                        "similarity": p.similarity, "metadata": dict(p.node.metadata),
                        "quote": quotes[i] if i < len(quotes) else ""} for i, p in enumerate(sources)],
                      ensure_ascii=False)


def _sources_from(text: str) -> tuple[list[Passage], list[str]]:
    records = json.loads(text or "[]")
    passages = [Passage.from_record(r["id"], r["text"], r["metadata"], r["score"], r["collection"], r["similarity"])
                for r in records]
    return passages, [r.get("quote", "") for r in records]


class Conversations:
    def __init__(self, database: Database, *, now: Callable[[], datetime] = utc_now):
        self.database = database
        self.now = now

    # ------------------------------------------------------------ owner checks
    @staticmethod
    def _owner_id(session: Session, user: str) -> int | None:
        if user == OPERATOR:
            return None
        row = session.scalar(select(UserRow).where(UserRow.name == user))
        if row is None or row.disabled:
            raise ConversationNotFound()
        return row.id

    @staticmethod
    def _owned(owner_id: int | None):
        return ConversationRow.owner_id.is_(None) if owner_id is None else ConversationRow.owner_id == owner_id

    def _row(self, session: Session, user: str, conversation_id: str) -> ConversationRow:
        owner_id = self._owner_id(session, user)
        row = session.scalar(select(ConversationRow).where(ConversationRow.id == str(conversation_id),
                                                            self._owned(owner_id)))
        if row is None:
            raise ConversationNotFound()
        return row

    # ------------------------------------------------------------ the list
    def start(self, user: str, collection: str, title: str) -> Conversation:
        now = self.now()
        with self.database.writing() as session:
            row = ConversationRow(id=uuid.uuid4().hex, owner_id=self._owner_id(session, user),
                                  title=title_from(title) or "Conversation", collection=collection,
                                  created_at=now, updated_at=now)
            session.add(row)
        return _info(row)

    def list(self, user: str, search: str = "") -> list[Conversation]:
        """The user's conversations, newest first; with `search`, those whose title, questions or
        answers hold every word of it (case-insensitive)."""
        with self.database.reading() as session:
            statement = (select(ConversationRow).where(self._owned(self._owner_id(session, user)))
                         .order_by(ConversationRow.updated_at.desc(), ConversationRow.created_at.desc()))
            for word in search.lower().split():
                pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                in_turns = select(ConversationTurnRow.id).where(and_(
                    ConversationTurnRow.conversation_id == ConversationRow.id,
                    or_(func.lower(ConversationTurnRow.question).like(pattern, escape="\\"),
                        func.lower(ConversationTurnRow.answer).like(pattern, escape="\\"))))
                statement = statement.where(or_(func.lower(ConversationRow.title).like(pattern, escape="\\"),
                                                in_turns.exists()))
            return [_info(row) for row in session.scalars(statement)]

    def get(self, user: str, conversation_id: str) -> Conversation:
        with self.database.reading() as session:
            return _info(self._row(session, user, conversation_id))

    def rename(self, user: str, conversation_id: str, title: str) -> Conversation:
        title = " ".join((title or "").split())[:MAX_TITLE_CHARS]
        if not title:
            raise AccessError("a conversation needs a title: type one")
        with self.database.writing() as session:
            row = self._row(session, user, conversation_id)
            row.title = title
            return _info(row)

    def delete(self, user: str, conversation_id: str) -> None:
        with self.database.writing() as session:
            row = self._row(session, user, conversation_id)
            turn_ids = select(ConversationTurnRow.id).where(ConversationTurnRow.conversation_id == row.id)
            # The feedback keeps its copy of the answer; a later turn may be given a freed id.
            session.execute(update(FeedbackRow).where(FeedbackRow.turn_id.in_(turn_ids)).values(turn_id=None))
            session.execute(delete(ConversationTurnRow).where(ConversationTurnRow.conversation_id == row.id))
            session.delete(row)

    # ------------------------------------------------------------ turns
    def add_turn(self, user: str, conversation_id: str, question: str, answer: str, *, refused: bool,
                 sources: list[Passage], quotes: list[str]) -> None:
        now = self.now()
        with self.database.writing() as session:
            row = self._row(session, user, conversation_id)
            session.add(ConversationTurnRow(conversation_id=row.id, question=question, answer=answer, refused=refused,
                                            sources=_sources_json(sources, quotes), created_at=now))
            row.updated_at = now

    def give_feedback(self, user: str, conversation_id: str, position: int, rating: int, comment: str = "") -> None:
        """Thumbs up (1) or down (-1) and a comment on the user's `position`-th answer (0 first) of
        their conversation; given again, it replaces that user's earlier feedback on the answer."""
        if rating not in (1, -1):
            raise AccessError("feedback is thumbs up (1) or down (-1)")
        now = self.now()
        with self.database.writing() as session:
            row = self._row(session, user, conversation_id)
            turn = session.scalars(select(ConversationTurnRow).where(ConversationTurnRow.conversation_id == row.id)
                                   .order_by(ConversationTurnRow.id).offset(max(position, 0)).limit(1)).first()
            if turn is None:
                raise AccessError("no such answer in this conversation")
            previous = session.scalar(select(FeedbackRow).where(FeedbackRow.turn_id == turn.id,
                                                                FeedbackRow.user_name == user))
            if previous is None:
                session.add(FeedbackRow(at=now, user_name=user, turn_id=turn.id, rating=rating,
                                        comment=(comment or "").strip(), question=turn.question, answer=turn.answer,
                                        sources=turn.sources))
            else:
                previous.at, previous.rating = now, rating
                if comment and comment.strip():
                    previous.comment = comment.strip()

    def feedback(self) -> list[FeedbackEntry]:
        """Every feedback given, newest first (for the admin)."""
        with self.database.reading() as session:
            rows = session.scalars(select(FeedbackRow).order_by(FeedbackRow.at.desc(), FeedbackRow.id.desc())).all()
        return [FeedbackEntry(at=r.at, user=r.user_name, rating=r.rating, comment=r.comment, question=r.question,
                              answer=r.answer, sources=json.loads(r.sources)) for r in rows]

    def turns(self, user: str, conversation_id: str) -> list[StoredTurn]:
        with self.database.reading() as session:
            row = self._row(session, user, conversation_id)
            stored = session.scalars(select(ConversationTurnRow).where(ConversationTurnRow.conversation_id == row.id)
                                     .order_by(ConversationTurnRow.id)).all()
        turns = []
        for turn in stored:
            passages, quotes = _sources_from(turn.sources)
            turns.append(StoredTurn(turn.question, turn.answer, turn.refused, passages, quotes))
        return turns


@dataclass(frozen=True)
class FeedbackEntry:
    at: datetime
    user: str
    rating: int  # 1: thumbs up, -1: thumbs down
    comment: str
    question: str
    answer: str
    sources: list[dict]


def _info(row: ConversationRow) -> Conversation:
    return Conversation(id=row.id, title=row.title, collection=row.collection, created_at=row.created_at,
                        updated_at=row.updated_at)
