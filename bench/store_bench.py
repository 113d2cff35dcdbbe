"""The store at the seam: our `Store` or llama-index's `ChromaVectorStore`, on the same nodes.

Builds N (default 5,000) llama-index TextNodes of realistic text: windows of 150-200 words over
the prose paragraphs of the 18F handbook's Markdown files (../shared/corpora/18f-handbook; it
holds fewer words than 5,000 windows need, so later passes start the windows at other offsets
and name other files: every id differs, a few texts repeat, as in real folders), with the
metadata our ingest writes (`assistant.passage.chunk_metadata`, ids as `ingest.pipeline.chunk_id`
makes them) and random unit vectors of 384 dimensions (numpy, fixed seed: embedding cost is not
what is measured).
Each store then runs in a process of its own, on a fresh temporary folder, with the same nodes
and the same query vectors, and the table prints:

  ours          `Store.upsert` as ingest calls it (built by `build_store`, embedded Chroma, cosine):
                Chroma upsert plus the SQLite FTS5 keyword index, which llama-index's store lacks
  ours, no kw   the same Chroma upsert call `Store.upsert` makes, without `self.keywords.upsert`:
                the like-for-like comparison with the next line
  llama-index   `ChromaVectorStore(chroma_collection=...).add(nodes)` on a fresh PersistentClient
                collection with cosine space (it stores each node's JSON in "_node_content")

with, for each: write throughput (nodes/s) for all N in batches of 128 (our pipeline writes about
128 chunks at a time); bytes on disk after the process has ended (du of the Chroma folder, plus
the keyword index files for "ours"); query latency p50/p95 over 200 random unit vectors, k=40
(our retrieval asks 40 candidates) after 5 warm-up queries, each including the results turned
into nodes (`Store.query` -> Passages; `vector_store.query(VectorStoreQuery(...))` -> nodes);
and the peak RSS over the write and the queries, less the RSS before the first write (data
already loaded). A sanity check per store queries with a stored node's own vector and expects
that node first. Figures depend on what else runs on the machine: the load average is printed.

    .venv/bin/python bench/store_bench.py [--corpus DIR] [--nodes N] [--batch B] [--queries Q]
                                          [--k K] [--dims D] [--seed S]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import assistant  # noqa: E402,F401  (offline guards first)

SHARED_CORPUS = ROOT.parent / "shared" / "corpora" / "18f-handbook"
COLLECTION = "bench"
KINDS = ("ours", "ours-nokw", "llama")
LABELS = {"ours": "ours", "ours-nokw": "ours, no kw", "llama": "llama-index"}
WARMUP = 5


# ------------------------------------------------------------------ data (built once, in the parent)
def _paragraphs(corpus: Path) -> list[tuple[Path, str, list[tuple[str, list[str]]]]]:
    """Per Markdown file: (path, sha256 of its bytes, [(heading path, words of a prose paragraph)])."""
    from ingest.readers.markdown import read_markdown

    files = []
    for path in sorted(corpus.rglob("*.md")):
        paragraphs = []
        for section in read_markdown(path):
            for paragraph in section.text.split("\n\n"):
                stripped = paragraph.strip()
                if not stripped or stripped.startswith(("|", "<", "{", "```", "![")):
                    continue  # tables, markup, code: not prose
                words = stripped.split()
                if len(words) >= 5:
                    paragraphs.append((str(section.heading), words))
        if paragraphs:
            files.append((path, hashlib.sha256(path.read_bytes()).hexdigest(), paragraphs))
    return files


def build_records(corpus: Path, n: int, seed: int) -> list[dict]:
    """N chunk records (id, text, metadata): windows of 150-200 words over each file's prose, in
    order; pass p starts its windows p * 37 words later and names the file under pass-p/."""
    from assistant.passage import HeadingPath, chunk_metadata
    from ingest.pipeline import chunk_id

    files = _paragraphs(corpus)
    if not files:
        raise SystemExit(f"no Markdown prose under {corpus}")
    rng = random.Random(seed)
    records: list[dict] = []
    passes = 0
    while len(records) < n:
        for path, digest, paragraphs in files:
            stream = [(word, heading) for heading, words in paragraphs for word in words]
            source = f"/srv/documents/handbook/pass-{passes}/{path.relative_to(corpus)}"
            content_hash = hashlib.sha256(f"{digest}:{passes}".encode()).hexdigest()
            mtime = path.stat().st_mtime
            start, index = (passes * 37) % 150, 0
            while start + 150 <= len(stream) and len(records) < n:
                size = rng.randint(150, 200)
                window = stream[start:start + size]
                meta = chunk_metadata(source=source, file_name=path.name, file_type="md",
                                      heading=HeadingPath.parse(window[0][1]), mtime=mtime, chunk_index=index,
                                      content_hash=content_hash, page=None)
                records.append({"id": chunk_id(source, content_hash, index),
                                "text": " ".join(word for word, _ in window), "metadata": meta})
                start += size - 30  # 30 words of overlap, as our chunker keeps some
                index += 1
            if len(records) >= n:
                break
        passes += 1
    return records


def unit_vectors(count: int, dims: int, seed: int):
    import numpy as np

    vectors = np.random.default_rng(seed).standard_normal((count, dims)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# ------------------------------------------------------------------ workers (one process each)
def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Reset VmHWM (Linux: writing 5 to clear_refs), so the peak read later is this step's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def du_bytes(path: Path) -> int:
    """Allocated bytes under path, as du counts them (blocks, not apparent sizes)."""
    if path.is_file():
        return path.stat().st_blocks * 512
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _chroma_client(path: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path),
                                     settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))


def worker(kind: str, home: Path, data: Path, batch: int, k: int) -> dict:
    import numpy as np
    from llama_index.core.schema import TextNode

    records = json.loads((data / "records.json").read_text(encoding="utf-8"))
    vectors = np.load(data / "vectors.npy")
    queries = np.load(data / "queries.npy")
    nodes = [TextNode(id_=r["id"], text=r["text"], metadata=r["metadata"], embedding=v.tolist())
             for r, v in zip(records, vectors)]
    query_lists = [q.tolist() for q in queries]
    batches = [nodes[i:i + batch] for i in range(0, len(nodes), batch)]

    if kind in ("ours", "ours-nokw"):
        from assistant.settings import load_settings
        from assistant.store.chroma import build_store

        store = build_store(load_settings(home=home))
        chroma_dir = load_settings(home=home).chroma_path
        if kind == "ours":
            def write(group):
                store.upsert(COLLECTION, group)
        else:
            def write(group):  # Store.upsert's Chroma call, minus self.keywords.upsert
                collection = store._collection(COLLECTION, create=True)
                collection.upsert(ids=[n.node_id for n in group], embeddings=[n.embedding for n in group],
                                  documents=[n.text for n in group], metadatas=[n.metadata for n in group])

        def query(vector):
            return store.query(COLLECTION, vector, k)

        def top_id(vector):
            return store.query(COLLECTION, vector, k)[0].chunk_id

        def count():
            return store.count(COLLECTION)
    else:
        from llama_index.core.vector_stores.types import VectorStoreQuery
        from llama_index.vector_stores.chroma import ChromaVectorStore

        chroma_dir = home / "chroma"
        collection = _chroma_client(chroma_dir).get_or_create_collection(
            COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None)
        vector_store = ChromaVectorStore(chroma_collection=collection)

        def write(group):
            vector_store.add(group)

        def query(vector):
            return vector_store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=k)).nodes

        def top_id(vector):
            return query(vector)[0].node_id

        def count():
            return collection.count()

    rss_before = _status_mb("VmRSS")
    reset = _reset_peak()
    start = time.perf_counter()
    for group in batches:
        write(group)
    write_s = time.perf_counter() - start
    disk_after_write = du_bytes(chroma_dir)

    for vector in query_lists[:WARMUP]:
        query(vector)
    latencies, returned = [], []
    for vector in query_lists[WARMUP:]:
        t = time.perf_counter()
        got = query(vector)
        latencies.append(time.perf_counter() - t)
        returned.append(len(got))
    peak = _status_mb("VmHWM")  # since the reset; without one, the whole process's peak
    probe = [0, len(nodes) // 2, len(nodes) - 1]
    sanity = sum(top_id(nodes[i].embedding) == nodes[i].node_id for i in probe)
    return {"nodes": len(nodes), "stored": count(), "write_s": write_s, "batches": len(batches),
            "latencies": latencies, "returned_min": min(returned), "rss_before_mb": rss_before,
            "peak_mb": peak, "peak_reset": reset, "disk_after_write": disk_after_write,
            "sanity": f"{sanity}/{len(probe)}", "load": os.getloadavg()[0]}


def run_worker(args) -> None:
    result = worker(args.worker, Path(args.home), Path(args.data), args.batch, args.k)
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------ parent
def measure(kind: str, data: Path, batch: int, k: int) -> dict | None:
    """One store in a fresh process on a fresh folder; sizes on disk read after it has exited."""
    home = Path(tempfile.mkdtemp(prefix=f"store-bench-{kind}-"))
    env = dict(os.environ, ASSISTANT_HOME=str(home))
    command = [sys.executable, "-W", "ignore", str(Path(__file__).resolve()), "--worker", kind, "--home", str(home),
               "--data", str(data), "--batch", str(batch), "--k", str(k)]
    load = os.getloadavg()[0]
    try:
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
        process_s = time.perf_counter() - started
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            print(f"  {kind}: failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-3:] or ''}",
                  flush=True)
            return None
        result = json.loads(lines[-1][len("RESULT "):])
        result["chroma_bytes"] = du_bytes(home / "chroma")
        # build_store opens the keyword index for "ours, no kw" too, but nothing is written to it
        result["keyword_bytes"] = sum(du_bytes(p) for p in home.glob("keywords.sqlite*")) if kind == "ours" else 0
    finally:
        shutil.rmtree(home, ignore_errors=True)
    result.update(load_before=load, process_s=process_s)
    return result


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def row(kind: str, r: dict | None) -> str:
    if r is None:
        return f"| {LABELS[kind]} | failed | | | | | | |"
    ms = [s * 1000 for s in r["latencies"]]
    disk = r["chroma_bytes"] + r["keyword_bytes"]
    keywords = f" ({r['keyword_bytes'] / 1e6:.1f} of it keywords)" if r["keyword_bytes"] else ""
    return (f"| {LABELS[kind]} | {r['nodes'] / r['write_s']:,.0f} | {r['write_s']:.1f} | "
            f"{disk / 1e6:.1f}{keywords} | {statistics.median(ms):.1f} | {_percentile(ms, 0.95):.1f} | "
            f"{r['peak_mb'] - r['rss_before_mb']:+.0f} | {r['sanity']}, {r['stored']} stored | "
            f"{r['load_before']:.2f}->{r['load']:.2f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(SHARED_CORPUS))
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=128, help="nodes per write (our pipeline: ~128)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=40, help="results per query (our retrieval: 40 candidates)")
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0

    import numpy as np

    corpus = Path(args.corpus)
    if not corpus.is_dir():
        print(f"store bench skipped: no corpus at {corpus} (pass --corpus DIR)")
        return 0
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="store-bench-"))
    try:
        records = build_records(corpus, args.nodes, args.seed)
        (work / "records.json").write_text(json.dumps(records), encoding="utf-8")
        np.save(work / "vectors.npy", unit_vectors(len(records), args.dims, args.seed))
        np.save(work / "queries.npy", unit_vectors(args.queries + WARMUP, args.dims, args.seed + 1))
        words = [len(r["text"].split()) for r in records]
        print(f"store bench: {len(records)} nodes from {corpus.name} ({min(words)}-{max(words)} words, "
              f"median {statistics.median(words):.0f}), {args.dims}-dim random unit vectors, seed {args.seed}; "
              f"writes of {args.batch}, {args.queries} queries k={args.k} after {WARMUP} warm-up; "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
        results = {}
        for kind in KINDS:
            results[kind] = measure(kind, work, args.batch, args.k)
            print(f"  {LABELS[kind]}: done in {results[kind]['process_s']:.1f} s" if results[kind] else "", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("\n| store | write nodes/s | write s | disk MB | query p50 ms | query p95 ms | peak RSS delta MB "
          "| sanity (own vector first) | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in KINDS:
        print(row(kind, results[kind]))
    print("\n'ours' also writes the SQLite FTS5 keyword index (BM25), which ChromaVectorStore does not have:"
          "\ncompare 'ours, no kw' with 'llama-index' for the store alone. Disk is measured after the process"
          "\nhas ended; right after the last write it was "
          + ", ".join(f"{LABELS[k]} {r['disk_after_write'] / 1e6:.1f} MB (Chroma folder)"
                      for k, r in results.items() if r) + ".")
    ours, plain, llama = results.get("ours"), results.get("ours-nokw"), results.get("llama")
    if plain and llama:
        p50 = lambda r: statistics.median(r["latencies"])  # noqa: E731
        print(f"llama-index / ours without keywords: write throughput "
              f"{(llama['nodes'] / llama['write_s']) / (plain['nodes'] / plain['write_s']):.2f}x, disk "
              f"{llama['chroma_bytes'] / plain['chroma_bytes']:.2f}x, query p50 {p50(llama) / p50(plain):.2f}x")
    if ours and llama:
        print(f"llama-index / ours with keywords: write throughput "
              f"{(llama['nodes'] / llama['write_s']) / (ours['nodes'] / ours['write_s']):.2f}x, disk "
              f"{llama['chroma_bytes'] / (ours['chroma_bytes'] + ours['keyword_bytes']):.2f}x")
    print(f"\nstore bench done in {time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
