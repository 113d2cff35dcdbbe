"""`assistant eval`: a company scores the assistant on its own documents and gold questions."""
import json

import pytest

from tests.conftest import SEEDS, run_cli

GOLD = [
    {"id": "q1", "question": "How many days of paid annual leave do full-time employees get?",
     "must_match": [r"\b25\b"], "sources": ["leave-policy.md"], "kind": "fact"},
    {"id": "q2", "question": "What is the extension of the IT helpdesk?",
     "must_match": [r"4357"], "sources": ["onboarding-guide.pdf"], "kind": "format"},
    {"id": "q3", "question": "What is the dress code for the Lisbon warehouse forklift drivers?",
     "must_match": [], "sources": [], "kind": "unanswerable"},
    {"id": "q4", "question": "Which colour is the CEO's car?",  # a gold file that is wrong on purpose
     "must_match": [r"purple"], "sources": ["fleet.xlsx"], "kind": "fact"},
]


@pytest.mark.slow
def test_eval_prints_the_harness_metrics_for_a_gold_set(tmp_path, home):
    questions = tmp_path / "gold.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in GOLD) + "\n")
    result = run_cli("eval", "--corpus", str(SEEDS), "--questions", str(questions), "--json", home=home)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    metrics = report["metrics"]
    rows = {row["id"]: row for row in report["questions"]}
    assert rows["q1"]["recall"] == 1.0 and rows["q1"]["correct"] is True and rows["q1"]["citation"] is True
    assert rows["q2"]["recall"] == 1.0 and rows["q2"]["correct"] is True
    assert rows["q3"]["refusal"] is True and rows["q3"]["correct"] is True
    assert rows["q4"]["recall"] == 0.0 and rows["q4"]["correct"] is False and rows["q4"]["citation"] is False
    assert metrics["recall@5"] == pytest.approx(2 / 3)
    assert metrics["answer_acc"] == pytest.approx(2 / 3)
    assert metrics["refusal_acc"] == 1.0 and metrics["hallucinations"] == 0
    assert report["summary"].startswith("recall@5=0.67 mrr=")
    assert not (home / "chroma").exists(), "eval must not write into the user's store"


def test_eval_names_a_broken_questions_line(tmp_path, home):
    questions = tmp_path / "gold.jsonl"
    questions.write_text('{"question": "fine"}\nnot json\n')
    result = run_cli("eval", "--corpus", str(SEEDS), "--questions", str(questions), home=home)
    assert result.returncode == 2
    assert f"{questions}:2: not a question object" in result.stderr
