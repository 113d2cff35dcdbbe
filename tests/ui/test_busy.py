"""One bound on the line at the model, for both faces (ui/web/line.py): a question that would wait
behind more than max_waiting_questions is told at once that the assistant is busy and when to try
again, in the chat as a message, in the API as 429 with Retry-After; a streamed API question that
waits is told its place; and a question embeds and searches only inside its own turn, so the
embedder never runs beside the model. Held fake answerers and a scripted model stand in for the
model: what is checked is the control flow of the line."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from assistant.answer import Answerer
from assistant.components import Components
from assistant.settings import load_settings
from tests.fakes import BagOfWordsEncoder, CountedKeywords, HeldAnswerer, StaticRetriever, make_passage, scripted_model
from ui.web.api import build_api
from ui.web.chat import ChatSession
from ui.web.line import RETRY_AFTER_S, Busy, ModelQueue

LOCAL = "(local operator)"
PASSWORD = "juniper atlas kettle 27"
LEAVE = make_passage("Full-time staff get 25 days of paid leave.", "/docs/leave.md", collection="handbook")


@pytest.fixture
def components(home):
    components = Components(load_settings())
    components.store.create_collection("handbook")
    components.answerer = HeldAnswerer(passage=LEAVE)
    components.accounts.add_user("alice", PASSWORD, collections=["handbook"])
    return components


def last_message(step) -> str:
    return step[0][-1]["content"]


def holding(session: ChatSession):
    """A long chat answer being written: it holds the model until the answerer is released."""
    long = session.respond("[long] Tell me everything", [], [], "handbook", LOCAL, browser_session="tab1")
    while "more" not in last_message(next(long)):
        pass
    return long


def test_a_chat_question_beyond_the_bound_is_told_busy_at_once_and_is_not_kept(components):
    session = ChatSession(components, queue=ModelQueue(max_waiting=1))
    long = holding(session)
    waiting = session.respond("[quick] When are bonuses paid?", [], [], "handbook", LOCAL, browser_session="tab2")
    assert "Waiting: 1 question ahead of yours…" in last_message(next(waiting))

    refused = list(session.respond("[quick] Who signs payments?", [], [], "handbook", LOCAL, browser_session="tab3"))
    assert len(refused) == 1, "told at once, not left waiting"
    assert f"The assistant is busy: 2 questions are ahead of yours. Try again in {RETRY_AFTER_S} s." \
        in last_message(refused[0])
    assert refused[0][0][0]["role"] == "user", "the question stays shown above the message"
    [trail] = [e.detail for e in components.audit.query(kinds=["question"]) if e.detail["outcome"] == "busy"]
    assert (trail["question"], trail["collections"], trail["shown"]) == ("[quick] Who signs payments?", [], [])

    components.answerer.release.set()
    list(long)
    assert "Answer to [quick] When are bonuses paid?" in last_message(list(waiting)[-1])
    kept = sorted(c.title for c in components.conversations.list(LOCAL, ""))
    assert kept == ["[long] Tell me everything", "[quick] When are bonuses paid?"], "the refused one is not kept"
    asked_again = list(session.respond("[quick] Who signs payments?", [], [], "handbook", LOCAL))
    assert "Answer to [quick] Who signs payments?" in last_message(asked_again[-1]), "room again: answered"


def test_the_api_refuses_beyond_the_same_bound_with_429_and_a_waiting_stream_shows_its_place(components):
    line = ModelQueue(max_waiting=1)
    session = ChatSession(components, queue=line)
    token = components.api_tokens.create("alice", "tests")[1]
    api = build_api(components, line)
    headers = {"authorization": f"Bearer {token}"}
    asked = {"model": "handbook", "messages": [{"role": "user", "content": "[quick] When are bonuses paid?"}]}
    long = holding(session)  # a browser question holds the model

    async def ask():
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as client:
            streamed = asyncio.create_task(client.post("/chat/completions", json={**asked, "stream": True},
                                                       headers=headers))
            while len(line._line) < 2:  # the streamed question waits behind the browser's
                await asyncio.sleep(0.05)
            refused = await client.post("/chat/completions", json=asked, headers=headers)
            components.answerer.release.set()
            list(long)
            return refused, await streamed

    refused, streamed = asyncio.run(ask())
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(RETRY_AFTER_S)
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "busy")
    assert error["message"] == f"The assistant is busy: 2 questions are ahead of yours. Try again in {RETRY_AFTER_S} s."
    [trail] = [e.detail for e in components.audit.query(user="alice", kinds=["question"])
               if e.detail["outcome"] == "busy"]
    assert (trail["question"], trail["via"], trail["collections"]) == ("[quick] When are bonuses paid?", "api", [])

    assert streamed.status_code == 200
    events = [e for e in streamed.text.split("\n\n") if e]
    places = [e for e in events if e.startswith(": ahead ")]
    assert places == [": ahead 1", ": ahead 0"], events
    assert events.index(": ahead 0") < next(i for i, e in enumerate(events) if e.startswith("data: {"))
    assert "Answer to [quick] When are bonuses paid?" in streamed.text and events[-1] == "data: [DONE]"
    assert line._line == []


def test_try_again_in_is_when_the_questions_ahead_will_have_been_answered():
    now = [0.0]
    line = ModelQueue(max_waiting=2, clock=lambda: now[0])
    first, second, third = line.join(), line.join(), line.join()
    with pytest.raises(Busy) as before_any_turn:
        line.join()
    assert before_any_turn.value.retry_after_s == RETRY_AFTER_S, "nothing to estimate from yet"
    now[0] = 4.0
    line.leave(first)  # a turn of 4 s
    given_up = line.join()
    line.leave(given_up)  # left while waiting: not a turn
    now[0] = 10.0
    line.leave(second)  # 6 s
    line.join(), line.join()
    with pytest.raises(Busy) as busy:
        line.join()
    # Three ahead (third, which holds the model, and two waiting) at 5 s a turn.
    assert (busy.value.ahead, busy.value.retry_after_s) == (3, 15)
    assert str(busy.value) == "The assistant is busy: 3 questions are ahead of yours. Try again in 15 s."


class LineWatchingEncoder(BagOfWordsEncoder):
    """The real answerer's encoder, noting at every call whether `holder` still held the line."""

    def __init__(self, line: ModelQueue, holder: object):
        self.line, self.holder, self.calls_while_held = line, holder, []

    def embed(self, texts):
        self.calls_while_held.append(self.holder in self.line._line)
        return super().embed(texts)


