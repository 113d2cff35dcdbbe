"""Ingest speed: our pipeline, the raw embedding model and a plain llama-index baseline, in one run.

For the 18F handbook (../shared/corpora/18f-handbook) and for a generated corpus of at least
5,000 chunks (Markdown, text, HTML and e-mail files built from the handbook's own sentences,
shuffled with a fixed seed), each measurement runs in a process of its own on a fresh
ASSISTANT_HOME, and prints:

  ours      IngestPipeline.run as `assistant ingest` runs it: chunks/s, files/s, peak RSS
  raw loop  SentenceTransformer.encode over exactly the texts our pipeline embedded, as our
            Embedder loads the model, in a loop over the same groups the pipeline passed to it
            (the issue's "encode in a loop, nothing else": what ours costs beyond the model)
  raw       the same texts in one call (the library sorts all of them by length: its best case)
  raw fp32  the same, with sentence-transformers' defaults (float32, batch 32): handbook only
  baseline  llama-index VectorStoreIndex.from_documents over the same files, its defaults
            except chunk_size=200: SimpleDirectoryReader(recursive), HuggingFaceEmbedding on
            the local model, ChromaVectorStore in a temporary folder (handbook only, unless
            --baseline-generated)

and the ratios ours/raw (throughput) and baseline/ours (end-to-end time).

Scans: pages/s of reading (parse + OCR, no embedding) generated image-only PDFs of two pages
(tests/ingest/scans.py) with 1 and with `ocr_workers` files in flight, as the pipeline reads
ahead, against the same pages as text-layer PDFs in the same run (--scans N pages, 0 to skip). Every process gets
the same torch thread count and OMP_WAIT_POLICY; the "ingest" time excludes loading the
model (paid once per process by all three), the "process" time includes it. Figures depend
on what else runs on the machine: the load average is printed next to each.

    .venv/bin/python bench/ingest_bench.py [--corpus DIR] [--chunks N] [--seed S] [--threads N]
                                           [--no-baseline] [--baseline-generated] [--skip-generated]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
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


# ------------------------------------------------------------------ generated corpus
# Words of generated text per chunk of ours (200 word pieces, 30 overlap, cut at sentence and
# section ends): 6,875 chunks from 719,256 words with the default settings.
_WORDS_PER_CHUNK = 104


def _handbook_text(corpus: Path) -> tuple[list[str], list[str]]:
    """Sentences and headings of the corpus's Markdown files, as our reader sees them."""
    from ingest.readers import read_markdown

    sentences: dict[str, None] = {}
    headings: dict[str, None] = {}
    for path in sorted(corpus.rglob("*.md")):
        for section in read_markdown(path):
            if section.heading:
                headings[section.heading[-1]] = None
            for paragraph in section.text.split("\n\n"):
                if paragraph.lstrip().startswith(("|", "-", "*", "<", "{", "```")):
                    continue
                for sentence in re.split(r"(?<=[.!?])\s+", " ".join(paragraph.split())):
                    if (5 <= len(sentence.split()) <= 60 and sentence[0].isupper()
                            and not re.search(r"https?:|\]\(|[{}<>|`*_#]", sentence)):
                        sentences[sentence] = None
    return list(sentences), list(headings)


def _paragraph(rng: random.Random, sentences: list[str]) -> str:
    return " ".join(rng.choice(sentences) for _ in range(rng.randint(2, 6)))


