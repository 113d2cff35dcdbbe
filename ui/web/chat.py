"""The chat page: Gradio Blocks over the assistant core, mounted in our web app (ui/web/app.py),
which has already checked who is asking (`request.username`) before any event reaches here.

(No `from __future__ import annotations` here: Gradio reads the gr.Request annotation at run time.)

browser -> here (which collections this user may read) -> assistant.answer -> back. The
collections a user may read are the only ones their questions are searched in, and they are
looked up again for every question: a grant revoked mid-session holds at the next question.

Conversations (assistant/accounts/conversations.py): each answered question is kept as a turn
of the current conversation (a new one, named after its first question, when there is none).
The list on the left is the user's own, newest first, searchable; opening one renders its turns
as they were answered, and its turns become the history the next question is condensed with.
The id of the conversation being continued lives in server-side state; the id a click on the list
sends is checked against the user by the service, like every other call.

Waiting: the model answers one question at a time, in the order they came (ui/web/line.py
ModelQueue, shared with the API). A question that waits shows how many are ahead of it, and moves
up as they finish; Gradio's own queue would show only a spinner. The line is bounded
(max_waiting_questions): a question beyond it is told at once that the assistant is busy, how many
are ahead and when to try again, and is neither kept nor waiting. The model is loaded in the
background when `assistant ui` starts (ModelLoader); a question that comes first says "The model is
loading…" and then proceeds. Stop
ends the answer at its next step (waiting, loading or writing): the partial answer is replaced by a
line saying so, is not kept in the conversation, and the audit records the question as stopped.
A model server or Chroma server that stops answering mid-way ends the answer the same way, with
the error's one line in place of the partial answer (tests/servers/test_faults.py).

Upload (ui/web/upload.py): a drop zone beside the chat, drawn only for a user who may write to a
collection.
"""

import logging
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import assistant  # noqa: F401  (network doors closed before gradio is imported)
from assistant.accounts import QuestionOutcome
from assistant.answer import Finished, Retracted, SourcesFound, TextDelta, Turn
from assistant.components import Components
from assistant.errors import LLMError, StoreError
from ui.render import CHATBOT_OPTIONS, answer_html, question_html, source_numbers, sources_html, status_html
from ui.web.line import Busy, ModelQueue
from ui.web.login import LOCAL_USER

log = logging.getLogger(__name__)

STOP_HEARD_WITHIN_S = 0.5  # how often a waiting question looks whether it was stopped
MODEL_LOADING = "The model is loading… your question is answered as soon as it is ready."
STOPPED = "Stopped. This answer was not kept."
FAILED = "The answer could not be finished and was not kept."

TITLE = "Document assistant"
INTRO = ("Ask about your company's documents. Answers come from a model running on this machine "
         "and cite the passages they use; nothing leaves the premises.")


