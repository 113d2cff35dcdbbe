"""Cross-language retrieval: the English MiniLM, alone and with the question's translation (what
the assistant did up to 2026-12-03), against the multilingual e5 (`embedding_model =
"multilingual-e5-small"`), alone and with the translation, through the assistant's own fused
(dense + BM25) retriever, on the French gold set, the seeds' cross-language set and the dev set.

For each embedder and question set it prints recall@5 and MRR of the gold file among the
retrieved passages, split into same-language questions (question and document in one language)
and cross-language ones; the best passage's cosine similarity for answerable and unanswerable
questions (what the evidence thresholds are set from); and each embedder's ingest speed on the
same documents, measured in the same run.

    .venv/bin/python bench/language_bench.py [--sets fr-handbook seeds dev] [--no-translation]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import assistant  # noqa: E402,F401  (offline guards first)

SETS = {
    "fr-handbook": (ROOT.parent / "shared" / "corpora" / "fr-handbook", ROOT / "bench" / "gold" / "fr-handbook.jsonl"),
    "seeds": (ROOT / "seeds", ROOT / "bench" / "gold" / "seeds-cross-language.jsonl"),
    "dev": (ROOT.parent / "shared" / "eval" / "dev" / "corpus", ROOT.parent / "shared" / "eval" / "dev" / "questions.jsonl"),
}
EMBEDDERS = ("all-minilm-l6-v2", "multilingual-e5-small")
K = 5


def rank_of(passages, gold: set[str]) -> int | None:
    return next((i + 1 for i, p in enumerate(passages) if Path(p.source).name in gold), None)


def scores(found: list[int | None]) -> str:
    if not found:
        return "n=0"
    recall = sum(1 for r in found if r is not None and r <= K) / len(found)
    mrr = statistics.mean(1 / r if r else 0.0 for r in found)
    return f"n={len(found):2d} recall@{K}={recall:.2f} mrr={mrr:.2f}"


def quantiles(values: list[float]) -> str:
    if not values:
        return "n=0"
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, round(q * (len(values) - 1)))]  # noqa: E731
    return f"n={len(values):2d} min={values[0]:.3f} p10={pick(0.1):.3f} p50={pick(0.5):.3f} max={values[-1]:.3f}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--embedders", nargs="+", default=list(EMBEDDERS), choices=list(EMBEDDERS))
    parser.add_argument("--no-translation", action="store_true", help="skip the arms with a translation (no LLM needed)")
    args = parser.parse_args(argv)

    from assistant.language import detect_language
    from assistant.settings import load_settings
    from ingest.service import IngestService, throwaway_home

    translations: dict[str, list[str]] = {}  # question -> its translations, asked once for both embedders
    for embedder in args.embedders:
        settings = load_settings().model_copy(update={"embedding_model": embedder})
        with throwaway_home(settings) as components:
            components.embedder.embed(["warm-up"])
            for name in args.sets:
                corpus, gold_path = SETS[name]
                if not corpus.is_dir():
                    print(f"{name}: no corpus at {corpus}, skipped")
                    continue
                start = time.perf_counter()
                IngestService(components).ingest([corpus], name)
                ingest_s = time.perf_counter() - start
                got = components.store.chroma_collection(name).get(include=["documents", "metadatas"])
                files = [Path(str(m.get("source", ""))).name for m in got["metadatas"]]
                language_of = {f: detect_language(" ".join(t for t, g in zip(got["documents"], files) if g == f)[:4000])
                               for f in set(files)}
                questions = [json.loads(line) for line in gold_path.open(encoding="utf-8") if line.strip()]
                found: dict[tuple[str, str], list[int | None]] = {}
                best: dict[str, list[float]] = {}
                start = time.perf_counter()
                for q in questions:
                    language = q.get("lang") or detect_language(q["question"])
                    gold = {Path(s).name for s in q.get("sources", [])}
                    passages = components.retriever.search(q["question"], [name], K)
                    answerable = bool(gold) and q.get("kind") != "unanswerable"
                    best.setdefault("answerable" if answerable else "unanswerable", []).append(
                        max((p.similarity for p in passages), default=-1.0))
                    if not answerable:
                        continue
                    group = "cross" if any(language_of.get(g) not in (None, language) for g in gold) else "same"
                    found.setdefault((embedder, group), []).append(rank_of(passages, gold))
                    if not args.no_translation:
                        if q["question"] not in translations:
                            translations[q["question"]] = components.answerer.translations(q["question"], language, [name])
                        alternatives = translations[q["question"]]
                        translated = components.retriever.search(q["question"], [name], K, alternatives)
                        found.setdefault((f"{embedder}+translation", group), []).append(rank_of(translated, gold))
                search_s = time.perf_counter() - start
                print(f"{name} with {embedder}: {len(got['ids'])} chunks, ingest {ingest_s:.1f} s "
                      f"({len(got['ids']) / ingest_s:.1f} chunks/s), {len(questions)} questions searched in {search_s:.1f} s")
                for (arm, group), values in sorted(found.items()):
                    print(f"  {arm:36} {group:5} {scores(values)}")
                for arm in sorted({a for a, _ in found}):
                    both = found.get((arm, "same"), []) + found.get((arm, "cross"), [])
                    print(f"  {arm:36} all   {scores(both)}")
                for kind, values in sorted(best.items()):
                    print(f"  best similarity, {kind:12} {quantiles(values)}")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
