"""Scores the assistant on a company's own gold questions (`assistant eval`).

Questions file: JSON Lines with id, question, must_match (regexes that must all match the
answer), sources (gold file names), kind (fact | multi_doc | unanswerable | french | format).
Metrics, as the project's evaluation harness defines them:
  recall@5      answerable: a gold file among the top-5 search results (multi_doc: share found)
  mrr           answerable: 1 / rank of the first gold file in the top 5
  answer_acc    answerable: every must_match regex matches the answer
  citation_acc  answerable: the answer's sources include a gold file
  refusal_acc   unanswerable: the answer is a refusal
  hallucinations  unanswerable questions answered without a refusal
"""
from __future__ import annotations

import json
import re
import statistics
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from assistant.errors import EvaluationError

REFUSAL_PATTERNS = [
    r"\b(don't|do not|doesn't|does not|can't|cannot|can not|couldn't|could not|am unable to|unable to|was unable to)\s+"
    r"(know|find|locate|answer|determine|say|tell|see|provide|identify)",
    r"\bnot\s+(mentioned|specified|stated|covered|addressed|included|described|documented|provided|available|found|present|listed|contained)\b",
    r"\bnot\s+(based\s+)?(in|on|within|part of)\s+(the\s+)?(provided\s+|given\s+|available\s+|supplied\s+|retrieved\s+)?"
    r"(documents?|context|sources?|corpus|handbook|materials?|texts?|information|excerpts?|passages?|files?)",
    r"\b(no|not enough|insufficient)\s+(relevant\s+)?(information|details?|mention|data|answer|documentation|evidence)\b",
    r"\b(doesn't|does not|don't|do not)\s+(appear|seem)\s+to\s+(be|contain|mention|cover|include)",
    r"\b(documents?|context|sources?|handbook)\s+(doesn't|does not|do not|don't)\s+(say|mention|contain|cover|include|specify|provide|address|state)",
    r"\bi('m| am)\s+(not\s+(sure|able)|sorry)",
    r"\bunknown\b|\bno answer\b|\bcannot be (answered|determined)\b",
    r"\bje ne (sais|trouve|peux|connais|dispose)\b",
    r"\b(aucune|pas d'|pas de|pas assez d')\s*(information|indication|mention|r[ée]ponse|donn[ée]es?)",
    r"\bn'(est|sont|y a|appara[iî]t|indique|pr[ée]cise|mentionne|contient)\b[^.]{0,60}\b(pas|aucun|aucune|rien)\b",
    r"\bne\s+(mentionne|pr[ée]cise|contien|couvre|indique|parle|donne|fourni|trait|sp[ée]cifi|permet)\w*\s+(pas|rien|aucun)",
    r"\b(introuvable|impossible de (r[ée]pondre|trouver|d[ée]terminer))\b",
]
_REFUSAL = [re.compile(p, re.I) for p in REFUSAL_PATTERNS]


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    for a, b in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'),
                 ("\u2013", "-"), ("\u2014", "-"), ("\u2011", "-"), ("\u00a0", " ")):
        text = text.replace(a, b)
    return re.sub(r"\s+", " ", text).strip()


def is_refusal(answer: str) -> bool:
    text = normalise(answer)
    return bool(text) and any(r.search(text) for r in _REFUSAL)


def base_name(source: str) -> str:
    return source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()


def load_questions(path: Path) -> list[dict]:
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise EvaluationError(f"cannot read {path}: {e.strerror}") from e
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
            assert isinstance(q, dict) and isinstance(q.get("question"), str)
            for pattern in q.get("must_match") or []:
                re.compile(pattern)
        except (ValueError, AssertionError, re.error) as e:
            raise EvaluationError(f"{path}:{number}: not a question object ({e})") from e
        q.setdefault("id", f"line{number}")
        q["kind"] = q.get("kind") or "fact"
        q["must_match"] = list(q.get("must_match") or [])
        q["sources"] = list(q.get("sources") or [])
        questions.append(q)
    return questions


