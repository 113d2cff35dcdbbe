"""Accounts: who may log in, to which collections each may read or write, their sessions, and the
throttling of password guesses. One class over one database, so the CLI and every web worker share
the same users, sessions and failure counts.

Access (see models.py): grants go to groups; each user has a personal group `user:NAME`
(`users add --collections` grants to it); a grant on `*` covers every collection, present and
future (`users add --all`). A new user reads nothing until granted. The admin role reads and writes
every collection. Read and write are separate grants: write does not imply read.

Throttling: after 5 failed logins for one account name, or from one client address, with no pause
of 15 minutes between them, logins there are refused without checking the password for 30 s, then
60 s, 120 s ... up to 15 minutes after each further failure. A success clears the account's count,
not the address's: otherwise one valid login would reset a guesser's address between guesses.

Sessions: the token (secrets.token_urlsafe(32)) goes to the browser; only its sha256 is stored. A
session ends after session_idle_minutes without use, session_lifetime_minutes after its creation,
and at once when its user changes password, is disabled or removed. last_seen_at is written at most
once a minute, so idle expiry is exact to that minute.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.accounts import legacy
from assistant.accounts.database import Database
from assistant.accounts.models import (ALL_COLLECTIONS, MODES, PERSONAL_PREFIX, ROLES, GrantRow, GroupRow,
                                       MembershipRow, SessionRow, ThrottleRow, UserRow)
from assistant.accounts.passwords import Hasher, check_policy
from assistant.errors import AccessError

log = logging.getLogger(__name__)

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
TOUCH_EVERY = timedelta(minutes=1)

# "local" is the faces' name for the operator of a UI on loopback without logins, who reads everything:
# an account of that name could be mistaken for them.
RESERVED_NAMES = frozenset({"local"})
_USER_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_GROUP_NAME = _USER_NAME
# The store's rule for collection names (assistant/store/chroma.py), without importing the store.
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def personal_group(user_name: str) -> str:
    return PERSONAL_PREFIX + user_name


class ThrottledError(AccessError):
    """Too many failed logins for this account or address; `retry_after` is the wait in seconds."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"too many attempts, try again in {retry_after} s")


@dataclass(frozen=True)
class User:
    """A logged-in (or looked-up) user: what a face needs to decide what to show."""

    name: str
    role: str = "staff"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: str
    disabled: bool
    groups: list[str]  # named groups, the personal one left out
    read: list[str]  # collections granted to read, through any group ("*": all)
    write: list[str]
    created_at: datetime
    password_changed_at: datetime

    @property
    def reads_all(self) -> bool:
        return self.role == "admin" or ALL_COLLECTIONS in self.read


@dataclass(frozen=True)
class GroupInfo:
    name: str
    members: list[str]
    read: list[str]
    write: list[str]


