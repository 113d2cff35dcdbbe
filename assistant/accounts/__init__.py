"""Accounts in a database: users, groups, grants on collections, sessions and login throttling.

SQLite at ASSISTANT_HOME/accounts.sqlite unless `accounts_url` names another database; the schema
is made and upgraded by the Alembic migrations in migrations/, at open. service.py says how access
is granted; passwords.py how passwords are hashed and which are refused.
"""
from __future__ import annotations

from datetime import timedelta

from assistant.accounts.models import ALL_COLLECTIONS
from assistant.accounts.service import Accounts, GroupInfo, ThrottledError, User, UserInfo, personal_group
from assistant.settings import Settings

__all__ = ["ALL_COLLECTIONS", "Accounts", "GroupInfo", "ThrottledError", "User", "UserInfo", "build_accounts",
           "personal_group"]


def build_accounts(settings: Settings) -> Accounts:
    return Accounts(settings.accounts_url.get_secret_value() or f"sqlite:///{settings.accounts_path}", legacy_users=settings.users_path,
                    session_idle=timedelta(minutes=settings.session_idle_minutes),
                    session_lifetime=timedelta(minutes=settings.session_lifetime_minutes))
