"""No needless wait: a waiting question shows its place in line, a long answer can be stopped
(not kept, audited as stopped, the next question answered), and a question that comes while the
model is still loading says so and then proceeds. A held fake answerer stands in for the model:
what is checked is the control flow of ui/web/chat.py, driven step by step."""
import threading

import pytest

from assistant.components import Components
from assistant.settings import load_settings
from tests.fakes import HeldAnswerer, make_passage
from ui.web.chat import MODEL_LOADING, STOPPED, ChatSession, ModelLoader


@pytest.fixture
def session(home):
    components = Components(load_settings())
    components.store.create_collection("handbook")
    passage = make_passage("Full-time staff get 25 days of paid leave.", "/docs/leave.md", collection="handbook")
    components.answerer = HeldAnswerer(passage=passage)
    return ChatSession(components)


def last_message(step) -> str:
    return step[0][-1]["content"]


def test_waiting_questions_see_their_place_and_a_stopped_answer_is_not_kept(session):
    local = "(local operator)"
    long = session.respond("[long] Tell me everything", [], [], "handbook", local, browser_session="tab1")
    while "more" not in last_message(next(long)):  # the long answer is being written
        pass
    second = session.respond("[quick] When are bonuses paid?", [], [], "handbook", local, browser_session="tab2")
    third = session.respond("[quick] Who signs payments?", [], [], "handbook", local, browser_session="tab3")
    assert "Waiting: 1 question ahead of yours…" in last_message(next(second))
    assert "Waiting: 2 questions ahead of yours…" in last_message(next(third))

    partial = next(long)[0]
    session.stop("tab1")  # the Stop button of the first tab
    assert last_message(list(long)[-1]).endswith(f"{STOPPED}</em></p>"), "its own last update says so"

    *_, (history, turns, _, second_id) = list(second)  # the line moves up: answered now
    assert "Answer to [quick] When are bonuses paid?" in history[-1]["content"]
    *_, (_, _, _, third_id) = list(third)
    conversations = session.components.conversations
    kept = [(c.title) for c in conversations.list(local, "")]
    assert sorted(kept) == ["[quick] When are bonuses paid?", "[quick] Who signs payments?"]
    outcomes = [(e.detail["question"], e.detail["outcome"]) for e in session.components.audit.query(kinds=["question"])]
    assert outcomes == [("[long] Tell me everything", "stopped"), ("[quick] When are bonuses paid?", "answer"),
                        ("[quick] Who signs payments?", "answer")]
    # A Stop while nothing is answered is not kept for the next question.
    session.stop("tab1")
    assert "Answer to" in last_message(list(session.respond("[quick] Still there?", [], [], "handbook", local,
                                                            browser_session="tab1"))[-1])
    # A partial answer the browser still shows (a tab closed mid-answer) is replaced when the next question is asked.
    as_sent_back = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in partial]  # Gradio 6's form
    *_, (after, _, _, _) = session.respond("[quick] Next?", as_sent_back, [], "handbook", local)
    assert [m["content"].endswith(f"{STOPPED}</em></p>") for m in after if m["role"] == "assistant"] == [True, False]


def test_stop_while_waiting_leaves_the_line(session):
    local = "(local operator)"
    long = session.respond("[long] Tell me everything", [], [], "handbook", local)
    while "more" not in last_message(next(long)):
        pass
    waiting = session.respond("[quick] A question given up", [], [], "handbook", local)
    assert "Waiting: 1 question" in last_message(next(waiting))
    waiting.close()  # the tab was closed: Gradio closes the event
    latecomer = session.respond("[quick] Next one", [], [], "handbook", local)
    assert "Waiting: 1 question ahead" in last_message(next(latecomer)), "the one who left is not counted"
    session.components.answerer.release.set()
    assert "Answer to [long] Tell me everything" in last_message(list(long)[-1])
    assert "Answer to [quick] Next one" in last_message(list(latecomer)[-1])


def test_a_question_before_the_model_is_ready_says_it_is_loading_then_is_answered(home):
    components = Components(load_settings())
    components.store.create_collection("handbook")
    components.answerer = HeldAnswerer(passage=make_passage("Doors open at eight.", collection="handbook"))
    loaded = threading.Event()
    loader = ModelLoader(loaded.wait).start()
    session = ChatSession(components, loader)
    asking = session.respond("[quick] When do doors open?", [], [], "handbook", "(local operator)")
    assert MODEL_LOADING in last_message(next(asking))
    loaded.set()
    assert "Answer to [quick] When do doors open?" in last_message(list(asking)[-1])
    assert loader.ready


def test_a_loader_never_started_claims_nothing():
    assert ModelLoader(lambda: pytest.fail("loaded")).ready
