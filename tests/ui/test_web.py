"""The web app refuses to expose documents to the network without logins, and a user's questions
reach only the collections they may read."""
import pytest

from assistant.components import Components
from assistant.settings import load_settings
from ui.web import UIConfigError, check_can_serve
from ui.web.chat import ChatSession
from ui.web.guard import OWNER, PUBLIC, USER, SessionOwners, route_policy
from ui.web.login import LOCAL_USER, WebAuth
from ui.web.security import host_name


def test_loopback_without_users_needs_no_login(home):
    components = Components(load_settings())
    check_can_serve(components)
    assert WebAuth(components).login_required() is False


def test_binding_a_network_address_without_users_is_refused_with_the_fix(home):
    with pytest.raises(UIConfigError, match="assistant users add"):
        check_can_serve(Components(load_settings(ui_host="0.0.0.0")))


def test_the_first_user_turns_login_on_without_a_restart(home, monkeypatch):
    components = Components(load_settings())
    auth = WebAuth(components)
    assert auth.login_required() is False
    components.accounts.add_user("alice", "violet kettle orbit 2026")
    auth._has_users = (0.0, False)  # the two-second recheck, elapsed
    assert auth.login_required() is True
    assert auth.user_of({"type": "http", "headers": []}) is None


def test_a_user_only_sees_the_collections_they_may_read(tmp_path, home, embedder):
    from tests.conftest import components_for, ingest

    components = components_for(home, embedder)
    for name in ("people", "finance"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}.md").write_text(f"# {name}\nThe {name} team meets on Mondays.\n")
        assert ingest(components, [folder], collection=name).ok
    components.accounts.add_user("bob", "long enough password 2026", collections=["people"])
    session = ChatSession(components)
    assert session.readable_collections("bob") == ["people"]
    assert session.readable_collections(LOCAL_USER) == ["finance", "people"]
    history, _, _, conversation = list(session.respond("When does finance meet?", [], [], "finance", "bob"))[-1]
    assert conversation is None  # nothing was answered, so nothing was kept
    assert "Pick a collection first (you can read: people)." in history[-1]["content"]
    assert "Mondays" not in str(history)
    list(session.respond("What is the parking policy on the moon?", [], [], "people", "bob"))
    asked = [(e.user, e.detail["asked_for"], e.detail["collections"], e.detail["outcome"])
             for e in components.audit.query(kinds=["question"])]
    assert asked == [("bob", "finance", [], "no_access"), ("bob", "people", ["people"], "refusal")]
    with pytest.raises(PermissionError):
        session.readable_collections(None)


def test_only_the_chat_routes_answer_and_each_needs_its_policy():
    assert route_policy("GET", "/assets/index-abc.js")[0] == PUBLIC
    assert route_policy("GET", "/config")[0] == USER
    assert route_policy("POST", "/gradio_api/queue/join")[0] == OWNER
    assert route_policy("GET", "/gradio_api/heartbeat/abc")[1].group("session") == "abc"
    for method, path in [("POST", "/gradio_api/upload"), ("GET", "/gradio_api/file=/etc/passwd"),
                         ("POST", "/gradio_api/call/respond"), ("GET", "/gradio_api/token"), ("GET", "/monitoring"),
                         ("GET", "/assets/../../etc/passwd"), ("POST", "/config")]:
        assert route_policy(method, path)[0] is None, (method, path)


def test_a_gradio_session_belongs_to_the_first_user_who_presents_it():
    owners = SessionOwners(limit=2)
    assert owners.claim("h1", "alice") and owners.claim("h1", "alice")
    assert not owners.claim("h1", "bob")
    owners.claim("h2", "bob"), owners.claim("h3", "bob")  # past the bound, the oldest is forgotten
    assert owners.claim("h1", "carol")


@pytest.mark.parametrize("header, host", [("example.org:7860", "example.org"), ("[::1]:7860", "::1"),
                                          ("LOCALHOST", "localhost"), ("127.0.0.1", "127.0.0.1")])