def _render(kind: str, title: str, sections: list[tuple[str, list[str]]], rng: random.Random, number: int) -> str:
    if kind == "md":
        parts = [f"---\ntitle: {title}\ntags: [generated]\n---\n\n# {title}\n"]
        parts += [f"## {heading}\n\n" + "\n\n".join(paragraphs) + "\n" for heading, paragraphs in sections]
        return "\n".join(parts)
    if kind == "html":
        body = "".join(f"<h2>{heading}</h2>\n" + "".join(f"<p>{p}</p>\n" for p in paragraphs)
                       for heading, paragraphs in sections)
        return (f"<!DOCTYPE html>\n<html><head><title>{title}</title><style>p {{margin: 0}}</style>"
                f"<script>var page = {number};</script></head>\n<body><nav><a href='/'>Home</a> | "
                f"<a href='/search'>Search</a></nav>\n<main><h1>{title}</h1>\n{body}</main>\n"
                f"<footer>Internal use only</footer></body></html>\n")
    if kind == "eml":
        body = "\n\n".join(p for _, paragraphs in sections for p in paragraphs)
        day = 1 + number % 28
        return (f"From: Team {number % 17} <team{number % 17}@example.org>\nTo: all@example.org\n"
                f"Subject: {title}\nDate: Mon, {day:02d} Sep 2026 09:{number % 60:02d}:00 +0000\n"
                f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nHello all,\n\n{body}\n\nThanks,\n"
                f"Team {number % 17}\n")
    return f"{title}\n\n" + "\n\n".join(f"{heading}\n\n" + "\n\n".join(paragraphs) for heading, paragraphs in sections) + "\n"


def generate_corpus(dest: Path, source: Path, min_chunks: int, seed: int) -> dict:
    """Files of realistic sizes and types built from the source's sentences, deterministically.

    Sizes follow a company share: many short notes and e-mails, some long guides. Writes files
    until their words are worth ~5% more than `min_chunks` chunks (the run prints the real count)."""
    sentences, headings = _handbook_text(source)
    rng = random.Random(seed)
    folders = ["hr/policies", "hr/benefits", "it/security", "it/howto", "finance/travel", "finance/purchasing",
               "engineering/guides", "engineering/decisions", "mail/announcements", "mail/threads", "projects", "archive"]
    kinds = [("md", 45), ("txt", 25), ("html", 15), ("eml", 15)]
    target_words = min_chunks * _WORDS_PER_CHUNK * 1.05
    words = files = 0
    by_kind: dict[str, int] = {}
    while words < target_words:
        kind = rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
        size = rng.random()
        n_sections = 1 if size < 0.35 else rng.randint(2, 5) if size < 0.85 else rng.randint(6, 14)
        sections = [(rng.choice(headings), [_paragraph(rng, sentences) for _ in range(rng.randint(1, 4))])
                    for _ in range(n_sections)]
        title = rng.choice(headings)
        folder = dest / (folders[files % len(folders)] if kind != "eml" else folders[8 + files % 2])
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "note"
        (folder / f"{files:05d}-{name}.{kind}").write_text(_render(kind, title, sections, rng, files), encoding="utf-8")
        words += sum(len(p.split()) for _, paragraphs in sections for p in paragraphs)
        files += 1
        by_kind[kind] = by_kind.get(kind, 0) + 1
    return {"files": files, "words": words, "by_kind": by_kind}


# ------------------------------------------------------------------ workers (one process each)
def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker_ours(folder: Path, home: Path, texts_out: Path, threads: int) -> dict:
    from assistant.components import Components
    from assistant.settings import load_settings
    from ingest.manifest import Manifest
    from ingest.pipeline import IngestPipeline

    settings = load_settings(home=home)
    components = Components(settings)
    embedder = components.embedder
    embedder.threads = threads
    embedder._model  # loaded before the clock starts, as for the others
    components.store
    embedded: list[list[str]] = []
    embed = embedder.embed

    def recording_embed(texts):  # keeps the texts for the raw measurements; costs a list append
        embedded.append(list(texts))
        return embed(texts)

    # The embedder is a pydantic model (llama-index's BaseEmbedding): an instance attribute set
    # past its validation shadows the method for this run only.
    object.__setattr__(embedder, "embed", recording_embed)
    manifest = Manifest(settings.manifest_path)
    pipeline = IngestPipeline(settings, components.store, embedder, manifest)
    pipeline.chunker  # imports llama-index's splitter: the baseline imports llama-index before its clock too
    rss_before, cpu_before = _rss_mb(), _cpu_s()
    start = time.perf_counter()
    report = pipeline.run([folder], COLLECTION)
    seconds = time.perf_counter() - start
    cpu = _cpu_s() - cpu_before
    manifest.close()
    texts_out.write_text(json.dumps(embedded), encoding="utf-8")
    return {"seconds": seconds, "cpu_s": cpu, "chunks": report.chunks_embedded, "files": len(report.added),
            "failed": len(report.failed), "stored": components.store.count(COLLECTION),
            "rss_before_mb": rss_before, "dtype": embedder.dtype, "batch_size": embedder.batch_size}


