"""The command-line contract that admins, scripts and the evaluation harness rely on."""
import json

import pytest

from tests.conftest import SEEDS, run_cli

COMMANDS = ["ingest", "search", "ask", "chat", "ui", "eval", "models", "collections", "sources", "users", "settings"]


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory, shared_models_dir):
    from tests.conftest import make_home

    home = make_home(tmp_path_factory.mktemp("cli") / "home", shared_models_dir)
    result = run_cli("ingest", str(SEEDS), "--collection", "seeds", home=home)
    assert result.returncode == 0, result.stderr
    assert "5 added" in result.stdout
    return home


def test_every_command_has_complete_help(home):
    top = run_cli("--help", home=home)
    assert top.returncode == 0
    for command in COMMANDS:
        assert command in top.stdout
        sub = run_cli(command, "--help", home=home)
        assert sub.returncode == 0, sub.stderr
        assert f"usage: assistant {command}" in sub.stdout
    assert "--collection" in run_cli("ingest", "--help", home=home).stdout
    assert "REMOVED" in run_cli("ingest", "--help", home=home).stdout


def test_search_json_has_the_documented_shape_and_finds_the_right_file(cli_home):
    result = run_cli("search", "parental leave for the second parent", "--collection", "seeds", "-k", "3", "--json",
                     home=cli_home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["query"] == "parental leave for the second parent"
    assert len(data["results"]) == 3
    first = data["results"][0]
    assert set(first) == {"source", "page", "score", "text"}
    assert first["source"].endswith("leave-policy.md") and first["page"] is None
    assert "4 weeks" in " ".join(r["text"] for r in data["results"])
    scores = [r["score"] for r in data["results"]]
    assert scores == sorted(scores, reverse=True)


def test_pdf_results_carry_their_page(cli_home):
    result = run_cli("search", "security training within 5 working days", "-c", "seeds", "--json", home=cli_home)
    top = json.loads(result.stdout)["results"][0]
    assert top["source"].endswith("onboarding-guide.pdf") and top["page"] == 2


@pytest.mark.slow
def test_ask_json_answers_with_sources(cli_home):
    result = run_cli("ask", "What is the meal allowance per day when travelling on business?", "--collection", "seeds",
                     "--json", home=cli_home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"answer", "refused", "grounding", "sources"} and data["refused"] is False
    assert "25" in data["answer"]
    assert data["grounding"] in ("grounded", "regenerated", "quoted")
    assert data["sources"][0]["source"].endswith("expenses-faq.txt")
    assert all(set(s) == {"source", "page", "score", "text", "quote"} for s in data["sources"])
    # The quote is the exact sentence of the source the answer relies on: it holds the fact.
    quote = data["sources"][0]["quote"]
    assert "25" in quote and " ".join(quote.split()) in " ".join(data["sources"][0]["text"].split())


@pytest.mark.slow
def test_ask_on_a_terminal_prints_the_answer_then_its_sources(cli_home):
    result = run_cli("ask", "How many days of paid annual leave do full-time employees get?", "-c", "seeds",
                     home=cli_home)
    assert result.returncode == 0, result.stderr
    answer, _, sources = result.stdout.partition("\nSources:\n")
    assert "25" in answer
    assert "leave-policy.md" in sources


def test_second_ingest_of_unchanged_seeds_embeds_nothing(cli_home):
    result = run_cli("ingest", str(SEEDS), "--collection", "seeds", "--json", home=cli_home)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["chunks_embedded"] == 0 and report["unchanged"] == 5 and report["added"] == []


@pytest.mark.parametrize("args, message", [
    (["ingest", "/no/such/folder"], "no such file or folder: /no/such/folder"),
    (["search", "anything", "--collection", "nope"], "no collection named 'nope'"),
    (["ask", "anything", "--collection", "nope"], "no collection named 'nope'"),
    (["search", "anything", "--collection", "bad/name"], "invalid collection name"),
])
def test_user_errors_are_one_clear_line_without_traceback(cli_home, args, message):
    result = run_cli(*args, home=cli_home)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_model_is_one_clear_line(cli_home):
    result = run_cli("ask", "How much leave?", "-c", "seeds", env_extra={"ASSISTANT_LLM_MODEL": "/nowhere/model.gguf"},
                     home=cli_home)
    assert result.returncode == 3
    assert "model file /nowhere/model.gguf does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_ingest_reports_each_failed_file_and_exits_non_zero(tmp_path, home):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text("# Travel\nTrain tickets are booked through the travel desk.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    result = run_cli("ingest", str(folder), home=home)
    assert result.returncode == 1
    assert "failed: " + str(folder / "broken.pdf") in result.stderr
    assert "1 added" in result.stdout and "1 failed" in result.stdout


@pytest.mark.slow
def test_terminal_chat_understands_a_follow_up_from_the_conversation(cli_home):
    import os
    import subprocess

    from tests.conftest import ASSISTANT, NETGUARD

    env = dict(os.environ, ASSISTANT_HOME=str(cli_home), PYTHONPATH=str(NETGUARD))
    result = subprocess.run([ASSISTANT, "chat", "-c", "seeds"], env=env, capture_output=True, text=True, timeout=600,
                            input="How many days of paid annual leave do full-time employees get?\n"
                                  "And for part-time staff working 3 days a week?\n\n")
    assert result.returncode == 0, result.stderr
    first, _, second = result.stdout.partition("\n> ")
    assert "25" in first
    assert "15" in second
    assert "understood as:" in result.stderr and "leave" in result.stderr.split("understood as:")[1].lower()