class Accounts:
    def __init__(self, url: str | Database, *, legacy_users: Path | None = None, now: Callable[[], datetime] = utc_now,
                 session_idle: timedelta = timedelta(minutes=120), session_lifetime: timedelta = timedelta(minutes=720),
                 hasher: Hasher | None = None):
        self.now = now
        self.hasher = hasher or Hasher()
        self.session_idle = session_idle
        self.session_lifetime = session_lifetime
        self.database = url if isinstance(url, Database) else Database(url)
        if legacy_users is not None and legacy_users.is_file():
            self._import_legacy(legacy_users)

    def close(self) -> None:
        self.database.close()

    # ------------------------------------------------------------ transactions and look-ups
    def _reading(self):
        return self.database.reading()

    def _writing(self):
        return self.database.writing()

    @staticmethod
    def _user_row(session: Session, name: str) -> UserRow:
        row = session.scalar(select(UserRow).where(UserRow.name == name))
        if row is None:
            raise AccessError(f"no user named {name!r}: `assistant users list` shows them")
        return row

    @staticmethod
    def _group_row(session: Session, name: str) -> GroupRow:
        row = session.scalar(select(GroupRow).where(GroupRow.name == name))
        if row is None:
            if name.startswith(PERSONAL_PREFIX):
                raise AccessError(f"no user named {name.removeprefix(PERSONAL_PREFIX)!r} "
                                  f"(so no personal group {name!r}): `assistant users list` shows them")
            raise AccessError(f"no group named {name!r}: create it with `assistant groups add {name}`")
        return row

    def _named_group_row(self, session: Session, name: str) -> GroupRow:
        row = self._group_row(session, name)
        if row.personal_user_id is not None:
            raise AccessError(f"{name!r} is a personal group: it has its user as only member")
        return row

    # ------------------------------------------------------------ users
    def add_user(self, name: str, password: str, role: str = "staff", *, collections: Iterable[str] = ()) -> User:
        """A new user, who reads the `collections` given (personal read grants; "*" for all) and nothing else."""
        _check_user_name(name)
        _check_role(role)
        collections = [_check_collection(c) for c in collections]
        check_policy(password, name)
        password_hash = self.hasher.hash(password)
        now = self.now()
        with self._writing() as session:
            if session.scalar(select(exists().where(UserRow.name == name))):
                raise AccessError(f"user {name!r} exists already: `assistant users passwd {name}` changes the password")
            self._insert_user(session, name, password_hash, role, collections, now)
        return User(name=name, role=role)

    @staticmethod
    def _insert_user(session: Session, name: str, password_hash: str, role: str, collections: list[str],
                     now: datetime) -> None:
        user = UserRow(name=name, password_hash=password_hash, role=role, disabled=False, session_generation=0,
                       password_changed_at=now, created_at=now, updated_at=now)
        session.add(user)
        session.flush()
        group = GroupRow(name=personal_group(name), personal_user_id=user.id, created_at=now)
        session.add(group)
        session.flush()
        session.add(MembershipRow(user_id=user.id, group_id=group.id, created_at=now))
        for collection in dict.fromkeys(collections):
            session.add(GrantRow(group_id=group.id, collection=collection, mode="read", created_at=now))

    def remove_user(self, name: str) -> None:
        """The user, their personal group and grants, memberships and sessions."""
        with self._writing() as session:
            row = self._user_row(session, name)
            session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
            session.execute(delete(MembershipRow).where(MembershipRow.user_id == row.id))
            personal = select(GroupRow.id).where(GroupRow.personal_user_id == row.id).scalar_subquery()
            session.execute(delete(GrantRow).where(GrantRow.group_id == personal))
            session.execute(delete(GroupRow).where(GroupRow.personal_user_id == row.id))
            session.execute(delete(UserRow).where(UserRow.id == row.id))

    def set_password(self, name: str, password: str) -> None:
        """A new password; every session of the user ends, and their failed-login count is cleared."""
        check_policy(password, name)
        password_hash = self.hasher.hash(password)
        now = self.now()
        with self._writing() as session:
            row = self._user_row(session, name)
            row.password_hash = password_hash
            row.password_changed_at = row.updated_at = now
            row.session_generation += 1
            session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
            session.execute(delete(ThrottleRow).where(ThrottleRow.key == _account_key(name)))

    def disable_user(self, name: str) -> None:
        """The user can no longer log in, and their sessions end; grants are kept for enable_user."""
        with self._writing() as session:
            row = self._user_row(session, name)
            row.disabled = True
            row.updated_at = self.now()
            row.session_generation += 1
            session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))

    def enable_user(self, name: str) -> None:
        with self._writing() as session:
            row = self._user_row(session, name)
            row.disabled = False
            row.updated_at = self.now()

    def user(self, name: str) -> UserInfo | None:
        return next((info for info in self.users() if info.name == name), None)

    def has_users(self) -> bool:
        with self._reading() as session:
            return session.scalar(select(UserRow.id).limit(1)) is not None

    def users(self) -> list[UserInfo]:
        with self._reading() as session:
            rows = session.scalars(select(UserRow).order_by(UserRow.name)).all()
            groups = self._groups_by_user(session)
            grants = self._grants_by_user(session)
        return [UserInfo(name=row.name, role=row.role, disabled=row.disabled, groups=groups.get(row.id, []),
                         read=sorted(grants.get((row.id, "read"), ())), write=sorted(grants.get((row.id, "write"), ())),
                         created_at=row.created_at, password_changed_at=row.password_changed_at) for row in rows]

    @staticmethod
    def _groups_by_user(session: Session) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        query = (select(MembershipRow.user_id, GroupRow.name).join(GroupRow, GroupRow.id == MembershipRow.group_id)
                 .where(GroupRow.personal_user_id.is_(None)).order_by(GroupRow.name))
        for user_id, group in session.execute(query):
            found.setdefault(user_id, []).append(group)
        return found

    @staticmethod
    def _grants_by_user(session: Session, user_id: int | None = None) -> dict[tuple[int, str], set[str]]:
        query = (select(MembershipRow.user_id, GrantRow.mode, GrantRow.collection)
                 .join(GrantRow, GrantRow.group_id == MembershipRow.group_id))
        if user_id is not None:
            query = query.where(MembershipRow.user_id == user_id)
        found: dict[tuple[int, str], set[str]] = {}
        for uid, mode, collection in session.execute(query):
            found.setdefault((uid, mode), set()).add(collection)
        return found

    # ------------------------------------------------------------ groups
    def add_group(self, name: str) -> None:
        _check_group_name(name)
        with self._writing() as session:
            if session.scalar(select(exists().where(GroupRow.name == name))):
                raise AccessError(f"group {name!r} exists already")
            session.add(GroupRow(name=name, created_at=self.now()))

    def remove_group(self, name: str) -> None:
        """The group, its memberships and its grants (its members keep their other groups' grants)."""
        with self._writing() as session:
            row = self._group_row(session, name)
            if row.personal_user_id is not None:
                raise AccessError(f"{name!r} is a personal group: it goes with its user "
                                  f"(`assistant users remove {name.removeprefix(PERSONAL_PREFIX)}`)")
            session.execute(delete(GrantRow).where(GrantRow.group_id == row.id))
            session.execute(delete(MembershipRow).where(MembershipRow.group_id == row.id))
            session.execute(delete(GroupRow).where(GroupRow.id == row.id))

    def add_member(self, group: str, user: str) -> None:
        with self._writing() as session:
            group_row = self._named_group_row(session, group)
            user_row = self._user_row(session, user)
            if session.get(MembershipRow, (user_row.id, group_row.id)) is None:
                session.add(MembershipRow(user_id=user_row.id, group_id=group_row.id, created_at=self.now()))

    def remove_member(self, group: str, user: str) -> None:
        with self._writing() as session:
            group_row = self._named_group_row(session, group)
            user_row = self._user_row(session, user)
            membership = session.get(MembershipRow, (user_row.id, group_row.id))
            if membership is None:
                raise AccessError(f"{user!r} is not a member of group {group!r}")
            session.delete(membership)

    def members(self, group: str) -> list[str]:
        with self._reading() as session:
            row = self._group_row(session, group)
            return list(session.scalars(
                select(UserRow.name).join(MembershipRow, MembershipRow.user_id == UserRow.id)
                .where(MembershipRow.group_id == row.id).order_by(UserRow.name)))

    def groups(self) -> list[GroupInfo]:
        """The named groups (personal ones left out) with their members and grants."""
        with self._reading() as session:
            rows = session.scalars(select(GroupRow).where(GroupRow.personal_user_id.is_(None))
                                   .order_by(GroupRow.name)).all()
            members: dict[int, list[str]] = {}
            for group_id, name in session.execute(
                    select(MembershipRow.group_id, UserRow.name).join(UserRow, UserRow.id == MembershipRow.user_id)
                    .order_by(UserRow.name)):
                members.setdefault(group_id, []).append(name)
            grants: dict[tuple[int, str], list[str]] = {}
            for group_id, mode, collection in session.execute(
                    select(GrantRow.group_id, GrantRow.mode, GrantRow.collection).order_by(GrantRow.collection)):
                grants.setdefault((group_id, mode), []).append(collection)
        return [GroupInfo(name=row.name, members=members.get(row.id, []), read=grants.get((row.id, "read"), []),
                          write=grants.get((row.id, "write"), [])) for row in rows]

    # ------------------------------------------------------------ grants
    def grant(self, collection: str, read_groups: Iterable[str] = (), write_groups: Iterable[str] = ()) -> None:
        """Let these groups read / write the collection ("*": every collection). Granting twice is harmless;
        a collection need not exist yet."""
        collection = _check_collection(collection)
        wanted = _grant_pairs(read_groups, write_groups)
        now = self.now()
        with self._writing() as session:
            for group, mode in wanted:
                group_id = self._group_row(session, group).id
                if session.get(GrantRow, (group_id, collection, mode)) is None:
                    session.add(GrantRow(group_id=group_id, collection=collection, mode=mode, created_at=now))

    def revoke(self, collection: str, read_groups: Iterable[str] = (), write_groups: Iterable[str] = ()) -> int:
        """Withdraw these grants; returns how many there were."""
        collection = _check_collection(collection)
        wanted = _grant_pairs(read_groups, write_groups)
        removed = 0
        with self._writing() as session:
            for group, mode in wanted:
                group_id = self._group_row(session, group).id
                removed += session.execute(delete(GrantRow).where(
                    GrantRow.group_id == group_id, GrantRow.collection == collection, GrantRow.mode == mode)).rowcount
        return removed

    def grants_on(self, collection: str) -> dict[str, list[str]]:
        """{"read": [group...], "write": [group...]} for this collection's own grants (not those on "*")."""
        found: dict[str, list[str]] = {mode: [] for mode in MODES}
        with self._reading() as session:
            for mode, group in session.execute(
                    select(GrantRow.mode, GroupRow.name).join(GroupRow, GroupRow.id == GrantRow.group_id)
                    .where(GrantRow.collection == collection).order_by(GroupRow.name)):
                found[mode].append(group)
        return found

    def readable(self, user: User | str, existing_collections: Iterable[str]) -> list[str]:
        """The collections among `existing_collections` this user may read (none when disabled or gone)."""
        return self._allowed(user, existing_collections, "read")

    def writable(self, user: User | str, existing_collections: Iterable[str]) -> list[str]:
        return self._allowed(user, existing_collections, "write")

    def _allowed(self, user: User | str, existing: Iterable[str], mode: str) -> list[str]:
        name = user.name if isinstance(user, User) else user
        existing = list(existing)
        with self._reading() as session:
            row = session.scalar(select(UserRow).where(UserRow.name == name))
            if row is None or row.disabled:
                return []
            if row.role == "admin":
                return existing
            granted = self._grants_by_user(session, row.id).get((row.id, mode), set())
        if ALL_COLLECTIONS in granted:
            return existing
        return [c for c in existing if c in granted]

    # ------------------------------------------------------------ logins
    def authenticate(self, name: str, password: str, client: str | None = None) -> User | None:
        """The user, when the password is theirs and they are enabled; else None. Raises ThrottledError
        (without checking the password) after too many failures for this name or from this client."""
        self.hasher.prepare()
        now = self.now()
        keys = [_account_key(name)] + ([_address_key(client)] if client else [])
        with self._reading() as session:
            wait = self._blocked_for(session, keys, now)
            row = session.scalar(select(UserRow).where(UserRow.name == name))
            found = None if row is None else (row.id, row.password_hash, row.role, row.disabled)
        if wait:
            raise ThrottledError(wait)
        if found is None:
            self.hasher.verify_nobody(password)
            self._record_failure(keys, now)
            return None
        user_id, stored, role, disabled = found
        if not self.hasher.verify(stored, password) or disabled:
            self._record_failure(keys, now)
            return None
        new_hash = self.hasher.hash(password) if self.hasher.needs_rehash(stored) else None
        with self._writing() as session:
            session.execute(delete(ThrottleRow).where(ThrottleRow.key == keys[0]))
            if new_hash is not None:  # only if no password change happened meanwhile
                session.execute(update(UserRow).where(UserRow.id == user_id, UserRow.password_hash == stored)
                                .values(password_hash=new_hash))
        return User(name=name, role=role)

    async def authenticate_async(self, name: str, password: str, client: str | None = None) -> User | None:
        """authenticate, with the hashing in a worker thread: an event loop must not stall on it."""
        return await asyncio.to_thread(self.authenticate, name, password, client)

    @staticmethod
    def _blocked_for(session: Session, keys: list[str], now: datetime) -> int:
        waits = [row.blocked_until - now for row in session.scalars(select(ThrottleRow).where(ThrottleRow.key.in_(keys)))
                 if row.blocked_until is not None and row.blocked_until > now]
        return math.ceil(max(waits).total_seconds()) if waits else 0

    def _record_failure(self, keys: list[str], now: datetime) -> None:
        for attempt in range(3):  # a server database has no BEGIN IMMEDIATE: two first failures may race
            try:
                with self._writing() as session:
                    for key in keys:
                        _count_failure(session, key, now)
                    session.execute(delete(ThrottleRow).where(ThrottleRow.last_failure_at < now - FAILURE_WINDOW - MAX_DELAY))
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    # ------------------------------------------------------------ sessions
    def create_session(self, user: User | str, client: str | None = None) -> str:
        """A new session for an enabled user; returns the token to hand to the browser."""
        name = user.name if isinstance(user, User) else user
        token = secrets.token_urlsafe(32)
        now = self.now()
        with self._writing() as session:
            row = self._user_row(session, name)
            if row.disabled:
                raise AccessError(f"user {name!r} is disabled: `assistant users enable {name}` lets them in again")
            session.execute(delete(SessionRow).where(
                (SessionRow.expires_at <= now) | (SessionRow.last_seen_at <= now - self.session_idle)))
            session.add(SessionRow(token_hash=_digest(token), user_id=row.id, generation=row.session_generation,
                                   created_at=now, last_seen_at=now, expires_at=now + self.session_lifetime,
                                   client=client[:255] if client else None))
        return token

    def session_user(self, token: str | None) -> User | None:
        """The user of a live session, or None: unknown token, idle or too old, user disabled, removed,
        or with a password changed since the session began."""
        if not token:
            return None
        now = self.now()
        digest = _digest(token)
        with self._reading() as session:
            found = session.execute(
                select(SessionRow.last_seen_at, SessionRow.expires_at, SessionRow.generation, UserRow.name,
                       UserRow.role, UserRow.disabled, UserRow.session_generation)
                .join(UserRow, UserRow.id == SessionRow.user_id).where(SessionRow.token_hash == digest)).first()
        if found is None:
            return None
        last_seen, expires, generation, name, role, disabled, current_generation = found
        if (disabled or generation != current_generation or now >= expires
                or now - last_seen >= self.session_idle):
            self.end_session(token)
            return None
        if now - last_seen >= TOUCH_EVERY:
            with self._writing() as session:
                session.execute(update(SessionRow).where(SessionRow.token_hash == digest).values(last_seen_at=now))
        return User(name=name, role=role)

    def end_session(self, token: str) -> None:
        with self._writing() as session:
            session.execute(delete(SessionRow).where(SessionRow.token_hash == _digest(token)))

    def end_sessions(self, user: User | str) -> int:
        """End every session of the user; returns how many there were."""
        name = user.name if isinstance(user, User) else user
        with self._writing() as session:
            row = self._user_row(session, name)
            return session.execute(delete(SessionRow).where(SessionRow.user_id == row.id)).rowcount

    # ------------------------------------------------------------ users.json
    def _import_legacy(self, path: Path) -> None:
        now = self.now()
        read_everything = []
        with self._writing() as session:  # under the write lock: a second process waits, then skips
            for old in legacy.read_users(path):
                if not _USER_NAME.match(old.name) or old.name in RESERVED_NAMES:
                    log.warning("user %r of %s cannot be kept (the name is not allowed now): add them again with "
                                "another name", old.name, path)
                    continue
                if session.scalar(select(exists().where(UserRow.name == old.name))):
                    continue
                collections = [c for c in old.collections if _COLLECTION_NAME.match(c)]
                self._insert_user(session, old.name, old.password_hash, "staff", collections, now)
                if old.read_everything:
                    read_everything.append(old.name)
        if legacy.retire(path) is None:
            return
        log.warning("moved the users of %s into the accounts database (the file is now %s.migrated)", path, path.name)
        for name in read_everything:
            log.warning("user %s could read every collection (the old default) and now reads none: grant what they "
                        "need with `assistant collections grant COLLECTION --read user:%s` "
                        "(or '*' for every collection)", name, name)


