"""Builds the parts from one Settings, each on first use, so a command pays only for what it uses
(`search` never loads the language model; a refusal never waits for it). Each part is made by the
small factory of its own module; this is the only place that wires them together."""
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
        from assistant.retrieval import build_retriever

        return build_retriever(self.settings, self.store, self.embedder)

    @cached_property
    def chat_model(self):
        from assistant.llm import build_chat_model

        return build_chat_model(self.settings)

    @cached_property
    def answerer(self):
        from assistant.answer import Answerer
        from assistant.models import judges_answerability

        mode = self.settings.check_rare_terms
        return Answerer(self.settings, self.retriever, self.store.keywords, self.store.languages, self.embedder,
                        lambda: self.chat_model,
                        checks_rare_terms=mode == "on" or (mode == "auto" and judges_answerability(self.settings)))

    @cached_property
    def accounts_database(self):
        from assistant.accounts import open_database

        return open_database(self.settings)

    @cached_property
    def accounts(self):
        from assistant.accounts import build_accounts

        return build_accounts(self.settings, self.accounts_database)

    @cached_property
    def audit(self):
        from assistant.accounts import build_audit

        return build_audit(self.settings, self.accounts_database)

    @cached_property
    def conversations(self):
        from assistant.accounts import Conversations

        return Conversations(self.accounts_database)

    @cached_property
    def api_tokens(self):
        from assistant.accounts import ApiTokens

        return ApiTokens(self.accounts_database)
