"""Private document-chat assistant: the core (settings, models, store, retrieval, answers)."""
from assistant import offline as _offline  # noqa: F401  (must run before any heavy import)

__version__ = "0.1.0"