# ---------------------------------------------------------------- helpers
def _count_failure(session: Session, key: str, now: datetime) -> None:
    row = session.get(ThrottleRow, key)
    if row is None:
        row = ThrottleRow(key=key, failures=0, last_failure_at=now, blocked_until=None)
        session.add(row)
    else:
        quiet_since = max(row.last_failure_at, row.blocked_until or row.last_failure_at)
        if now - quiet_since > FAILURE_WINDOW:
            row.failures, row.blocked_until = 0, None
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= MAX_FAILURES:
        row.blocked_until = now + min(FIRST_DELAY * 2 ** (row.failures - MAX_FAILURES), MAX_DELAY)
    session.flush()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _account_key(name: str) -> str:
    return "account:" + name[:255]


def _address_key(client: str) -> str:
    return "address:" + client[:255]


def _check_user_name(name: str) -> None:
    if not _USER_NAME.match(name or ""):
        raise AccessError(f"invalid user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-'")
    if name in RESERVED_NAMES:
        raise AccessError(f"the user name {name!r} is reserved (the operator of a UI without logins): choose another")


def _check_group_name(name: str) -> None:
    if not _GROUP_NAME.match(name or ""):
        hint = " (names starting with 'user:' are the personal groups)" if (name or "").startswith(PERSONAL_PREFIX) else ""
        raise AccessError(f"invalid group name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-'{hint}")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")


def _check_collection(name: str) -> str:
    if name != ALL_COLLECTIONS and (not _COLLECTION_NAME.match(name or "") or ".." in name):
        raise AccessError(f"invalid collection name {name!r}: use 3-63 letters, digits, '.', '_' or '-', "
                          "or '*' for every collection")
    return name


def _grant_pairs(read_groups: Iterable[str], write_groups: Iterable[str]) -> list[tuple[str, str]]:
    pairs = [(g, "read") for g in dict.fromkeys(read_groups)] + [(g, "write") for g in dict.fromkeys(write_groups)]
    if not pairs:
        raise AccessError("name at least one group to read (--read GROUP) or to write (--write GROUP)")
    return pairs
