"""The setup past one machine, end to end: a Chroma server, an OpenAI-compatible model server and
PostgreSQL, all real and on loopback, behind two web workers (two `assistant ui` processes over
the same settings). Ingest and a cited answer go through the real `assistant` command; a login on
one worker is a session the other recognises, and a logout on either ends it on both; a conversation
started on one worker continues on the other (reopened from PostgreSQL, as the page's sidebar does:
the Gradio page's own state stays in the worker that served it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
import sqlalchemy as sa

from assistant.accounts import Accounts, Audit, Conversations
from tests.conftest import NETGUARD, ROOT, SEEDS, make_home, run_cli
from tests.servers.conftest import MODEL_ALIAS, model_server_settings, web_worker

COLLECTION = "seeds-everywhere"
PASSWORD = "violet kettle under 9 bridges"


@pytest.fixture(scope="module")
def everything(tmp_path_factory, shared_models_dir, chroma_server, model_server, postgres):
    """A home whose settings.toml names the three servers, with seeds/ ingested by `assistant ingest`."""
    folder = tmp_path_factory.mktemp("all-servers")
    accounts_url = postgres.new_database()
    home = make_home(folder / "home", shared_models_dir, **chroma_server.settings(),
                     **model_server_settings(model_server), accounts_url=accounts_url)
    home.chmod(0o700)
    env = {"ASSISTANT_LLM_MODEL": MODEL_ALIAS}  # the session's environment names the in-process test model
    result = run_cli("ingest", str(SEEDS), "--collection", COLLECTION, home=home, env_extra=env)
    assert result.returncode == 0, result.stderr
    assert "5 added" in result.stdout
    return home, folder, accounts_url, env


def test_assistant_ingest_wrote_to_the_chroma_server(everything, chroma_server):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    home = everything[0]
    client = chromadb.HttpClient(host=chroma_server.host, port=chroma_server.port,
                                 settings=ChromaSettings(anonymized_telemetry=False))
    stored = client.get_collection(COLLECTION).get(include=["metadatas"])
    assert {meta["file_name"] for meta in stored["metadatas"]} == {p.name for p in SEEDS.iterdir()}
    assert not (home / "chroma").exists(), "no embedded Chroma beside the server"


@pytest.mark.slow
def test_ask_answers_from_the_model_server_with_a_cited_source_and_audits_it_in_postgresql(everything):
    home, _, accounts_url, env = everything
    question = "What is the extension of the IT helpdesk?"
    result = run_cli("ask", question, "--collection", COLLECTION, "--json", home=home, env_extra=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "4357" in data["answer"] and data["refused"] is False
    assert any(s["source"].endswith("onboarding-guide.pdf") and s["page"] == 2 for s in data["sources"])
    accounts = Accounts(accounts_url)
    try:
        asked = [e.detail.get("question") for e in Audit(accounts.database).query(kinds=["question"])]
    finally:
        accounts.close()
    assert question in asked


@pytest.fixture(scope="module")
def alice(everything) -> str:
    accounts = Accounts(everything[2])
    accounts.add_user("alice", PASSWORD, collections=[COLLECTION])
    accounts.close()
    return "alice"


def test_a_session_from_one_web_worker_is_recognised_by_the_other(everything, alice):
    home, folder, accounts_url, env = everything
    with web_worker(home, folder, "worker-1", env) as first, web_worker(home, folder, "worker-2", env) as second:
        with httpx.Client(base_url=second) as anonymous:
            refused = anonymous.get("/", follow_redirects=False)
        assert (refused.status_code, refused.headers["location"]) == (303, "/login")

        with httpx.Client(base_url=first) as browser:
            login = browser.post("/login", data={"username": alice, "password": PASSWORD}, follow_redirects=False)
        assert login.status_code == 303, login.text
        cookie = {"assistant_session": login.cookies["assistant_session"]}

        with httpx.Client(base_url=second, cookies=cookie) as browser:
            page = browser.get("/", follow_redirects=False)
            assert page.status_code == 200 and "gradio" in page.text.lower()
            with sa.create_engine(accounts_url).connect() as db:
                assert db.execute(sa.text("SELECT u.name FROM sessions s JOIN users u ON u.id = s.user_id")
                                  ).scalars().all() == ["alice"]
            browser.get("/logout", follow_redirects=False)

        with httpx.Client(base_url=first, cookies=cookie) as browser:
            after = browser.get("/", follow_redirects=False)
        assert (after.status_code, after.headers["location"]) == (303, "/login"), "logged out on both workers"


# What one web worker's chat does with a question (ui/web/chat.py ChatSession, the code behind the
# Gradio page), in a process of its own: open the conversation named (as the page's sidebar does
# after a reload on another worker), ask in it, print its id.
CHAT_WORKER = """
import json, sys
from assistant.components import Components
from assistant.settings import load_settings
from ui.web.chat import ChatSession

user, collection, question, conversation = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] or None
session = ChatSession(Components(load_settings()))
history, turns = [], []
if conversation:
    history, turns, collection, _ = session.open_conversation(user, conversation)
*_, (history, turns, _, conversation) = session.respond(question, history, turns, collection, user, conversation)
print(json.dumps({"conversation": conversation, "turns": len(turns), "messages": len(history)}))
"""


def chat_on_a_worker(home, env, *args) -> dict:
    result = subprocess.run([sys.executable, "-c", CHAT_WORKER, *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=600, env=dict(os.environ, ASSISTANT_HOME=str(home), PYTHONPATH=str(NETGUARD),
                                                  **env))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_conversation_started_on_one_worker_continues_on_the_other(everything, alice):
    """Gradio keeps a page's state in the worker that served it; the conversation itself is in
    PostgreSQL, so another worker reopens it (as the page's sidebar does) and a follow-up goes on in it."""
    home, _, accounts_url, env = everything
    first = chat_on_a_worker(home, env, alice, COLLECTION, "What is the extension of the IT helpdesk?", "")
    assert first["conversation"] and first["turns"] == 1
    second = chat_on_a_worker(home, env, alice, COLLECTION, "And who do I call about my laptop?",
                              first["conversation"])
    assert second["conversation"] == first["conversation"]
    assert (second["turns"], second["messages"]) == (2, 4), "the follow-up had the first turn as history"
    accounts = Accounts(accounts_url)
    try:
        conversations = Conversations(accounts.database)
        assert [c.id for c in conversations.list(alice)] == [first["conversation"]]
        assert [t.question for t in conversations.turns(alice, first["conversation"])] == [
            "What is the extension of the IT helpdesk?", "And who do I call about my laptop?"]
    finally:
        accounts.close()
