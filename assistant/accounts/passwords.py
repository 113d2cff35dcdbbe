"""Password hashing (argon2id) and the password policy.

argon2-cffi's defaults (RFC 9106's second recommendation: 3 passes over 64 MiB, 4 lanes) are kept:
a verify costs tens of milliseconds of one core, which is what makes a stolen accounts database slow
to guess from, and why the web app verifies off its event loop (`Accounts.authenticate_async`).
PBKDF2 hashes from the old users.json are accepted at one login and replaced by argon2id then.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from assistant.errors import AccessError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing a megabyte-long "password" is a denial of service, not a password
LEGACY_PREFIX = "pbkdf2_sha256$"
_EDGES = string.digits + string.punctuation + string.whitespace


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("assistant.accounts").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_policy(password: str, user_name: str = "") -> None:
    """Raise AccessError, saying what to do, unless the password is long, uncommon and not the name."""
    if len(password) < MIN_LENGTH:
        raise AccessError(f"the password must have at least {MIN_LENGTH} characters: choose a longer one "
                          "(a few unrelated words make a good one)")
    if len(password) > MAX_LENGTH:
        raise AccessError(f"the password must have at most {MAX_LENGTH} characters: choose a shorter one")
    lowered = password.lower()
    core = lowered.strip(_EDGES)
    common = common_passwords()
    if lowered in common or core in common or lowered.replace(" ", "") in common:
        raise AccessError("this password is one of the most common ones (or one with digits added): choose another")
    if len(set(lowered)) < 5:
        raise AccessError("the password repeats too few characters: choose one with more variety")
    name = user_name.lower()
    if len(name) >= 3 and name in lowered:
        raise AccessError("the password must not contain the user name: choose another")


class Hasher:
    """argon2id for new hashes; verifies those and the legacy PBKDF2 ones. `argon2` is the
    argon2-cffi PasswordHasher (tests count its verify calls)."""

    def __init__(self, argon2: PasswordHasher | None = None):
        self.argon2 = argon2 or PasswordHasher()
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self.argon2.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        if stored.startswith(LEGACY_PREFIX):
            return _verify_pbkdf2(stored, password)
        try:
            return self.argon2.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def prepare(self) -> None:
        """Make the stand-in hash verify_nobody checks against; called before every login, so that
        the first one does not take longer for an unknown name (making it costs a hash)."""
        if self._dummy is None:
            self._dummy = self.argon2.hash(secrets.token_urlsafe(16))

    def verify_nobody(self, password: str) -> None:
        """The work of a verify for a name that has no account, so the time taken tells nothing."""
        self.prepare()
        self.verify(self._dummy, password)

    def needs_rehash(self, stored: str) -> bool:
        if stored.startswith(LEGACY_PREFIX):
            return True
        try:
            return self.argon2.check_needs_rehash(stored)
        except InvalidHashError:
            return True


def _verify_pbkdf2(stored: str, password: str) -> bool:
    """The old users.json format: pbkdf2_sha256$ITERATIONS$SALT_HEX$DIGEST_HEX."""
    try:
        _, iterations, salt_hex, digest_hex = stored.split("$")
        digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes.fromhex(salt_hex), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)
