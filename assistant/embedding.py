"""Text embeddings from a packaged sentence-transformers model, on the CPU."""
from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import Sequence

from assistant.models import embedding_path
from assistant.settings import Settings

log = logging.getLogger(__name__)


class Embedder:
    """Turns texts into unit vectors (cosine similarity = dot product)."""

    def __init__(self, model_path: Path, batch_size: int = 32, threads: int | None = None):
        self.model_path = model_path
        self.batch_size = batch_size
        self.threads = threads

    @cached_property
    def _model(self):
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # Length warnings come from counting tokens of whole sections, which is intended; the
        # weight-loading bar is noise on every command.
        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()

        if self.threads:
            torch.set_num_threads(self.threads)
        return SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer.tokenize(text))

    def tokenize(self, text: str) -> list[str]:
        return self._model.tokenizer.tokenize(text)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


def build_embedder(settings: Settings) -> Embedder:
    return Embedder(embedding_path(settings), batch_size=settings.embedding_batch_size, threads=settings.llm_threads)
