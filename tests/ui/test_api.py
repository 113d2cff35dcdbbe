"""The OpenAI-compatible API at /v1, through the official `openai` client against the real web app
(uvicorn on a loopback port, the seeds ingested, the 0.5B test model): answers with citations,
streamed or not, follow-ups from the messages, refusals, and exactly the collections and audit
trail of the token's user."""
from __future__ import annotations

import asyncio
import re
import threading
import time

import httpx
import openai
import pytest

from assistant.answer import REFUSALS
from tests.conftest import components_for, free_port

LEAVE = "How many days of paid annual leave do full-time employees get?"
FOLLOW_UP = "And for part-time staff working 3 days a week?"
HELPDESK = "What is the extension of the IT helpdesk?"
UNCOVERED = "What is the dress code for the Lisbon warehouse forklift drivers?"
PASSWORD = "juniper atlas kettle 27"


class Server:
    def __init__(self, url: str, components, tokens: dict[str, str]):
        self.url, self.components, self.tokens = url, components, tokens

    def client(self, user: str = "alice", token: str | None = None) -> openai.OpenAI:
        # The loopback address, always: the client must never fall back to api.openai.com.
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=token or self.tokens[user], max_retries=0,
                             timeout=600)

    def http(self, user: str | None = "alice") -> httpx.Client:
        headers = {"authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=600)

    def questions(self, user: str) -> list[dict]:
        return [e.detail for e in self.components.audit.query(user=user, kinds=["question"])]


@pytest.fixture(scope="module")
def server(tmp_path_factory, seeded):
    """The real web app over the seeded store, with accounts of its own: alice reads `default`, bob
    reads nothing. The model is the session's (one loaded 0.5B)."""
    import uvicorn

    from ui.web import build_web_app

    root = tmp_path_factory.mktemp("api")
    components = components_for(seeded.settings.home, seeded.embedder,
                                accounts_url=f"sqlite:///{root / 'accounts.sqlite'}")
    components.chat_model = seeded.chat_model
    components.accounts.add_user("alice", PASSWORD, collections=["default"])
    components.accounts.add_user("bob", PASSWORD)
    tokens = {name: components.api_tokens.create(name, "tests")[1] for name in ("alice", "bob")}
    port = free_port()
    config = uvicorn.Config(build_web_app(components), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        assert thread.is_alive(), "the web app did not start"
        time.sleep(0.1)
    yield Server(f"http://127.0.0.1:{port}", components, tokens)
    uv.should_exit = True
    thread.join(timeout=30)


def markers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


@pytest.fixture(scope="module")
def leave_answer(server):
    return server.client().chat.completions.create(model="default", messages=[{"role": "user", "content": LEAVE}])


@pytest.mark.slow
def test_an_answer_carries_its_citations_and_its_markers_name_them(server, leave_answer):
    text = leave_answer.choices[0].message.content
    citations = leave_answer.model_extra["citations"]
    assert leave_answer.model == "default" and leave_answer.choices[0].finish_reason == "stop"
    assert "25" in text and leave_answer.model_extra["refused"] is False
    assert citations[0]["file"] == "leave-policy.md" and citations[0]["collection"] == "default"
    # Numbered as the chat numbers its sources: each by the marker the text cites it with (an
    # answer that cites no marker, as the 0.5B model often writes, has them numbered 1..k).
    assert [c["n"] for c in citations] == (list(dict.fromkeys(markers(text))) or list(range(1, len(citations) + 1)))
    assert any("25" in c["quote"] for c in citations), citations
    assert set(citations[0]) == {"n", "collection", "file", "page", "heading", "quote", "text"}
    assert leave_answer.usage.prompt_tokens > 0 and leave_answer.usage.completion_tokens > 0
    [asked] = [d for d in server.questions("alice") if d["question"] == LEAVE]
    assert (asked["via"], asked["outcome"], asked["collections"]) == ("api", "answer", ["default"])
    assert {p["file"].rsplit("/", 1)[-1] for p in asked["cited"]} == {c["file"] for c in citations}
    assert asked["shown"]


@pytest.mark.slow
def test_a_streamed_answer_sends_the_role_first_and_the_citations_with_the_last_chunk(server):
    stream = server.client().chat.completions.create(
        model="default", messages=[{"role": "user", "content": HELPDESK}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    [last] = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    citations = last.model_extra["citations"]
    assert "4357" in text
    assert ("onboarding-guide.pdf", 2) in [(c["file"], c["page"]) for c in citations]
    assert set(markers(text)) <= {c["n"] for c in citations}
    assert chunks[-1].usage.prompt_tokens > 0 and not chunks[-1].choices


@pytest.mark.slow
def test_a_follow_up_is_understood_from_the_messages(server, leave_answer):
    reply = server.client().chat.completions.create(model="default", messages=[
        {"role": "system", "content": "You are a pirate."},  # not passed to the model: the prompt is ours
        {"role": "user", "content": LEAVE},
        {"role": "assistant", "content": leave_answer.choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": FOLLOW_UP}]}])
    understood = reply.model_extra["understood_as"].lower()
    assert "leave" in understood and "part-time" in understood, understood  # the history was used
    # ...and it found the part-time rule (what the pipeline controls: which excerpt the 0.5B cites is its own).
    asked = server.questions("alice")[-1]
    assert asked["question"] == FOLLOW_UP and asked["outcome"] in ("answer", "refusal")
    shown = server.components.store.nodes("default", [p["id"] for p in asked["shown"]])
    assert any("15 days" in node.text and node.metadata["source"].endswith("leave-policy.md") for node in shown)


def test_a_question_the_documents_do_not_cover_is_refused(server):
    reply = server.client().chat.completions.create(model="default",
                                                    messages=[{"role": "user", "content": UNCOVERED}])
    assert reply.choices[0].message.content == REFUSALS["en"]
    assert reply.model_extra["refused"] is True and reply.model_extra["citations"] == []
    assert server.questions("alice")[-1]["outcome"] == "refusal"


def test_models_are_the_collections_the_tokens_user_may_read(server):
    assert [m.id for m in server.client("alice").models.list()] == ["default"]
    assert server.client("alice").models.retrieve("default").id == "default"
    assert list(server.client("bob").models.list()) == []
    with pytest.raises(openai.NotFoundError):
        server.client("bob").models.retrieve("default")


def test_a_collection_the_user_may_not_read_is_answered_as_one_that_does_not_exist(server):
    bob = server.client("bob")
    refused = {}
    for name in ("default", "no-such-collection"):
        for stream in (False, True):
            with pytest.raises(openai.NotFoundError) as error:
                bob.chat.completions.create(model=name, messages=[{"role": "user", "content": LEAVE}], stream=stream)
            refused[name, stream] = error.value.body
            assert "25" not in str(error.value.response.text)
    assert refused["default", False]["code"] == "model_not_found"
    assert refused["default", False]["message"].replace("default", "X") == refused[
        "no-such-collection", False]["message"].replace("no-such-collection", "X")
    with server.http("bob") as http:
        found = http.post("/v1/search", json={"query": LEAVE, "collection": "default"})
    assert found.status_code == 404 and "leave" not in found.text.lower()
    asked = server.questions("bob")
    assert [(d["asked_for"], d["outcome"], d["shown"]) for d in asked] == [
        ("default", "no_access", []), ("default", "no_access", []),
        ("no-such-collection", "no_access", []), ("no-such-collection", "no_access", [])]


def test_no_token_a_wrong_one_or_a_revoked_one_is_refused(server):
    _, revoked = server.components.api_tokens.create("alice", "revoked at once")
    [info] = [t for t in server.components.api_tokens.list("alice") if t.label == "revoked at once"]
    server.components.api_tokens.revoke(info.id)
    for token in ("asst_not-a-real-token", "not even the form of one", revoked):
        with pytest.raises(openai.AuthenticationError) as error:
            server.client(token=token).models.list()
        assert error.value.status_code == 401
    with httpx.Client(base_url=server.url) as anonymous:
        response = anonymous.post("/v1/chat/completions", json={"model": "default", "messages": []})
    assert response.status_code == 401 and response.json()["error"]["code"] == "missing_api_key"
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_malformed_request_is_a_400_in_openais_shape(server):
    with server.http() as http:
        for body in ({"model": "default", "messages": []}, {"model": "default"},
                     {"model": "default", "messages": [{"role": "assistant", "content": "hi"}]},
                     {"model": "default", "messages": [{"role": "user", "content": "  "}]},
                     {"model": "default", "messages": [{"role": "tool", "content": "x"}]}):
            response = http.post("/v1/chat/completions", json=body)
            assert response.status_code == 400, body
            assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        assert http.post("/v1/chat/completions", content=b"{not json").status_code == 400
        assert http.post("/v1/chat/completions", content=b"x" * (2 << 20)).status_code == 413


def test_search_returns_passages_with_file_page_heading_and_score(server):
    with server.http() as http:
        response = http.post("/v1/search", json={"query": HELPDESK, "collection": "default", "k": 3})
    results = response.json()["data"]
    assert response.status_code == 200 and len(results) == 3
    assert ("onboarding-guide.pdf", 2) in [(r["file"], r["page"]) for r in results]
    assert set(results[0]) == {"n", "collection", "file", "page", "heading", "score", "text"}
    [searched] = server.components.audit.query(user="alice", kinds=["search"])[-1:]
    assert searched.detail["via"] == "api" and len(searched.detail["shown"]) == 3


def test_paths_under_v1_never_reach_gradio(server):
    import http.client  # sends the path as written: httpx would resolve the '..' itself

    host, port = server.url.removeprefix("http://").split(":")
    for path in ("/v1/config", "/v1/../config", "/v1/%2e%2e/config", "/v1/gradio_api/info", "/v1/"):
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        connection.request("GET", path, headers={"authorization": f"Bearer {server.tokens['alice']}"})
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
        assert response.status == 404 and "unknown_url" in body, (path, response.status, body[:200])
    with server.http() as client:
        assert client.get("/v1/models", headers={"origin": "http://attacker.example"}).status_code == 403


def test_a_question_waits_for_its_turn_in_the_line_the_chat_shares(server):
    """The API takes its place in the chat's ModelQueue: while another question holds the model,
    a request does not run; it does once that one leaves."""
    from ui.web.api import build_api
    from ui.web.chat import ModelQueue

    line = ModelQueue()
    api = build_api(server.components, line)
    ticket = line.join()  # a browser question holds the model

    async def ask() -> tuple[int, bool]:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            request = asyncio.create_task(client.post("/search", json={"query": HELPDESK, "collection": "default"},
                                                      headers={"authorization": f"Bearer {server.tokens['alice']}"}))
            while len(line._line) < 2:  # the request has joined the line behind the browser's question
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            waited = not request.done()
            line.leave(ticket)
            return (await request).status_code, waited

    status, waited = asyncio.run(ask())
    assert waited and status == 200
    assert line._line == []