@dataclass
class QuestionResult:
    id: str
    kind: str
    answerable: bool
    recall: float | None = None
    reciprocal_rank: float | None = None
    correct: bool = False
    refusal: bool = False
    citation: bool | None = None
    search_s: float = 0.0
    ask_s: float = 0.0
    answer: str = ""


@dataclass
class EvaluationReport:
    rows: list[QuestionResult] = field(default_factory=list)
    ingest_s: float = 0.0

    @staticmethod
    def _mean(values) -> float | None:
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else None

    def metrics(self, rows: Sequence[QuestionResult] | None = None) -> dict:
        rows = self.rows if rows is None else rows
        answerable = [r for r in rows if r.answerable]
        unanswerable = [r for r in rows if not r.answerable]
        return {
            "n": len(rows),
            "recall@5": self._mean(r.recall for r in answerable),
            "mrr": self._mean(r.reciprocal_rank for r in answerable),
            "answer_acc": self._mean(1.0 if r.correct else 0.0 for r in answerable),
            "citation_acc": self._mean(1.0 if r.citation else 0.0 for r in answerable),
            "refusal_acc": self._mean(1.0 if r.correct else 0.0 for r in unanswerable),
            "hallucinations": sum(1 for r in unanswerable if not r.refusal),
            "false_refusals": sum(1 for r in answerable if r.refusal),
        }

    def summary_line(self) -> str:
        m = self.metrics()

        def fmt(x, digits=2):
            return "na" if x is None else f"{x:.{digits}f}"

        ask_p50 = statistics.median(r.ask_s for r in self.rows) if self.rows else None
        return (f"recall@5={fmt(m['recall@5'])} mrr={fmt(m['mrr'])} answer_acc={fmt(m['answer_acc'])} "
                f"refusal_acc={fmt(m['refusal_acc'])} citation_acc={fmt(m['citation_acc'])} "
                f"ingest_s={fmt(self.ingest_s, 1)} ask_p50_s={fmt(ask_p50, 1)} hallucinations={m['hallucinations']}")

    def table(self) -> str:
        columns = ["n", "recall@5", "mrr", "answer_acc", "citation_acc", "refusal_acc", "hallucinations", "false_refusals"]
        lines = ["kind".ljust(14) + "".join(c.rjust(15) for c in columns)]
        kinds = list(dict.fromkeys(r.kind for r in self.rows))
        for name, rows in [(k, [r for r in self.rows if r.kind == k]) for k in kinds] + [("ALL", self.rows)]:
            m = self.metrics(rows)
            cells = ["na" if m[c] is None else (str(m[c]) if isinstance(m[c], int) else f"{m[c]:.2f}") for c in columns]
            lines.append(name.ljust(14) + "".join(cell.rjust(15) for cell in cells))
        return "\n".join(lines)


def evaluate(components, questions: list[dict], collection: str, k: int = 5,
             progress: Callable[[QuestionResult], None] | None = None) -> EvaluationReport:
    """Ask every question through the same retrieval and answer path the users get."""
    report = EvaluationReport()
    for q in questions:
        gold = {base_name(s) for s in q["sources"]}
        row = QuestionResult(q["id"], q["kind"], answerable=q["kind"] != "unanswerable" and bool(gold))
        start = time.perf_counter()
        names = [p.file_name.lower() for p in components.retriever.search(q["question"], [collection], k)]
        row.search_s = time.perf_counter() - start
        if row.answerable:
            found = gold & set(names)
            row.recall = len(found) / len(gold) if q["kind"] == "multi_doc" else float(bool(found))
            rank = next((i + 1 for i, name in enumerate(names) if name in gold), None)
            row.reciprocal_rank = 1.0 / rank if rank else 0.0
        start = time.perf_counter()
        answer = components.answerer.ask(q["question"], [collection])
        row.ask_s = time.perf_counter() - start
        row.answer = answer.text
        row.refusal = is_refusal(answer.text)
        if row.answerable:
            text = normalise(answer.text)
            row.correct = bool(text) and all(re.search(p, text, re.I) for p in q["must_match"])
            row.citation = any(base_name(p.source) in gold for p in answer.sources)
        else:
            row.correct = row.refusal
        report.rows.append(row)
        if progress:
            progress(row)
    return report
