"""Text embeddings from a packaged sentence-transformers model, on the CPU.

Speed choices, each measured on the 2-core machine (bench/DECISIONS.md, 2026-11-28):
- bfloat16 weights where the CPU computes bfloat16 natively (AVX512-BF16 or AMX): about 1.7x the
  float32 throughput; pooling and normalisation stay in float32, so the vectors keep a cosine of
  >= 0.9999 to the float32 ones. Elsewhere bfloat16 would be emulated and slow: float32.
- Small batches (8): sentence-transformers sorts texts by length, and small batches pad less;
  3-14% faster than 32 in probes, about even in a whole ingest, and 185-365 MB less peak RSS.
- Bulk work on every core, a handful of short texts on one: a thread pool costs more than it
  brings on a single query, and far more when another program holds the cores.
- OpenMP threads that sleep instead of spin while they wait: with the default (spin), two torch
  threads on a busy machine ran 3x slower than one; sleeping costs ~5% on an idle machine.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, Literal, Sequence

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import Field, PrivateAttr

from assistant.models import PACKAGED_ENGINE_EMBEDDERS, embedding_path
from assistant.settings import Settings

log = logging.getLogger(__name__)

Precision = Literal["auto", "float32", "bfloat16"]

# Below this many characters in one call, one thread: a question (~30-70 characters) took 8.5 ms
# on one thread and 11.5 ms on two, idle; ten sentences (~1,700 characters) 170 ms and 107 ms.
_BULK_CHARS = 1000


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 matrix products in hardware."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def _import_torch():
    """torch, with OpenMP threads that sleep while waiting, unless the user chose otherwise.

    libgomp reads OMP_WAIT_POLICY once, when it is loaded with torch; if torch was imported
    earlier (by another library) the policy already in force stays."""
    if "torch" not in sys.modules and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    import torch

    return torch


class Embedder(BaseEmbedding):
    """Turns texts into unit vectors (cosine similarity = dot product): a llama-index embedding,
    so any llama-index component can use it; `embed` is the batch call ingest uses directly."""

    model_path: Path
    threads: int = Field(default_factory=available_cpus, description="for bulk embedding; short calls use one")
    precision: Precision = "auto"
    _loaded: Any = PrivateAttr(default=None)
    # One load at a time, and no embedding during it: transformers sets torch's process-wide
    # default dtype while it loads in bfloat16, so a question embedded meanwhile in another thread
    # (the API's, while the start-up loader loads) got bfloat16 tensors beside float32 weights.
    _loading: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, model_path: Path, batch_size: int = 8, threads: int | None = None,
                 precision: Precision = "auto"):
        super().__init__(model_name=Path(model_path).name, model_path=Path(model_path), embed_batch_size=batch_size,
                         precision=precision, **({"threads": threads} if threads else {}))

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerCPUEmbedding"

    @property
    def batch_size(self) -> int:
        return self.embed_batch_size

    @property
    def _model(self):
        if self._loaded is None:
            with self._loading:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self):
        torch = _import_torch()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # Length warnings come from counting tokens of whole sections, which is intended; the
        # weight-loading bar is noise on every command.
        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()

        dtype = torch.float32
        if self.precision == "bfloat16" or (self.precision == "auto" and native_bfloat16()):
            dtype = torch.bfloat16
        model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True,
                                    model_kwargs={"torch_dtype": dtype})
        if dtype != torch.float32:
            # Mean pooling sums up to 256 token vectors: in bfloat16 that loses ~3 digits.
            model[0].register_forward_hook(_token_embeddings_to_float32)
        log.debug("embedding model loaded: %s, %s, up to %d threads", self.model_path.name, dtype, self.threads)
        return model

    @property
    def dtype(self) -> str:
        return str(self._model[0].auto_model.dtype).removeprefix("torch.")

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
        model = self._model  # first: it imports torch with the wait policy set
        import torch

        bulk = sum(map(len, texts)) >= _BULK_CHARS
        torch.set_num_threads(self.threads if bulk else 1)
        vectors = model.encode(list(texts), batch_size=self.embed_batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Questions: MiniLM embeds them as it embeds passages (e5 does not, assistant.embedding_e5)."""
        return self.embed(texts)

    # llama-index's interface, on the same measured call.
    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts)


def _token_embeddings_to_float32(module, args, features):
    features["token_embeddings"] = features["token_embeddings"].float()
    return features


def build_embedder(settings: Settings) -> BaseEmbedding:
    """The embedder the settings name: a packaged sentence-transformers model or folder (this
    module), or multilingual e5 in its own engine (assistant.embedding_e5)."""
    if settings.embedding_model in PACKAGED_ENGINE_EMBEDDERS:
        from assistant.embedding_e5 import build_multilingual_e5

        return build_multilingual_e5(settings)
    return Embedder(embedding_path(settings), batch_size=settings.embedding_batch_size)
