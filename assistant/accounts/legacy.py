"""Reading the users.json of assistant/access.py, once, into the accounts database.

Each user keeps their PBKDF2 hash (accepted at their next login, then replaced by argon2id) and
gets read grants on the collections listed for them. A user whose list was "*", the old default
when `--collections` was omitted, gets no grant at all: nobody can tell now whether "every
collection" was meant, and company documents must reach only the people allowed to read them. A
warning names each such user and the command that gives access back. The file is then renamed
users.json.migrated (owner-only), so the import happens once.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import AccessError

log = logging.getLogger(__name__)

OLD_ALL = "*"


@dataclass
class LegacyUser:
    name: str
    password_hash: str
    collections: list[str] = field(default_factory=list)
    read_everything: bool = False


def read_users(path: Path) -> list[LegacyUser]:
    try:
        entries = json.loads(path.read_text("utf-8")).get("users", {})
    except FileNotFoundError:
        return []
    except (OSError, ValueError, AttributeError) as e:
        raise AccessError(f"cannot read the old user file {path}: {e}; fix or remove it") from e
    users = []
    for name, entry in sorted(entries.items()):
        collections = list(entry.get("collections") or [OLD_ALL])
        users.append(LegacyUser(name=name, password_hash=str(entry.get("password", "")),
                                collections=[c for c in collections if c != OLD_ALL],
                                read_everything=OLD_ALL in collections))
    return users


def retire(path: Path) -> Path | None:
    """Rename users.json to users.json.migrated (owner-only); None when another process already did."""
    target = path.with_name(path.name + ".migrated")
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return None
    os.chmod(target, 0o600)
    return target
