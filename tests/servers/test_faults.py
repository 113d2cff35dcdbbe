"""Faults survived, with real servers (issue 11, point 4): each test starts servers of its own
(tests/servers/conftest.py), kills or restarts one where it stands, and checks what a user and an
operator would: a clear one-line message, no half-written answer kept, and the next request served
once the server is back. (A full disk: tests/ingest/test_disk_full.py.)

The moment of each fault is an event awaited, not a guess: the first streamed words of an answer,
the first batch of an ingest marked done in its manifest, the first chunk of an API stream.
"""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time

import httpx
import pytest

from assistant.accounts import Accounts, Audit, Conversations
from tests.conftest import SEEDS, components_for, ingest, make_home, run_cli
from tests.ingest.conftest import assert_consistent, start_cli, stored, write_corpus
from tests.servers.conftest import (MODEL_ALIAS, model_server_settings, postgres_cluster, running_worker)

COLLECTION = "seeds-faults"
PASSWORD = "violet kettle under 9 bridges"
QUESTION = "What is the extension of the IT helpdesk?"
UNREACHABLE = "http://127.0.0.1:9/v1"  # no model server: the tests that ask nothing never call it
ENDED_WITHIN_S = 120  # generous: a worker waits for its open answer to end before it exits


def seeded_home(path, models_dir, embedder, **settings):
    """A home with seeds/ ingested into COLLECTION (embedded Chroma) and alice allowed to read it."""
    home = make_home(path, models_dir, **settings)
    # A process of this one reads the home's settings as overrides (ASSISTANT_HOME is the session's).
    components = components_for(home, embedder, **{"llm_model": MODEL_ALIAS, **settings})
    assert ingest(components, [SEEDS], COLLECTION).ok
    components.accounts.add_user("alice", PASSWORD, collections=[COLLECTION])
    return home, components


def question_events(audit: Audit, question: str) -> list[dict]:
    return [e.detail for e in audit.query(kinds=["question"]) if e.detail.get("question") == question]


# ---------------------------------------------------------------- the model server
@pytest.mark.slow
def test_a_model_server_killed_mid_answer_is_a_clear_line_nothing_is_kept_and_the_next_question_works(
        tmp_path, shared_models_dir, embedder, new_model_server):
    from ui.web.chat import FAILED, PARTIAL_START, ChatSession, message_text

    server = new_model_server()
    home, components = seeded_home(tmp_path / "home", shared_models_dir, embedder,
                                   **model_server_settings(server.url))
    session = ChatSession(components)

    partial_seen = ""
    for history, turns, _, conversation in session.respond(QUESTION, [], [], COLLECTION, "alice"):
        last = message_text(history[-1]["content"])
        if not partial_seen and last.startswith(PARTIAL_START):
            partial_seen = last
            server.kill()  # mid-answer: its first words are on the page
    assert partial_seen, "the answer ended before any of it was streamed: nothing was killed mid-answer"

    shown = message_text(history[-1]["content"])
    assert FAILED in shown and f"the model server at {server.url} failed" in shown.lower(), shown
    assert "check that it is running" in shown and "\n" not in shown and "Traceback" not in shown
    assert not shown.startswith(PARTIAL_START)
    assert (turns, conversation) == ([], None), "the partial answer was kept as a turn"
    assert components.conversations.list("alice") == []
    assert [e["outcome"] for e in question_events(components.audit, QUESTION)] == ["stopped"]

    server.start()  # back, on the same port
    for history, turns, _, conversation in session.respond(QUESTION, history, turns, COLLECTION, "alice"):
        pass
    assert len(turns) == 1 and turns[0].answer.strip(), message_text(history[-1]["content"])
    kept = components.conversations.turns("alice", conversation)
    assert [(t.question, t.answer) for t in kept] == [(QUESTION, turns[0].answer)]
    assert [e["outcome"] for e in question_events(components.audit, QUESTION)][1:] in (["answer"], ["refusal"])