class LineWatchingRetriever(StaticRetriever):
    def __init__(self, passages, line: ModelQueue, holder: object):
        super().__init__(passages)
        self.line, self.holder, self.searches_while_held = line, holder, []

    def search(self, query, collections, k, alternatives=()):
        self.searches_while_held.append(self.holder in self.line._line)
        return super().search(query, collections, k, alternatives)


@pytest.mark.parametrize("face", ["chat", "api"])
def test_a_question_embeds_and_searches_only_in_its_own_turn(components, face):
    """While another question holds the model, a waiting one has neither embedded nor searched:
    the embedder and the model never run at once."""
    line = ModelQueue()
    holder = line.join()
    found = make_passage(LEAVE.text, "/docs/leave.md", collection="handbook", score=0.9, similarity=0.9)
    retriever = LineWatchingRetriever([found], line, holder)
    encoder = LineWatchingEncoder(line, holder)
    components.answerer = Answerer(load_settings(check_facts=False), retriever, CountedKeywords(chunks=100, default=10),
                                   lambda c: {"en"}, encoder, lambda: scripted_model(lambda m: "25 days [1]."))
    question = "How many days of paid leave do full-time staff get?"
    if face == "chat":
        asking = ChatSession(components, queue=line).respond(question, [], [], "handbook", LOCAL)
        assert "Waiting: 1 question ahead" in last_message(next(asking))
        line.leave(holder)
        assert "25 days" in last_message(list(asking)[-1])
    else:
        token = components.api_tokens.create("alice", "tests")[1]

        async def ask():
            transport = httpx.ASGITransport(app=build_api(components, line))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as client:
                answer = asyncio.create_task(client.post(
                    "/chat/completions", json={"model": "handbook", "messages": [{"role": "user", "content": question}]},
                    headers={"authorization": f"Bearer {token}"}))
                while len(line._line) < 2:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)  # time it would have had to search early
                line.leave(holder)
                return await answer

        reply = asyncio.run(ask())
        assert reply.status_code == 200 and "25 days" in reply.json()["choices"][0]["message"]["content"]
    assert retriever.searches_while_held and not any(retriever.searches_while_held)
    assert encoder.calls_while_held and not any(encoder.calls_while_held)
