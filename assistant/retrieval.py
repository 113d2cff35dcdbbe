"""Finds the passages that answer a query, in the collections a user may read and no others."""
from __future__ import annotations

from typing import Sequence

from assistant.embedding import Embedder
from assistant.store import Passage, Store


class Retriever:
    def __init__(self, store: Store, embedder: Embedder):
        self.store = store
        self.embedder = embedder

    def search(self, query: str, collections: Sequence[str], k: int) -> list[Passage]:
        """Top-k passages over the given collections, best first.

        `collections` is the access boundary: callers pass only what the user may read, and
        nothing outside it is ever queried.
        """
        if not query.strip() or not collections:
            return []
        vector = self.embedder.embed_query(query)
        passages: list[Passage] = []
        for name in dict.fromkeys(collections):
            passages.extend(self.store.query(name, vector, k))
        passages.sort(key=lambda p: p.score, reverse=True)
        return passages[:k]
