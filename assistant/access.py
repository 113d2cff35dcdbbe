"""Who may log in, and which collections each user may read.

Users live in ASSISTANT_HOME/users.json with salted PBKDF2 password hashes. A user's `collections`
is the list they may read ("*" for all); retrieval is handed only that list, so a collection a
user may not read is never queried on their behalf.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from assistant.errors import AccessError

_ITERATIONS = 200_000
_USER_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
ALL = "*"


@dataclass
class User:
    name: str
    collections: list[str] = field(default_factory=lambda: [ALL])

    def readable(self, existing: Iterable[str]) -> list[str]:
        """The collections among `existing` this user may read."""
        existing = list(existing)
        if ALL in self.collections:
            return existing
        return [c for c in existing if c in self.collections]


# The operator at the terminal (CLI) and the single user of a UI bound to 127.0.0.1 without logins.
LOCAL_ADMIN = User(name="local", collections=[ALL])


def _hash(password: str, salt: bytes) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, _ITERATIONS)
    return f"pbkdf2_sha256${_ITERATIONS}${salt.hex()}${digest.hex()}"


def _check(password: str, stored: str) -> bool:
    try:
        _, iterations, salt_hex, digest_hex = stored.split("$")
        digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes.fromhex(salt_hex), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


class UserDirectory:
    def __init__(self, path: Path):
        self.path = path

    def _load(self) -> dict:
        if not self.path.is_file():
            return {}
        try:
            return json.loads(self.path.read_text("utf-8")).get("users", {})
        except (OSError, ValueError) as e:
            raise AccessError(f"cannot read the user file {self.path}: {e}") from e

    def _save(self, users: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"users": users}, f, indent=2, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def names(self) -> list[str]:
        return sorted(self._load())

    def has_users(self) -> bool:
        return bool(self._load())

    def add(self, name: str, password: str, collections: list[str] | None = None) -> None:
        if not _USER_NAME.match(name):
            raise AccessError(f"invalid user name {name!r}: use letters, digits, '.', '_', '@' or '-'")
        if len(password) < 8:
            raise AccessError("the password must have at least 8 characters")
        users = self._load()
        users[name] = {"password": _hash(password, secrets.token_bytes(16)), "collections": collections or [ALL]}
        self._save(users)

    def remove(self, name: str) -> None:
        users = self._load()
        if name not in users:
            raise AccessError(f"no user named {name!r}")
        del users[name]
        self._save(users)

    def get(self, name: str) -> User | None:
        entry = self._load().get(name)
        return User(name=name, collections=list(entry.get("collections", [ALL]))) if entry else None

    def authenticate(self, name: str, password: str) -> bool:
        entry = self._load().get(name)
        return bool(entry) and _check(password, entry.get("password", ""))
