"""Where chunks live: Chroma (embedded or a server) for vectors and text, and a keyword index
(SQLite FTS5) written in step with it. Rows come back as `Passage` nodes (assistant.passage)."""
from assistant.errors import CollectionNotFound, StoreError
from assistant.store.chroma import Store, build_store, check_collection_name
from assistant.store.keywords import KeywordIndex

__all__ = ["CollectionNotFound", "KeywordIndex", "Store", "StoreError", "build_store", "check_collection_name"]
