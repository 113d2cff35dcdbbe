"""Answer latency and quality over a gold question set, against a plain llama-index query engine
over the same collection and model, in the same run.

Prints, for ours and for the baseline: time to sources, time to first answer token and total
time (p50, p95), prompt tokens per question; and the answer accuracy, refusals and citations
scored with the evaluation harness's own rules when ../shared/eval/evaluate.py is present.

    .venv/bin/python bench/answer_bench.py [--corpus DIR] [--questions FILE] [--limit N] [--no-baseline]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import assistant  # noqa: E402,F401  (offline guards first)

SHARED_EVAL = ROOT.parent / "shared" / "eval"


def load_harness():
    path = SHARED_EVAL / "evaluate.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("evaluate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pct(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]


def score(harness, question, answer_text, sources):
    """The harness's rules: (correct, refusal, citation hit)."""
    if harness is None:
        return None, None, None
    refusal = harness.is_refusal(answer_text)
    gold = {harness.basename_of(s) for s in question.get("sources", [])}
    if question["kind"] == "unanswerable" or not gold:
        return refusal, refusal, None
    norm = harness.normalise(answer_text)
    correct = bool(norm) and all(re.search(p, norm, re.I) for p in question["must_match"])
    return correct, refusal, any(harness.basename_of(s) in gold for s in sources)


def run_ours(components, questions, collection, harness, verbose):
    from assistant.answer import Finished, Retracted, SourcesFound, TextDelta

    rows = []
    for q in questions:
        start = time.perf_counter()
        t_sources = t_first = t_kept = None
        answer = None
        retracted = False
        for event in components.answerer.stream(q["question"], [collection]):
            now = time.perf_counter() - start
            if isinstance(event, SourcesFound) and t_sources is None:
                t_sources = now
            elif isinstance(event, TextDelta):
                t_first = now if t_first is None else t_first
                t_kept = now if t_kept is None else t_kept
            elif isinstance(event, Retracted):
                retracted, t_kept = True, None  # the text so far is withdrawn: the kept answer starts later
            elif isinstance(event, Finished):
                answer = event.answer
        total = time.perf_counter() - start
        correct, refusal, cite = score(harness, q, answer.text, [p.source for p in answer.sources])
        rows.append({"id": q["id"], "kind": q["kind"], "sources_s": t_sources, "first_token_s": t_first,
                     "total_s": total, "prompt_tokens": answer.prompt_tokens, "correct": correct,
                     "refusal": refusal, "citation": cite, "answer": answer.text,
                     "kept_token_s": t_kept if t_kept is not None else total, "retracted": retracted,
                     "grounding": answer.grounding or ("refused" if answer.refused else "")})
        if verbose:
            print(f"  ours {q['id']:5} {q['kind']:12} src {t_sources:5.2f}s first {t_first:5.2f}s total {total:5.1f}s "
                  f"prompt {answer.prompt_tokens:4d} correct={correct} | {answer.text[:90]!r}", flush=True)
    return rows


