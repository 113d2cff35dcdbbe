"""API tokens: how a program (an OpenAI client, a script) acts as one user on the API at /v1.

A token is 32 random bytes (secrets.token_urlsafe, 43 characters) after the prefix `asst_`, shown
once when it is made; only its sha256 is stored. A salted slow hash, as for passwords, would buy
nothing here: nobody can guess 256 random bits, and the hash is looked up on every request.

A token acts as its user, with that user's grants looked up again on every request: it stops
working when it is revoked, when its user is disabled (and again when enabled), and with its user
when the user is removed. A password change leaves tokens working, as a program's key is not the
person's password; revoke them with `assistant tokens revoke ID`. last_used_at is written at most
once a minute.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from assistant.accounts.database import Database
from assistant.accounts.models import ApiTokenRow, UserRow
from assistant.accounts.service import User, utc_now
from assistant.errors import AccessError

PREFIX = "asst_"
MAX_LABEL_CHARS = 80
TOUCH_EVERY = timedelta(minutes=1)


class TokenNotFound(AccessError):
    def __init__(self, token_id: int):
        super().__init__(f"no API token with id {token_id}: `assistant tokens list` shows them")


@dataclass(frozen=True)
class ApiToken:
    """What may be shown of a token: never the token itself, nor its hash."""

    id: int
    user: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def as_json(self) -> dict:
        def when(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat().replace("+00:00", "Z")

        return {"id": self.id, "user": self.user, "label": self.label, "created_at": when(self.created_at),
                "last_used_at": when(self.last_used_at), "revoked_at": when(self.revoked_at)}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiTokens:
    def __init__(self, database: Database, *, now: Callable[[], datetime] = utc_now):
        self.database = database
        self.now = now

    def create(self, user: str, label: str = "") -> tuple[ApiToken, str]:
        """A new token for `user`; returns what is listed of it and the token, which is not kept."""
        label = " ".join((label or "").split())[:MAX_LABEL_CHARS]
        token = PREFIX + secrets.token_urlsafe(32)
        now = self.now()
        with self.database.writing() as session:
            owner = session.scalar(select(UserRow).where(UserRow.name == user))
            if owner is None:
                raise AccessError(f"no user named {user!r}: `assistant users list` shows them")
            row = ApiTokenRow(token_hash=_digest(token), user_id=owner.id, label=label, created_at=now,
                              last_used_at=None, revoked_at=None)
            session.add(row)
            session.flush()
            return _info(row, owner.name), token

    def list(self, user: str | None = None) -> list[ApiToken]:
        """Every token (or `user`'s), revoked ones included, oldest first."""
        statement = (select(ApiTokenRow, UserRow.name).join(UserRow, UserRow.id == ApiTokenRow.user_id)
                     .order_by(ApiTokenRow.id))
        if user is not None:
            statement = statement.where(UserRow.name == user)
        with self.database.reading() as session:
            return [_info(row, name) for row, name in session.execute(statement)]

    def revoke(self, token_id: int) -> ApiToken:
        """Withdraw a token at once (revoking it twice changes nothing)."""
        with self.database.writing() as session:
            found = session.execute(select(ApiTokenRow, UserRow.name).join(UserRow, UserRow.id == ApiTokenRow.user_id)
                                    .where(ApiTokenRow.id == token_id)).first()
            if found is None:
                raise TokenNotFound(token_id)
            row, name = found
            if row.revoked_at is None:
                row.revoked_at = self.now()
            return _info(row, name)

    def user_of(self, token: str | None) -> User | None:
        """The user a live token acts as, or None: unknown, revoked, or its user disabled."""
        if not token or not token.startswith(PREFIX):
            return None
        digest = _digest(token)
        with self.database.reading() as session:
            found = session.execute(
                select(ApiTokenRow.id, ApiTokenRow.revoked_at, ApiTokenRow.last_used_at, UserRow.name, UserRow.role,
                       UserRow.disabled)
                .join(UserRow, UserRow.id == ApiTokenRow.user_id).where(ApiTokenRow.token_hash == digest)).first()
        if found is None:
            return None
        token_id, revoked_at, last_used_at, name, role, disabled = found
        if revoked_at is not None or disabled:
            return None
        now = self.now()
        if last_used_at is None or now - last_used_at >= TOUCH_EVERY:
            with self.database.writing() as session:
                session.execute(update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=now))
        return User(name=name, role=role)


def _info(row: ApiTokenRow, user: str) -> ApiToken:
    return ApiToken(id=row.id, user=user, label=row.label, created_at=row.created_at, last_used_at=row.last_used_at,
                    revoked_at=row.revoked_at)