# ---------------------------------------------------------------- the Chroma server
FILES = 96  # 4 short chunks each: three batches of about 128 chunks, several seconds of embedding


def manifest_done(home) -> int:
    try:
        db = sqlite3.connect(str(home / "manifest.sqlite"), timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM files WHERE collection = ? AND state = 'done'",
                              (COLLECTION,)).fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet, or busy for a moment
        return 0


def test_a_chroma_server_killed_during_an_ingest_is_one_clear_error_and_the_next_run_completes(
        tmp_path, shared_models_dir, new_chroma_server):
    chroma = new_chroma_server()
    home = make_home(tmp_path / "home", shared_models_dir, **chroma.settings())
    corpus = tmp_path / "corpus"
    write_corpus(corpus, FILES, paragraphs=3, words=25, markdown=True)

    process = start_cli("ingest", str(corpus), "--collection", COLLECTION, home=home, stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
    done_at_kill = 0
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        done_at_kill = manifest_done(home)
        if done_at_kill:  # a first batch is in Chroma: the next one is being embedded or written
            chroma.kill()
            break
        time.sleep(0.005)
    _, stderr = process.communicate(timeout=300)
    assert 0 < done_at_kill < FILES, f"the kill did not land mid-ingest ({done_at_kill} files done)"

    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("assistant: error:")]
    assert errors == [stderr.strip().splitlines()[-1]], stderr
    assert f"the Chroma server at {chroma.host}:{chroma.port} stopped answering" in errors[0]
    assert "start it again, then run the command again" in errors[0]

    chroma.start()  # same port, same data
    again = run_cli("ingest", str(corpus), "--collection", COLLECTION, "--json", home=home)
    assert again.returncode == 0, again.stderr[-3000:]
    report = json.loads(again.stdout)
    assert report["repaired"] > 0, "the batch cut by the kill was left 'pending' and repaired"
    clean = run_cli("ingest", str(corpus), "--collection", "clean-run", home=home)
    assert clean.returncode == 0, clean.stderr[-3000:]

    components = components_for(home, **chroma.settings())
    chunks, rows = assert_consistent(components.store, components.settings.manifest_path, COLLECTION)
    assert len(rows) == FILES and len(chunks) == FILES * 4
    assert chunks == stored(components.store, "clean-run"), "ids, texts or metadata differ from a clean run's"


# ---------------------------------------------------------------- PostgreSQL
def test_users_logged_in_stay_logged_in_across_a_postgresql_restart(tmp_path, shared_models_dir, embedder):
    with postgres_cluster() as postgres:
        url = postgres.new_database()
        home, components = seeded_home(tmp_path / "home", shared_models_dir, embedder, accounts_url=url,
                                       **model_server_settings(UNREACHABLE))
        components.accounts.close()
        with running_worker(home, tmp_path, "worker", {"ASSISTANT_LLM_MODEL": MODEL_ALIAS}) as worker:
            with httpx.Client(base_url=worker.url, timeout=60) as browser:
                login = browser.post("/login", data={"username": "alice", "password": PASSWORD},
                                     follow_redirects=False)
                assert login.status_code == 303, login.text
                assert browser.get("/", follow_redirects=False).status_code == 200

                postgres.restart()  # every connection the worker holds is cut

                page = browser.get("/", follow_redirects=False)
                assert page.status_code == 200, (page.status_code, page.headers.get("location"), page.text[:500])
                assert "gradio" in page.text.lower(), "the same session cookie is still a login"
            with httpx.Client(base_url=worker.url, timeout=60) as other:
                login = other.post("/login", data={"username": "alice", "password": PASSWORD},
                                   follow_redirects=False)
                assert (login.status_code, login.headers.get("location")) == (303, "/"), login.text
                assert other.get("/", follow_redirects=False).status_code == 200
        log = worker.log.read_text()
        assert "Traceback" not in log, log[-3000:]