def test_the_host_header_is_read_without_its_port(header, host):
    assert host_name(header) == host


def test_logins_and_failures_are_audited_without_any_password_hash_or_token(home):
    """The trail holds who logged in or failed, from where; the raw table never holds a password
    (not even one typed as the user name), a password hash, a session token or its hash."""
    import hashlib

    import sqlalchemy as sa
    from starlette.testclient import TestClient

    from ui.web.app import build_web_app

    password = "violet kettle orbit 2026"
    components = Components(load_settings(ui_require_login=True))
    components.accounts.add_user("alice", password)
    client = TestClient(build_web_app(components), base_url="http://127.0.0.1")
    assert client.post("/login", data={"username": "alice", "password": "not her password at all"},
                       follow_redirects=False).status_code == 401
    assert client.post("/login", data={"username": password, "password": password},
                       follow_redirects=False).status_code == 401  # her password typed as the name
    response = client.post("/login", data={"username": "alice", "password": password}, follow_redirects=False)
    assert response.status_code == 303
    token = response.cookies["assistant_session"]

    events = [(e.kind, e.user, e.detail.get("known_name")) for e in components.audit.query()]
    assert events == [("login_failed", "alice", True), ("login_failed", None, False), ("login", "alice", None)]
    with sa.create_engine(f"sqlite:///{home / 'accounts.sqlite'}").connect() as db:
        stored_hash = db.execute(sa.text("SELECT password_hash FROM users")).scalar_one()
        trail = " ".join(str(v) for row in db.execute(sa.text("SELECT * FROM audit_events")) for v in row)
    assert "127.0.0.1" in trail or "testclient" in trail
    for secret in (password, "not her password at all", stored_hash, token, hashlib.sha256(token.encode()).hexdigest()):
        assert secret not in trail


class RecordingAnswerer:
    """Answers every question with one cited passage, and records the history it was given."""

    def __init__(self, passage):
        self.passage = passage
        self.histories = []

    def stream(self, question, collections, history=()):
        from assistant.answer import Answer, Finished, SourcesFound, TextDelta

        self.histories.append([(t.question, t.answer) for t in history])
        yield SourcesFound([self.passage], question)
        text = f"Answer to {question} [1]"
        yield TextDelta(text)
        yield Finished(Answer(question=question, text=text, sources=[self.passage], retrieved=[self.passage],
                              refused=False, language="en", quotes=["25 days"]))


def test_a_reopened_conversation_shows_its_answers_and_sources_and_a_follow_up_uses_it(home):
    from tests.fakes import make_passage

    components = Components(load_settings(ui_require_login=True))
    components.store.create_collection("handbook")
    components.accounts.add_user("alice", "violet kettle orbit 2026", collections=["handbook"])
    components.accounts.add_user("bob", "seven quiet lanterns drifting", collections=["handbook"])
    passage = make_passage("Full-time staff get 25 days of paid leave.", "/docs/leave-policy.md", page=3,
                           collection="handbook")
    components.answerer = RecordingAnswerer(passage)
    session = ChatSession(components)
    *_, (history, turns, _, conversation) = session.respond("How many days of leave?", [], [], "handbook", "alice")
    assert conversation is not None

    later = ChatSession(Components(load_settings(ui_require_login=True)))  # a restart, another day
    assert later.conversation_choices("alice") == [("How many days of leave?", conversation)]
    assert later.conversation_choices("bob") == []
    reopened, turns, collection, title = later.open_conversation("alice", conversation)
    assert reopened == history and collection == "handbook" and title == "How many days of leave?"
    assert "leave-policy.md, page 3" in reopened[-1]["content"] and "<mark>25 days</mark>" in reopened[-1]["content"]

    later.components.answerer = components.answerer
    *_, (after, _, _, same) = later.respond("And part-time staff?", reopened, turns, collection, "alice", conversation)
    assert same == conversation
    assert components.answerer.histories[-1] == [("How many days of leave?", "Answer to How many days of leave? [1]")]
    assert [t.question for t in later.components.conversations.turns("alice", conversation)] == [
        "How many days of leave?", "And part-time staff?"]

    from assistant.accounts import ConversationNotFound
    with pytest.raises(ConversationNotFound):
        later.open_conversation("bob", conversation)
    with pytest.raises(ConversationNotFound):
        list(later.respond("Mine now?", [], [], "handbook", "bob", conversation))
    assert len(later.components.conversations.turns("alice", conversation)) == 2

    # Thumbs on the second answer (message 3: question, answer, question, answer), with a comment.
    assert later.give_feedback("alice", conversation, after, 0, True) == "Only a finished answer can be rated."
    assert later.give_feedback("alice", conversation, after, 3, False, "Too vague") == "Thank you: your feedback was saved."
    [entry] = later.components.conversations.feedback()
    assert (entry.user, entry.rating, entry.comment, entry.question) == ("alice", -1, "Too vague", "And part-time staff?")


