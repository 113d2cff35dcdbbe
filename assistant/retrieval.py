"""Finds the passages that answer a query, in the collections a user may read and no others.

Dense search (Chroma) and keyword search (BM25) each rank candidates; reciprocal rank fusion
merges the rankings without having to compare their incomparable scores. Several phrasings of
one question (the question and its translation) are fused the same way.

The retriever is a llama-index `BaseRetriever` returning `Passage` nodes (NodeWithScore), so a
query engine or postprocessor of llama-index can sit on it. What stays ours, and why
(bench/DECISIONS.md): `QueryFusionRetriever` has no per-file cap, no keep-each-ranking's-first
rule and no weighted RRF, which took recall@5 on the dev set from 0.91 (dense) to 1.00.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from assistant.embedding import Embedder
from assistant.passage import Passage
from assistant.settings import Settings
from assistant.store import Store
from assistant.text import STOPWORDS, with_equivalent_forms

_KEYWORD_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="keyword-search")


@dataclass
class RetrievalConfig:
    hybrid: bool = True
    candidates: int = 40  # per ranking, before fusion
    rrf_k: int = 60  # the usual RRF constant: damps the weight of the very first ranks
    keyword_weight: float = 0.75
    max_per_source: int = 2  # at most this many passages of one file in the results (0: no limit)


class HybridRetriever(BaseRetriever):
    """Dense + keyword search over named collections, fused.

    `search` is the call that takes the access boundary with each question; as a llama-index
    retriever (`retrieve(query)`) it searches the collections it was scoped to
    (`scoped(collections, top_k)`), and a QueryBundle's `custom_embedding_strs` are the
    phrasings searched."""

    def __init__(self, store: Store, embedder: Embedder, config: RetrievalConfig | None = None,
                 collections: Sequence[str] = (), top_k: int = 5):
        super().__init__()
        self.store = store
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.collections = list(collections)
        self.top_k = top_k

    def scoped(self, collections: Sequence[str], top_k: int | None = None) -> HybridRetriever:
        return HybridRetriever(self.store, self.embedder, self.config, collections, top_k or self.top_k)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        alternatives = [q for q in query_bundle.custom_embedding_strs or () if q != query_bundle.query_str]
        return list(self.search(query_bundle.query_str, self.collections, self.top_k, alternatives))

    def search(self, query: str, collections: Sequence[str], k: int, alternatives: Sequence[str] = ()) -> list[Passage]:
        """Top-k passages over the given collections, best first.

        `collections` is the access boundary: callers pass only what the user may read, and
        nothing outside it is ever queried. `alternatives` are other phrasings of the query
        (a translation), searched too and fused.
        """
        queries = [q for q in dict.fromkeys([query, *alternatives]) if q.strip()]
        if not queries or not collections:
            return []
        names = list(dict.fromkeys(collections))
        # BM25 needs no vector: it runs in a thread while the query is embedded and searched by
        # meaning (SQLite, torch and Chroma all release the GIL), ~20 ms off each search at
        # 100,000 chunks (bench/DECISIONS.md, 2026-12-03).
        keyword = {(name, text): _KEYWORD_THREADS.submit(self.store.keyword_query, name, with_equivalent_forms(text),
                                                         self.config.candidates, STOPWORDS)
                   for name in names for text in queries} if self.config.hybrid else {}
        try:
            vectors = self.embedder.embed_queries(queries)
            dense = {(name, text): self.store.query(name, vector, self.config.candidates)
                     for name in names for text, vector in zip(queries, vectors)}
        finally:
            keyword_rankings = {key: future.result() for key, future in keyword.items()}
        rankings: list[tuple[float, list[Passage]]] = []
        for name in names:
            for text in queries:
                rankings.append((1.0, dense[name, text]))
                if self.config.hybrid:
                    rankings.append((self.config.keyword_weight, keyword_rankings[name, text]))
        fused = self._fuse(rankings)
        chosen = self._keep_firsts(self._diversify(fused, k), fused, rankings, k)
        self._measure_similarity(chosen, vectors)
        return chosen

    def section_neighbours(self, passages: Sequence[Passage]) -> list[Passage]:
        """The chunks next to each passage in the same section of its file (Store.section_neighbours),
        from the passages' own collections only: what was searched within the access boundary."""
        by_collection: dict[str, list[Passage]] = {}
        for passage in passages:
            by_collection.setdefault(passage.collection, []).append(passage)
        return [n for name, group in by_collection.items() for n in self.store.section_neighbours(name, group)]

    @staticmethod
    def _keep_firsts(chosen: list[Passage], fused: list[Passage], rankings: list[tuple[float, list[Passage]]],
                     k: int) -> list[Passage]:
        """Fusion can bury what one ranking is surest of (BM25's first hit, ranked 24th by meaning,
        falls behind passages both rank fairly): each ranking's first hit keeps a place, in place
        of the lowest-ranked others."""
        firsts = {r[0].key for _, r in rankings if r}
        present = {p.key for p in chosen}
        missing = [p for p in fused if p.key in firsts and p.key not in present]
        if not missing:
            return chosen
        kept = [p for p in chosen if p.key in firsts]
        others = [p for p in chosen if p.key not in firsts][:max(0, k - len(kept) - len(missing))]
        order = {p.key: i for i, p in enumerate(fused)}
        return sorted(kept + others + missing, key=lambda p: order[p.key])[:k]

    def _diversify(self, passages: list[Passage], k: int) -> list[Passage]:
        """Keep the ranking, but let no single file fill the results: a question about two
        documents needs both in view."""
        limit = self.config.max_per_source
        if not limit:
            return passages[:k]
        chosen, per_source = [], {}
        for passage in passages:
            if per_source.get(passage.source, 0) < limit:
                chosen.append(passage)
                per_source[passage.source] = per_source.get(passage.source, 0) + 1
                if len(chosen) == k:
                    break
        return chosen

    def _fuse(self, rankings: list[tuple[float, list[Passage]]]) -> list[Passage]:
        if len(rankings) == 1:
            return list(rankings[0][1])
        scores: dict[tuple[str, str], float] = {}
        best: dict[tuple[str, str], Passage] = {}
        for weight, ranking in rankings:
            for rank, passage in enumerate(ranking):
                key = passage.key
                scores[key] = scores.get(key, 0.0) + weight / (self.config.rrf_k + rank + 1)
                if key not in best or passage.similarity > best[key].similarity:
                    best[key] = passage
        ordered = sorted(scores, key=lambda key: scores[key], reverse=True)
        result = []
        for key in ordered:
            passage = best[key]
            passage.score = scores[key]
            result.append(passage)
        return result

    def _measure_similarity(self, passages: list[Passage], vectors: list[list[float]]) -> None:
        """Cosine similarity to the closest phrasing, for every passage (keyword hits have none yet)."""
        import numpy as np

        by_collection: dict[str, list[Passage]] = {}
        for passage in passages:
            by_collection.setdefault(passage.collection, []).append(passage)
        queries = np.asarray(vectors, dtype=np.float32)
        for name, group in by_collection.items():
            stored = self.store.embeddings(name, [p.chunk_id for p in group])
            for passage in group:
                if passage.chunk_id in stored:
                    passage.similarity = float(np.max(queries @ np.asarray(stored[passage.chunk_id], dtype=np.float32)))


def build_retriever(settings: Settings, store: Store, embedder: Embedder) -> HybridRetriever:
    return HybridRetriever(store, embedder, RetrievalConfig(
        hybrid=settings.hybrid_search, candidates=settings.retrieval_candidates,
        keyword_weight=settings.keyword_weight, max_per_source=settings.max_passages_per_file),
        top_k=settings.top_k)
