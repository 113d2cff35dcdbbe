"""The errors a user can cause or fix, under one base: a face prints the message as one line and
exits with the status the class carries. Anything else is a bug and is allowed to raise."""
from __future__ import annotations


class AssistantError(Exception):
    """Something the user can fix; the message says what to do."""

    exit_status = 2


class UsageError(AssistantError):
    """A command, argument or request that cannot be carried out as given."""


class SettingsError(AssistantError, ValueError):
    """A settings file or variable the user wrote is wrong; the message says which and why."""


class StoreError(AssistantError, RuntimeError):
    """A store problem the user can fix (unknown collection, bad name, server down)."""


class CollectionNotFound(StoreError):
    pass


class AccessError(AssistantError, ValueError):
    """A user-management request that cannot be done; the message says why."""


class EvaluationError(AssistantError, ValueError):
    """A gold questions file cannot be used; the message says where."""


class ModelError(AssistantError, RuntimeError):
    """A model is missing, incomplete or corrupt; the message says how to fix it."""

    exit_status = 3


class LLMError(AssistantError, RuntimeError):
    """The model could not be loaded or reached; the message says what to do."""

    exit_status = 3