def worker_raw(texts_file: Path, threads: int, defaults: bool, loop: bool = False) -> dict:
    """encode over the texts ours embedded: in one call (the library sorts all of them by
    length: its best case), or in a loop over the same groups ours passed to the model."""
    calls = json.loads(texts_file.read_text(encoding="utf-8"))
    groups = calls if loop else [[t for call in calls for t in call]]
    from assistant.embedding import Embedder, _import_torch
    from assistant.models import embedding_path
    from assistant.settings import load_settings

    torch = _import_torch()
    settings = load_settings()
    if defaults:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(embedding_path(settings)), device="cpu", local_files_only=True)
        batch_size, dtype = 32, "float32"
    else:
        embedder = Embedder(embedding_path(settings), batch_size=settings.embedding_batch_size)
        model, batch_size, dtype = embedder._model, embedder.batch_size, embedder.dtype
    torch.set_num_threads(threads)
    rss_before, cpu_before = _rss_mb(), _cpu_s()
    start = time.perf_counter()
    for texts in groups:
        model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                     show_progress_bar=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu_s": _cpu_s() - cpu_before, "chunks": sum(map(len, groups)), "rss_before_mb": rss_before,
            "dtype": dtype, "batch_size": batch_size}


def worker_baseline(folder: Path, home: Path, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.models import embedding_path
    from assistant.settings import load_settings

    LlamaSettings.chunk_size = 200  # MiniLM sees 256 word pieces; the default 1024 would be cut
    embed = HuggingFaceEmbedding(model_name=str(embedding_path(load_settings(home=home))), device="cpu")
    client = chromadb.PersistentClient(path=str(home / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("baseline")
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    torch.set_num_threads(threads)
    rss_before, cpu_before = _rss_mb(), _cpu_s()
    start = time.perf_counter()
    documents = SimpleDirectoryReader(str(folder), recursive=True).load_data()
    VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed)
    seconds = time.perf_counter() - start
    binary = sorted({Path(d.metadata.get("file_path", "")).suffix for d in documents
                     if d.text.startswith(("%PDF", "PK\x03\x04"))})
    return {"seconds": seconds, "cpu_s": _cpu_s() - cpu_before, "chunks": collection.count(),
            "files": len({d.metadata.get("file_path") for d in documents}), "rss_before_mb": rss_before,
            "binary_as_text": binary, "dtype": str(embed._model[0].auto_model.dtype).removeprefix("torch."),
            "batch_size": embed.embed_batch_size}


def run_worker(args) -> None:
    started = time.perf_counter()
    if args.worker == "ours":
        result = worker_ours(Path(args.folder), Path(args.home), Path(args.texts), args.threads)
    elif args.worker == "raw":
        result = worker_raw(Path(args.texts), args.threads, defaults=False)
    elif args.worker == "raw-loop":
        result = worker_raw(Path(args.texts), args.threads, defaults=False, loop=True)
    elif args.worker == "raw-fp32":
        result = worker_raw(Path(args.texts), args.threads, defaults=True)
    else:
        result = worker_baseline(Path(args.folder), Path(args.home), args.threads)
    result.update(process_s=time.perf_counter() - started + args.startup, peak_rss_mb=_peak_rss_mb(),
                  load=os.getloadavg()[0])
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------ parent
def measure(kind: str, threads: int, folder: Path | None = None, texts: Path | None = None) -> dict | None:
    """One measurement in a fresh process and a fresh ASSISTANT_HOME; None if it failed."""
    home = Path(tempfile.mkdtemp(prefix=f"ingest-bench-{kind}-"))
    env = dict(os.environ, ASSISTANT_HOME=str(home), OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
               TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-W", "ignore", str(Path(__file__).resolve()), "--worker", kind, "--home", str(home),
               "--threads", str(threads), "--folder", str(folder or ""), "--texts", str(texts or "")]
    load = os.getloadavg()[0]
    started = time.time()
    command += ["--started", repr(started)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        print(f"  {kind}: failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:] or ''}", flush=True)
        return None
    result = json.loads(lines[-1][len("RESULT "):])
    result["load_before"] = load
    return result


def row(name: str, r: dict | None) -> str:
    if r is None:
        return f"  {name:9} failed"
    rate = r["chunks"] / r["seconds"]
    files = f"{r['files'] / r['seconds']:6.1f} files/s" if "files" in r else " " * 14
    return (f"  {name:9} {r['chunks']:5d} chunks {r['seconds']:6.1f} s ingest ({r['process_s']:5.1f} s process)  "
            f"{rate:5.1f} chunks/s {files}  peak RSS {r['peak_rss_mb']:5.0f} MB (before {r['rss_before_mb']:4.0f})  "
            f"cpu {r['cpu_s']:5.1f} s  {r['dtype']} batch {r['batch_size']}  load {r['load_before']:.2f}->{r['load']:.2f}")


def bench_set(name: str, folder: Path, threads: int, work: Path, baseline: bool, raw_fp32: bool) -> dict:
    print(f"\n{name}: {folder}", flush=True)
    texts = work / f"{name}-texts.json"
    results = {"ours": measure("ours", threads, folder=folder, texts=texts)}
    print(row("ours", results["ours"]), flush=True)
    if results["ours"] is not None:
        results["raw-loop"] = measure("raw-loop", threads, texts=texts)
        print(row("raw loop", results["raw-loop"]), flush=True)
        results["raw"] = measure("raw", threads, texts=texts)
        print(row("raw", results["raw"]), flush=True)
        if raw_fp32:
            results["raw-fp32"] = measure("raw-fp32", threads, texts=texts)
            print(row("raw fp32", results["raw-fp32"]), flush=True)
    if baseline:
        results["baseline"] = measure("baseline", threads, folder=folder)
        print(row("baseline", results["baseline"]), flush=True)
        if results["baseline"] and results["baseline"]["binary_as_text"]:
            print(f"  (the baseline read {', '.join(results['baseline']['binary_as_text'])} files as raw bytes: "
                  "its file readers are a separate package, llama-index-readers-file)")
    ours, raw, base = results.get("ours"), results.get("raw"), results.get("baseline")
    loop = results.get("raw-loop")
    if ours and loop:
        ratio = (ours["chunks"] / ours["seconds"]) / (loop["chunks"] / loop["seconds"])
        print(f"  ours / raw encode in a loop over the same groups: {ratio:.0%} (target >= 90%): "
              "the cost of reading, chunking and storing")
    if ours and raw:
        ratio = (ours["chunks"] / ours["seconds"]) / (raw["chunks"] / raw["seconds"])
        print(f"  ours / raw encode in one call (all texts sorted by length together: the library's best case): {ratio:.0%}")
    if ours and results.get("raw-fp32"):
        fp32 = results["raw-fp32"]
        print(f"  raw encode, our settings / sentence-transformers defaults: "
              f"{(raw['chunks'] / raw['seconds']) / (fp32['chunks'] / fp32['seconds']):.2f}x" if raw else "")
    if ours and base:
        print(f"  baseline / ours, end to end: {base['seconds'] / ours['seconds']:.2f}x faster ingest "
              f"(target >= 1.5x), {base['process_s'] / ours['process_s']:.2f}x with process start and model load")
    return results


def bench_scans(n_pages: int) -> None:
    """Pages/s reading scanned PDFs (OCR) and the same pages with a text layer, in this process."""
    from concurrent.futures import ThreadPoolExecutor

    from fpdf import FPDF

    from assistant.settings import load_settings
    from ingest.readers import ocr, read_file
    from tests.ingest import scans

    reason = ocr.unavailable_reason()
    if reason is not None:
        print(f"scan bench skipped: {reason}")
        return
    folder = Path(tempfile.mkdtemp(prefix="scan-bench-"))
    try:
        page_texts = [scans.CONTRACT[i % 3] for i in range(max(2, n_pages))]
        scanned, typed = [], []
        for number in range(0, len(page_texts), 2):
            pair = page_texts[number:number + 2]
            scanned.append(scans.save_pdf(folder / f"scan-{number:03d}.pdf", [scans.render(lines) for lines in pair]))
            pdf = FPDF()
            for lines in pair:
                pdf.add_page()
                pdf.set_font("Helvetica", size=12)
                pdf.multi_cell(0, 8, "\n".join(lines))
            typed.append(folder / f"text-{number:03d}.pdf")
            typed[-1].write_bytes(bytes(pdf.output()))
        workers = load_settings().ocr_workers
        print(f"\nscanned PDFs: {len(page_texts)} pages in {len(scanned)} files, 200 dpi, load {os.getloadavg()[0]:.2f}")
        for label, files, in_flight in (("text layer", typed, 1), ("OCR, 1 worker", scanned, 1),
                                        (f"OCR, {workers} workers", scanned, workers)):
            ocr.configure(ocr.OcrOptions(workers=in_flight))
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=in_flight) as pool:
                read = sum(len({s.page for s in sections}) for sections in pool.map(read_file, files))
            seconds = time.perf_counter() - started
            print(f"  {label:18} {read / seconds:8.2f} pages/s  ({read} pages in {seconds:.1f} s)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(SHARED_CORPUS))
    parser.add_argument("--chunks", type=int, default=5000, help="at least this many chunks in the generated set")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--threads", type=int, help="torch threads for all three (default: the CPUs available)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--baseline-generated", action="store_true", help="also run the baseline on the generated set")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--scans", type=int, default=16, help="scanned PDF pages to OCR (0: skip)")
    parser.add_argument("--worker", choices=["ours", "raw", "raw-loop", "raw-fp32", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--started", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.startup = time.time() - args.started if args.started else 0.0
        run_worker(args)
        return 0

    from assistant.embedding import available_cpus

    if args.scans:
        bench_scans(args.scans)
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        print(f"ingest bench skipped: no corpus at {corpus} (pass --corpus DIR)")
        return 0
    threads = args.threads or available_cpus()
    print(f"ingest bench: torch threads {threads} for all three, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', 'PASSIVE')}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    started = time.perf_counter()
    try:
        bench_set("18f-handbook", corpus, threads, work, baseline=not args.no_baseline, raw_fp32=True)
        if not args.skip_generated:
            generated = work / "generated"
            info = generate_corpus(generated, corpus, args.chunks, args.seed)
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(info["by_kind"].items()))
            print(f"\ngenerated corpus: {info['files']} files ({kinds}), {info['words']} words, seed {args.seed}")
            results = bench_set("generated", generated, threads, work,
                                baseline=args.baseline_generated and not args.no_baseline, raw_fp32=False)
            if results["ours"] and results["ours"]["chunks"] < args.chunks:
                print(f"  note: only {results['ours']['chunks']} chunks, fewer than the {args.chunks} asked for")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ningest bench done in {time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
