"""Builds the parts from one Settings, each on first use, so a command pays only for what it uses
(`search` never loads the language model; a refusal never waits for it)."""
from __future__ import annotations

from functools import cached_property

from assistant.settings import Settings


class Components:
    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def store(self):
        from assistant.store import build_store

        return build_store(self.settings)

    @cached_property
    def embedder(self):
        from assistant.embedding import build_embedder

        return build_embedder(self.settings)

    @cached_property
    def retriever(self):
        from assistant.retrieval import RetrievalConfig, Retriever

        return Retriever(self.store, self.embedder, RetrievalConfig(
            hybrid=self.settings.hybrid_search, candidates=self.settings.retrieval_candidates,
            keyword_weight=self.settings.keyword_weight, max_per_source=self.settings.max_passages_per_file))

    @cached_property
    def chat_model(self):
        from assistant.llm import build_chat_model

        return build_chat_model(self.settings)

    @cached_property
    def answerer(self):
        from assistant.answer import Answerer

        return Answerer(self.settings, self.retriever, lambda: self.chat_model)

    @cached_property
    def users(self):
        from assistant.access import UserDirectory

        return UserDirectory(self.settings.users_path)
