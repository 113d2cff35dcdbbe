"""Accounts in a database: users, groups, grants on collections, sessions and login throttling, and
the audit trail (audit.py), users' conversations (conversations.py) and their API tokens (tokens.py).

SQLite at ASSISTANT_HOME/accounts.sqlite unless `accounts_url` names another database; the schema
is made and upgraded by the Alembic migrations in migrations/, at open. service.py says how access
is granted; passwords.py how passwords are hashed and which are refused.
"""
from __future__ import annotations

from datetime import timedelta

from assistant.accounts.audit import OPERATOR, Audit, AuditEvent, AuditKind, QuestionOutcome, passages_shown
from assistant.accounts.conversations import Conversation, ConversationNotFound, Conversations, StoredTurn
from assistant.accounts.database import Database
from assistant.accounts.models import ALL_COLLECTIONS
from assistant.accounts.service import Accounts, GroupInfo, ThrottledError, User, UserInfo, personal_group
from assistant.accounts.tokens import ApiToken, ApiTokens, TokenNotFound
from assistant.settings import Settings

__all__ = ["ALL_COLLECTIONS", "OPERATOR", "Accounts", "ApiToken", "ApiTokens", "Audit", "AuditEvent", "AuditKind",
           "Conversation", "ConversationNotFound", "Conversations", "Database", "GroupInfo", "StoredTurn",
           "QuestionOutcome", "ThrottledError", "TokenNotFound", "User", "UserInfo", "build_accounts", "build_audit",
           "open_database", "passages_shown", "personal_group"]


def open_database(settings: Settings) -> Database:
    return Database(settings.accounts_url.get_secret_value() or f"sqlite:///{settings.accounts_path}")


def build_audit(settings: Settings, database: Database) -> Audit:
    return Audit(database, retention_days=settings.audit_retention_days)


def build_accounts(settings: Settings, database: Database | None = None) -> Accounts:
    return Accounts(database or open_database(settings), legacy_users=settings.users_path,
                    session_idle=timedelta(minutes=settings.session_idle_minutes),
                    session_lifetime=timedelta(minutes=settings.session_lifetime_minutes))