# ---------------------------------------------------------------- the web worker
@pytest.mark.slow
def test_a_web_worker_stopped_with_sigterm_while_answering_keeps_the_history_and_a_new_one_continues(
        tmp_path, shared_models_dir, embedder, new_model_server):
    from ui.web.chat import ChatSession

    server = new_model_server()
    home, components = seeded_home(tmp_path / "home", shared_models_dir, embedder,
                                   **model_server_settings(server.url))
    # A conversation the chat page kept before: one answered turn.
    session = ChatSession(components)
    *_, (history, turns, _, conversation) = session.respond(QUESTION, [], [], COLLECTION, "alice")
    assert len(turns) == 1, history[-1]
    before = components.conversations.turns("alice", conversation)
    _, token = components.api_tokens.create("alice", "tests")
    components.accounts.close()

    interrupted = "Who do I call about my laptop, and what should I tell them?"
    env = {"ASSISTANT_LLM_MODEL": MODEL_ALIAS}
    received: list[str] = []
    with running_worker(home, tmp_path, "worker-1", env) as worker:
        with httpx.Client(base_url=worker.url, timeout=300) as client:
            with client.stream("POST", "/v1/chat/completions", headers={"authorization": f"Bearer {token}"},
                               json={"model": COLLECTION, "stream": True,
                                     "messages": [{"role": "user", "content": interrupted}]}) as response:
                assert response.status_code == 200
                lines = response.iter_lines()
                for line in lines:
                    if line.startswith("data: "):  # the passages are found: the model is writing
                        break
                worker.process.send_signal(signal.SIGTERM)
                try:
                    received = [line for line in lines if line.startswith("data: ")]
                except httpx.TransportError:
                    received = []  # cut: the client sees the stream end without [DONE]
            status = worker.process.wait(timeout=ENDED_WITHIN_S)
    assert status in (0, -signal.SIGTERM), f"the worker exited with {status}: {worker.log.read_text()[-3000:]}"
    log = worker.log.read_text()
    assert "Traceback" not in log, log[-3000:]

    accounts = Accounts(f"sqlite:///{home / 'accounts.sqlite'}")
    try:
        conversations, audit = Conversations(accounts.database), Audit(accounts.database)
        assert [(t.question, t.answer, t.sources) for t in conversations.turns("alice", conversation)] == [
            (t.question, t.answer, t.sources) for t in before], "the earlier turns are intact"
        outcomes = [e["outcome"] for e in question_events(audit, interrupted)]
    finally:
        accounts.close()
    finished = received[-1:] == ["data: [DONE]"]
    if finished:  # the worker let the answer end before exiting: the whole answer, recorded as one
        assert outcomes in (["answer"], ["refusal"]), outcomes
    else:  # cut: never recorded as an answer
        assert set(outcomes) <= {"stopped"}, outcomes
    database = sqlite3.connect(str(home / "accounts.sqlite"))
    try:
        assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        database.close()

    # A new worker on the same home: the conversation reopens as it was and goes on.
    with running_worker(home, tmp_path, "worker-2", env) as worker:
        with httpx.Client(base_url=worker.url, timeout=300) as client:
            login = client.post("/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
            assert login.status_code == 303, login.text
            answered = client.post("/v1/chat/completions", headers={"authorization": f"Bearer {token}"},
                                   json={"model": COLLECTION, "messages": [{"role": "user", "content": interrupted}]})
            assert answered.status_code == 200, answered.text
            assert answered.json()["choices"][0]["message"]["content"].strip()
    later = ChatSession(components_for(home, embedder, **model_server_settings(server.url)))
    history, turns, collection, _ = later.open_conversation("alice", conversation)
    assert [t.question for t in turns] == [QUESTION] and len(history) == 2
    *_, (history, turns, _, same) = later.respond("And what is the IT helpdesk's e-mail?", history, turns,
                                                  collection, "alice", conversation)
    assert same == conversation and len(turns) == 2, history[-1]