def test_a_message_sent_back_by_the_browser_as_parts_reads_as_the_text_the_server_wrote():
    from ui.web.chat import ANSWER_START, message_text

    written = f'{ANSWER_START}25 days [1]</div>'
    assert message_text(written) == written
    assert message_text([{"type": "text", "text": written}]) == written  # Gradio 6, from a browser
    assert message_text({"type": "text", "text": written}) == written


def test_readyz_says_503_until_the_model_is_loaded_and_while_a_server_does_not_answer(home):
    """What a proxy asks before sending staff to a worker, without a login: states only."""
    import threading

    from starlette.testclient import TestClient

    from tests.conftest import free_port
    from ui.web.app import build_web_app
    from ui.web.chat import ModelLoader

    release = threading.Event()
    loader = ModelLoader(lambda: release.wait(60)).start()  # a model that takes its time to load
    components = Components(load_settings(ui_require_login=True))
    client = TestClient(build_web_app(components, loader), base_url="http://127.0.0.1")
    loading = client.get("/readyz")
    assert (loading.status_code, loading.json()) == (503, {"model": "loading", "accounts_database": "ok", "store": "ok"})
    release.set()
    assert loader.wait(60)
    assert (client.get("/readyz").status_code, client.get("/readyz").json()["model"]) == (200, "ready")

    # A Chroma server that is not there (a closed loopback port): not ready, and nothing of its address said.
    port = free_port()
    away = Components(load_settings(ui_require_login=True, chroma_mode="server", chroma_host="127.0.0.1",
                                    chroma_port=port))
    response = TestClient(build_web_app(away), base_url="http://127.0.0.1").get("/readyz")
    assert (response.status_code, response.json()["store"]) == (503, "unreachable")
    assert str(port) not in response.text


def test_only_our_own_routes_and_what_lies_under_them_skip_the_guard():
    from ui.web.app import OWN_ROUTES
    from ui.web.guard import is_exempt

    for path in ("/login", "/logout", "/healthz", "/readyz", "/upload", "/v1/models", "/v1/chat/completions", "/documents/c/x"):
        assert is_exempt(path, OWN_ROUTES), path
    for path in ("/loginx", "/uploadx", "/healthz-debug", "/v1", "/v1x/models", "/documentsx", "/gradio_api/upload"):
        assert not is_exempt(path, OWN_ROUTES), path


def test_the_conversation_has_no_button_that_shares_it_off_the_machine(tmp_path):
    import gradio as gr

    from assistant.components import Components
    from assistant.settings import load_settings
    from ui.web.chat import build_chat

    blocks = build_chat(Components(load_settings(home=tmp_path)))
    [chatbot] = [b for b in blocks.blocks.values() if isinstance(b, gr.Chatbot)]
    assert "share" not in chatbot.buttons and "copy" in chatbot.buttons