def run_baseline(components, questions, collection, harness, verbose):
    """llama-index as documented: VectorStoreIndex over the Chroma collection, LlamaCPP, its
    default query engine (top-2 nodes, default QA prompt), streaming."""
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.core.prompts.default_prompts import DEFAULT_TEXT_QA_PROMPT
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.llms.llama_cpp import LlamaCPP
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.models import embedding_path, llm_path

    settings = components.settings

    def messages_to_prompt(messages):
        text = "".join(f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages)
        return text + "<|im_start|>assistant\n"

    def completion_to_prompt(completion):
        return f"<|im_start|>user\n{completion}<|im_end|>\n<|im_start|>assistant\n"

    llm = LlamaCPP(model_path=str(llm_path(settings)), temperature=settings.llm_temperature,
                   max_new_tokens=settings.llm_max_tokens, context_window=settings.llm_context,
                   generate_kwargs={"stop": ["<|im_end|>", "<|endoftext|>"]},
                   model_kwargs={"n_threads": settings.llm_threads, "flash_attn": True},
                   messages_to_prompt=messages_to_prompt, completion_to_prompt=completion_to_prompt, verbose=False)
    embed = HuggingFaceEmbedding(model_name=str(embedding_path(settings)), device="cpu")
    LlamaSettings.llm, LlamaSettings.embed_model = llm, embed
    vector_store = ChromaVectorStore(chroma_collection=components.store.chroma_collection(collection))
    engine = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed).as_query_engine(streaming=True, llm=llm)

    rows = []
    for q in questions:
        start = time.perf_counter()
        response = engine.query(q["question"])
        t_sources = time.perf_counter() - start
        t_first, pieces = None, []
        for piece in response.response_gen:
            if t_first is None:
                t_first = time.perf_counter() - start
            pieces.append(piece)
        total = time.perf_counter() - start
        text = "".join(pieces)
        context = "\n\n".join(n.node.get_content() for n in response.source_nodes)
        prompt = completion_to_prompt(DEFAULT_TEXT_QA_PROMPT.format(context_str=context, query_str=q["question"]))
        prompt_tokens = len(llm._model.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
        sources = [n.node.metadata.get("source", "") for n in response.source_nodes]
        correct, refusal, cite = score(harness, q, text, sources)
        rows.append({"id": q["id"], "kind": q["kind"], "sources_s": t_sources, "first_token_s": t_first or total,
                     "total_s": total, "prompt_tokens": prompt_tokens, "correct": correct, "refusal": refusal,
                     "citation": cite, "answer": text})
        if verbose:
            print(f"  base {q['id']:5} {q['kind']:12} src {t_sources:5.2f}s first {t_first or total:5.2f}s "
                  f"total {total:5.1f}s prompt {prompt_tokens:4d} correct={correct} | {text[:90]!r}", flush=True)
    return rows


def summary(name, rows):
    answerable = [r for r in rows if r["kind"] != "unanswerable"]
    unanswerable = [r for r in rows if r["kind"] == "unanswerable"]

    def rate(values):
        values = [v for v in values if v is not None]
        return f"{sum(values) / len(values):.2f}" if values else "na"

    line = (f"{name:9} sources p50 {statistics.median(r['sources_s'] for r in rows):5.2f}s "
            f"p95 {pct([r['sources_s'] for r in rows], 0.95):5.2f}s | first token p50 "
            f"{statistics.median(r['first_token_s'] for r in rows):5.2f}s p95 {pct([r['first_token_s'] for r in rows], 0.95):5.2f}s"
            f" | total p50 {statistics.median(r['total_s'] for r in rows):5.1f}s p95 {pct([r['total_s'] for r in rows], 0.95):5.1f}s"
            f" | prompt tokens p50 {statistics.median(r['prompt_tokens'] for r in rows):.0f}"
            f" | answer_acc {rate([r['correct'] for r in answerable])}"
            f" refusal_acc {rate([r['refusal'] for r in unanswerable])}"
            f" citation_acc {rate([r['citation'] for r in answerable])}")
    if "retracted" in rows[0]:
        # What the facts check and the refusal rewrite cost: their answers' time is in the totals above.
        retracted = [r for r in rows if r["retracted"]]
        outcomes = {}
        for r in rows:
            outcomes[r["grounding"] or "unchecked"] = outcomes.get(r["grounding"] or "unchecked", 0) + 1
        line += (f"\n{'':9} first kept token p50 {statistics.median(r['kept_token_s'] for r in rows):5.2f}s"
                 f" | retracted {len(retracted)}/{len(rows)}"
                 + (f" (their total p50 {statistics.median(r['total_s'] for r in retracted):5.1f}s)" if retracted else "")
                 + " | " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print(line)
    return line


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(SHARED_EVAL / "dev" / "corpus"))
    parser.add_argument("--questions", default=str(SHARED_EVAL / "dev" / "questions.jsonl"))
    parser.add_argument("--home", help="reuse this ASSISTANT_HOME (its collection 'bench' is ingested if missing)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--out", help="write the per-question rows as JSON here")
    args = parser.parse_args(argv)
    if not Path(args.corpus).is_dir():
        sys.exit(f"no corpus at {args.corpus}: pass --corpus and --questions")
    home = Path(args.home or tempfile.mkdtemp(prefix="answer-bench-"))
    try:
        run(args, home)
    finally:
        if not args.home:  # a throwaway home holds ~1 GB of assembled model
            shutil.rmtree(home, ignore_errors=True)


def run(args, home: Path) -> None:
    from assistant.components import Components
    from assistant.settings import load_settings
    from ingest.service import IngestService

    settings = load_settings(home=home)
    components = Components(settings)
    collection = "bench"
    if not components.store.has_collection(collection):
        report = IngestService(components).ingest([Path(args.corpus)], collection)
        print(f"ingested {len(report.added)} files, {report.chunks_embedded} chunks in {report.seconds:.1f}s")
    questions = [json.loads(line) for line in open(args.questions, encoding="utf-8") if line.strip()]
    questions = questions[: args.limit] if args.limit else questions
    harness = load_harness()
    print(f"model {settings.llm_model}, {len(questions)} questions, threads {settings.llm_threads}")

    # Loaded before the first question is timed, as `assistant ui` does at start-up
    # (ui/web/chat.py, load_model) and as the baseline's LlamaCPP does when it is built: else the
    # first question's first token carried the model's load (12 s on the 1.5B).
    components.chat_model  # noqa: B018  (built on first access)
    components.embedder.embed(["warm-up"])
    ours = run_ours(components, questions, collection, harness, not args.quiet)
    results = {"ours": ours}
    lines = [summary("ours", ours)]
    if not args.no_baseline:
        components.__dict__.pop("chat_model", None)  # free our model's memory before the baseline loads its own
        components.answerer._model = None
        base = run_baseline(components, questions, collection, harness, not args.quiet)
        results["baseline"] = base
        lines.append(summary("baseline", base))
        ratio = statistics.median(r["first_token_s"] for r in ours) / statistics.median(r["first_token_s"] for r in base)
        print(f"first-token p50 ours/baseline = {ratio:.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