class ModelLoader:
    """Loads the model in a thread of its own, so the first question does not pay for it. Until
    `start` is called it claims nothing: the answerer loads the model on first use, as before."""

    def __init__(self, load: Callable[[], object]):
        self._load = load
        self._done = threading.Event()
        self._started = False

    def start(self) -> "ModelLoader":
        if not self._started:
            self._started = True
            threading.Thread(target=self._run, name="model-loader", daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            self._load()
        except Exception:  # the first question meets the same error, with its one-line message
            log.exception("loading the model at start-up failed")
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        return not self._started or self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.ready or self._done.wait(timeout)


def load_model(components: Components) -> None:
    """What the first question would otherwise wait for: the language model, the embedder, the store."""
    components.chat_model  # noqa: B018  (built on first access)
    components.retriever  # noqa: B018
    components.embedder.embed(["warm-up"])


class ChatSession:
    """What one browser conversation needs; the model is shared and used by one question at a time."""

    def __init__(self, components: Components, loader: ModelLoader | None = None, queue: ModelQueue | None = None):
        self.components = components
        self._answering: dict[str, int] = {}  # browser session -> its questions not yet ended
        self._stop_asked: set[str] = set()  # browser sessions whose answer is to stop
        self._lock = threading.Lock()
        # app.py passes the one it shares with the API (ui/web/api.py)
        self.queue = queue or ModelQueue(components.settings.max_waiting_questions)
        self.loader = loader or ModelLoader(lambda: load_model(components))

    def readable_collections(self, username: str | None) -> list[str]:
        existing = self.components.store.collection_names()
        if username == LOCAL_USER:
            return existing
        if not username:
            raise PermissionError("not logged in")
        return self.components.accounts.readable(username, existing)

    def default_collection(self, readable: list[str]) -> str | None:
        default = self.components.settings.default_collection
        return default if default in readable else (readable[0] if readable else None)

    @contextmanager
    def _audited(self, username: str | None, question: str, collection: str, outcome: Callable[[], tuple]):
        """Record the question once answering ends, however it ends (finished, stopped, failed)."""
        try:
            yield
        finally:
            found, answer = outcome()
            self.components.audit.question(username, question, collection, QuestionOutcome.STOPPED if answer is None
                                           else QuestionOutcome.ANSWER, found, answer)

    def respond(self, message: str, history: list[dict], turns: list[Turn], collection: str | None,
                username: str | None, conversation_id: str | None = None, *, browser_session: str = ""
                ) -> Iterator[tuple[list[dict], list[Turn], str, str | None]]:
        """Answer in the conversation `conversation_id` (a new one, named after the question, when
        None); yields (chat messages, turns, the question box, the conversation's id)."""
        message = (message or "").strip()
        # An answer stopped mid-way may still show in what the browser sends: it says it was stopped.
        history = [_settled(m) for m in history]
        if not message:
            yield history, turns, "", conversation_id
            return
        with self._lock:
            self._answering[browser_session] = self._answering.get(browser_session, 0) + 1
        shown = (history + [{"role": "user", "content": question_html(message)}, {}], turns, "", conversation_id)
        try:
            for shown in self._respond(message, history, turns, collection, username, conversation_id,
                                       lambda: browser_session in self._stop_asked):
                yield shown
        except (LLMError, StoreError) as e:  # the model server or the store stopped answering: nothing is kept
            # (a conversation not the user's is not one of these: it raises, as Gradio shows any refusal)
            log.warning("answering failed: %s", e)
            yield _failed_at(shown[0], e), *shown[1:]
        finally:
            with self._lock:
                self._answering[browser_session] -= 1
                if not self._answering[browser_session]:
                    del self._answering[browser_session]
                    self._stop_asked.discard(browser_session)

    def stop(self, browser_session: str) -> None:
        """Stop the answer this browser session is waiting for or reading: it ends at its next step
        with the line saying so (its own last update, so nothing it sent can come after). A Stop
        while nothing is being answered is forgotten, not kept for the next question."""
        with self._lock:
            if browser_session in self._answering:
                self._stop_asked.add(browser_session)

    def _respond(self, message: str, history: list[dict], turns: list[Turn], collection: str | None,
                 username: str | None, conversation_id: str | None, stop_asked: Callable[[], bool]):
        readable = self.readable_collections(username)
        history = history + [{"role": "user", "content": question_html(message)}]
        if not collection:  # asked before the picker loaded: the default, if this user may read it
            collection = self.default_collection(readable)
        if collection not in readable:
            self.components.audit.question(username, message, collection, QuestionOutcome.NO_ACCESS)
            text = ("No collection is available to you yet." if not readable
                    else f"Pick a collection first (you can read: {', '.join(readable)}).")
            yield history + [{"role": "assistant", "content": status_html(text)}], turns, "", conversation_id
            return
        if conversation_id is not None:
            self.components.conversations.get(username, conversation_id)  # theirs, or ConversationNotFound
        history = history + [{"role": "assistant", "content": status_html("Searching the documents…")}]
        # Each answer's sources get ids of their own, so a citation link opens its own answer's source.
        anchor = f"turn{len(turns) + 1}-source"
        sources, shown, answer_text = "", 0, ""
        found, answer = [], None
        try:
            ticket = self.queue.join()
        except Busy as busy:  # refused at once, not kept: the line is as long as it may be
            self.components.audit.question(username, message, collection, QuestionOutcome.BUSY)
            yield history[:-1] + [{"role": "assistant", "content": status_html(str(busy))}], turns, "", conversation_id
            return
        try:
            with self._audited(username, message, collection, lambda: (found, answer)):
                ahead = self.queue.ahead(ticket)
                while ahead:
                    if stop_asked():
                        yield _stopped_at(history), turns, "", conversation_id
                        return
                    history[-1] = {"role": "assistant", "content": status_html(waiting_line(ahead))}
                    yield history, turns, "", conversation_id
                    ahead = self.queue.wait(ticket, ahead, timeout=STOP_HEARD_WITHIN_S)
                if not self.loader.ready:
                    history[-1] = {"role": "assistant", "content": status_html(MODEL_LOADING)}
                    yield history, turns, "", conversation_id
                    while not self.loader.wait(timeout=STOP_HEARD_WITHIN_S):
                        if stop_asked():
                            yield _stopped_at(history), turns, "", conversation_id
                            return
                    history[-1] = {"role": "assistant", "content": status_html("Searching the documents…")}
                yield history, turns, "", conversation_id
                stream = self.components.answerer.stream(message, [collection], turns)
                for event in _closing(stream):
                    if stop_asked():  # the partial answer goes: it is neither kept nor shown as an answer
                        yield _stopped_at(history), turns, "", conversation_id
                        return
                    if isinstance(event, SourcesFound):
                        found = event.passages
                        # Not the prompt's numbering yet (ui/render.py): unnumbered, no marker links until Finished.
                        sources, shown = sources_html(event.passages, "Sources", anchor=anchor, numbered=False), 0
                        history[-1] = {"role": "assistant", "content": status_html("Writing the answer…") + sources}
                    elif isinstance(event, Retracted):  # a fact not in its excerpt: what follows replaces it
                        answer_text = ""
                    elif isinstance(event, TextDelta):
                        answer_text += event.text
                        history[-1] = {"role": "assistant", "content": partial_answer(
                            answer_html(answer_text, shown, anchor=anchor)) + sources}
                    elif isinstance(event, Finished):
                        answer = event.answer
                        history[-1] = {"role": "assistant", "content": answer_message(
                            answer.text, answer.sources, answer.quotes, answer.refused, anchor)}
                        turns = turns + [Turn(message, answer.text)]
                        conversation_id = self._keep(username, conversation_id, collection, message, answer)
                    yield history, turns, "", conversation_id
        finally:
            self.queue.leave(ticket)

    def _keep(self, username: str, conversation_id: str | None, collection: str, question: str, answer) -> str:
        conversations = self.components.conversations
        if conversation_id is None:
            conversation_id = conversations.start(username, collection, question).id
        conversations.add_turn(username, conversation_id, question, answer.text, refused=answer.refused,
                               sources=answer.sources, quotes=answer.quotes)
        return conversation_id

    # ---------------------------------------------------------------- the conversation list
    def conversation_choices(self, username: str | None, search: str = "") -> list[tuple[str, str]]:
        """(title, id) of the user's conversations, newest first."""
        if not username:
            raise PermissionError("not logged in")
        return [(c.title, c.id) for c in self.components.conversations.list(username, search or "")]

    def open_conversation(self, username: str | None, conversation_id: str
                          ) -> tuple[list[dict], list[Turn], str, str]:
        """(chat messages, turns, collection, title) of one of the user's conversations, as answered."""
        if not username:
            raise PermissionError("not logged in")
        conversations = self.components.conversations
        info = conversations.get(username, conversation_id)
        history, turns = [], []
        for number, turn in enumerate(conversations.turns(username, conversation_id), 1):
            history.append({"role": "user", "content": question_html(turn.question)})
            history.append({"role": "assistant", "content": answer_message(
                turn.answer, turn.sources, turn.quotes, turn.refused, f"turn{number}-source")})
            turns.append(Turn(turn.question, turn.answer))
        return history, turns, info.collection, info.title

    def give_feedback(self, username: str | None, conversation_id: str | None, history: list[dict], index: int,
                      liked: bool, comment: str = "") -> str:
        """Thumbs on the chat message at `index`: the stored answer it shows is found by counting the
        answers above it (status lines are not stored). Returns what to tell the user."""
        if not username:
            raise PermissionError("not logged in")
        if not conversation_id or not 0 <= index < len(history):
            return "Only a finished answer can be rated."
        answers = [i for i, m in enumerate(history) if m.get("role") == "assistant"
                   and message_text(m.get("content", "")).startswith(ANSWER_START)]
        if index not in answers:
            return "Only a finished answer can be rated."
        self.components.conversations.give_feedback(username, conversation_id, answers.index(index),
                                                    1 if liked else -1, comment)
        return "Thank you: your feedback was saved."


def message_text(content) -> str:
    """A chat message's text as the server wrote it. From a browser, Gradio 6 sends each message's
    content back as a list of parts ([{"type": "text", "text": ...}]), not the string it was given."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else [content]
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in parts)


ANSWER_START = '<div class="answer">'  # how answer_html begins: a stored answer, not a status line
PARTIAL_START = '<div class="answer partial">'  # an answer still being written: neither rated nor kept


def partial_answer(answer: str) -> str:
    return answer.replace(ANSWER_START, PARTIAL_START, 1)


def waiting_line(ahead: int) -> str:
    return f"Waiting: {ahead} question{'s' if ahead != 1 else ''} ahead of yours…"


_IN_PROGRESS = (PARTIAL_START, status_html("Searching the documents…"), status_html("Writing the answer…"),
                status_html(MODEL_LOADING), status_html("Waiting: ")[:-len("</em></p>")])


def _settled(message: dict) -> dict:
    """A chat message as it stands once answering ended: one still in progress was stopped."""
    if message.get("role") == "assistant" and message_text(message.get("content", "")).startswith(_IN_PROGRESS):
        return {"role": "assistant", "content": status_html(STOPPED)}
    return message


def _stopped_at(history: list[dict]) -> list[dict]:
    return history[:-1] + [{"role": "assistant", "content": status_html(STOPPED)}]


def _failed_at(history: list[dict], error: Exception) -> list[dict]:
    """The answer in progress replaced by the line saying why it failed (the error's one line)."""
    text = str(error)
    return history[:-1] + [{"role": "assistant", "content": status_html(f"{FAILED} {text[:1].upper()}{text[1:]}.")}]


def _closing(stream: Iterator) -> Iterator:
    """The stream's events; closed however the loop over them ends (the model stops writing)."""
    try:
        yield from stream
    finally:
        stream.close()


def answer_message(text: str, sources, quotes, refused: bool, anchor: str) -> str:
    heading = "Passages checked" if refused else "Sources"
    numbers = source_numbers(text, len(sources))  # each source under the number its markers say
    return (answer_html(text, len(sources), anchor=anchor, numbers=numbers)
            + sources_html(sources, heading, anchor=anchor, quotes=quotes, numbers=numbers))


def build_chat(components: Components, loader: ModelLoader | None = None, queue: ModelQueue | None = None):
    import gradio as gr

    from assistant.errors import AccessError
    from ui.web.upload import UPLOAD_CSS, UPLOAD_JS, Uploads, panel_html

    session = ChatSession(components, loader, queue)
    uploads = Uploads(components)

    def conversation_list(username, search="", value=None):
        choices = session.conversation_choices(username, search)
        return gr.Radio(choices=choices, value=value if value in [c[1] for c in choices] else None)

    def load(request: gr.Request):
        readable = session.readable_collections(request.username)
        return (gr.Dropdown(choices=readable, value=session.default_collection(readable)),
                conversation_list(request.username),
                panel_html(uploads.writable_collections(request.username), components.settings))

    def respond(message, history, turns, collection, conversation_id, request: gr.Request):
        yield from session.respond(message, history, turns, collection, request.username, conversation_id,
                                   browser_session=request.session_hash or "")

    def stop_answer(request: gr.Request):
        session.stop(request.session_hash or "")

    def refresh(search, conversation_id, request: gr.Request):
        return conversation_list(request.username, search, conversation_id)

    def open_one(conversation_id, request: gr.Request):
        if not conversation_id:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            history, turns, collection, title = session.open_conversation(request.username, conversation_id)
        except AccessError as e:
            raise gr.Error(str(e), print_exception=False) from None
        return history, turns, conversation_id, collection, title

    def rename(conversation_id, title, search, request: gr.Request):
        if not conversation_id:
            raise gr.Error("Open or start a conversation first.", print_exception=False)
        try:
            components.conversations.rename(request.username, conversation_id, title)
        except AccessError as e:
            raise gr.Error(str(e), print_exception=False) from None
        return conversation_list(request.username, search, conversation_id)

    def delete(conversation_id, search, request: gr.Request):
        if conversation_id:
            try:
                components.conversations.delete(request.username, conversation_id)
            except AccessError as e:
                raise gr.Error(str(e), print_exception=False) from None
        return [], [], "", None, "", conversation_list(request.username, search)

    def clear():
        return [], [], "", None, ""

    def rate(conversation_id, history, request: gr.Request, like: gr.LikeData):
        index = like.index if isinstance(like.index, int) else like.index[0]
        note = session.give_feedback(request.username, conversation_id, history, index, bool(like.liked))
        return note, (conversation_id, index, bool(like.liked))

    def comment_on(conversation_id, history, rated, comment, request: gr.Request):
        if not rated or rated[0] != conversation_id:
            return "Rate an answer with a thumb first, then comment on it.", comment
        _, index, liked = rated
        return session.give_feedback(request.username, conversation_id, history, index, liked, comment), ""

    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(f"## {TITLE}\n{INTRO}")
        conversation_id = gr.State(None)
        turns = gr.State([])
        with gr.Row():
            with gr.Column(scale=1, min_width=240):
                new_chat = gr.Button("New conversation", variant="secondary", elem_id="new-conversation")
                search = gr.Textbox(label="Search conversations", placeholder="Words…", elem_id="search-conversations")
                # The browser sends back an id; open_one and the service check it is this user's.
                conversations = gr.Radio(label="Conversations", choices=[], value=None, elem_id="conversations")
                title = gr.Textbox(label="Title", elem_id="conversation-title")
                with gr.Row():
                    rename_button = gr.Button("Rename", size="sm", elem_id="rename-conversation")
                    delete_button = gr.Button("Delete", size="sm", variant="stop", elem_id="delete-conversation")
            with gr.Column(scale=4):
                # Any value is let through to respond(), which checks it against what the user may read:
                # the access check is ours, not the widget's list of choices.
                collection = gr.Dropdown(label="Collection", choices=[], value=None, interactive=True,
                                         allow_custom_value=True)
                # Every message is our own escaped HTML (ui/render.py); Markdown is never interpreted.
                chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="conversation", **CHATBOT_OPTIONS)
                with gr.Row():
                    question = gr.Textbox(label="Question", placeholder="Ask about the documents…", scale=8,
                                          elem_id="question", autofocus=True, submit_btn=False)
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    stop = gr.Button("Stop", variant="stop", scale=1, elem_id="stop")
                with gr.Row():
                    comment = gr.Textbox(label="Comment on the answer you rated (optional)", scale=6,
                                         elem_id="feedback-comment")
                    send_comment = gr.Button("Send comment", size="sm", scale=1, elem_id="send-comment")
                feedback_note = gr.Markdown("", elem_id="feedback-note")
                rated = gr.State(None)
                # Drawn by load() only for a user who may write to a collection; it posts to our
                # own /upload route (ui/web/upload.py), never to Gradio's.
                upload_panel = gr.HTML("", elem_id="upload", js_on_load=UPLOAD_JS, css_template=UPLOAD_CSS)
                gr.Button("Log out", size="sm", link="/logout", elem_id="logout")
        inputs = [question, chatbot, turns, collection, conversation_id]
        outputs = [chatbot, turns, question, conversation_id]
        # Every question goes on to our line (the one answered, and as many waiting as it holds),
        # which shows each its position and tells one more it is busy: none is left in Gradio's own
        # queue, which is unbounded and shows only a spinner. A waiting question holds a worker thread.
        in_line = session.queue.max_waiting + 1
        app.max_threads = max(app.max_threads, in_line + 8)  # the line's, and room for the page's other events
        asked = [trigger(respond, inputs, outputs, concurrency_limit=in_line, concurrency_id="respond")
                 for trigger in (question.submit, ask.click)]
        for event in asked:
            event.then(refresh, [search, conversation_id], conversations)
        # Not Gradio's cancels=: a cancelled event's last streamed update could land after the line
        # saying it stopped, and put the partial answer back. The answer stops itself instead.
        stop.click(stop_answer, None, None)
        cleared = [chatbot, turns, question, conversation_id, title]
        new_chat.click(clear, None, cleared).then(refresh, [search, conversation_id], conversations)
        collection.input(clear, None, cleared)  # a user switching collections starts afresh
        conversations.input(open_one, conversations, [chatbot, turns, conversation_id, collection, title])
        search.change(refresh, [search, conversation_id], conversations)
        rename_button.click(rename, [conversation_id, title, search], conversations)
        title.submit(rename, [conversation_id, title, search], conversations)
        delete_button.click(delete, [conversation_id, search], [*cleared, conversations])
        chatbot.like(rate, [conversation_id, chatbot], [feedback_note, rated])
        send_comment.click(comment_on, [conversation_id, chatbot, rated, comment], [feedback_note, comment])
        app.load(load, None, [collection, conversations, upload_panel])
    return app
