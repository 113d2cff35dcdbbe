"""The chat page: Gradio Blocks over the assistant core, mounted in our web app (ui/web/app.py),
which has already checked who is asking (`request.username`) before any event reaches here.

(No `from __future__ import annotations` here: Gradio reads the gr.Request annotation at run time.)

browser -> here (which collections this user may read) -> assistant.answer -> back. The
collections a user may read are the only ones their questions are searched in, and they are
looked up again for every question: a grant revoked mid-session holds at the next question.
"""

import logging
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import assistant  # noqa: F401  (network doors closed before gradio is imported)
from assistant.accounts import AuditKind, QuestionOutcome, passages_shown
from assistant.answer import Finished, Retracted, SourcesFound, TextDelta, Turn
from assistant.components import Components
from ui.render import CHATBOT_OPTIONS, answer_html, question_html, sources_html, status_html
from ui.web.login import LOCAL_USER

log = logging.getLogger(__name__)

TITLE = "Document assistant"
INTRO = ("Ask about your company's documents. Answers come from a model running on this machine "
         "and cite the passages they use; nothing leaves the premises.")


class ChatSession:
    """What one browser conversation needs; the model is shared and used by one question at a time."""

    def __init__(self, components: Components):
        self.components = components
        self._model_lock = threading.Lock()

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
            if answer is None:
                self._audit_question(username, question, collection, QuestionOutcome.STOPPED, found, [])
            else:
                self._audit_question(username, question, collection,
                                     QuestionOutcome.REFUSAL if answer.refused else QuestionOutcome.ANSWER,
                                     found, answer.sources)

    def _audit_question(self, username, question, collection, outcome, found, cited) -> None:
        self.components.audit.record(AuditKind.QUESTION, username, {
            "question": question, "collections": [collection] if outcome != QuestionOutcome.NO_ACCESS else [],
            "asked_for": collection, "outcome": outcome.value, "shown": passages_shown(found),
            "cited": passages_shown(cited)})

    def respond(self, message: str, history: list[dict], turns: list[Turn], collection: str | None,
                username: str | None) -> Iterator[tuple[list[dict], list[Turn], str]]:
        message = (message or "").strip()
        if not message:
            yield history, turns, ""
            return
        readable = self.readable_collections(username)
        history = history + [{"role": "user", "content": question_html(message)}]
        if not collection:  # asked before the picker loaded: the default, if this user may read it
            collection = self.default_collection(readable)
        if collection not in readable:
            self._audit_question(username, message, collection, QuestionOutcome.NO_ACCESS, [], [])
            text = ("No collection is available to you yet." if not readable
                    else f"Pick a collection first (you can read: {', '.join(readable)}).")
            yield history + [{"role": "assistant", "content": status_html(text)}], turns, ""
            return
        history = history + [{"role": "assistant", "content": status_html("Searching the documents…")}]
        yield history, turns, ""
        # Each answer's sources get ids of their own, so a citation link opens its own answer's source.
        anchor = f"turn{len(turns) + 1}-source"
        sources, shown, answer_text = "", 0, ""
        found, answer = [], None
        with self._model_lock, self._audited(username, message, collection, lambda: (found, answer)):
            for event in self.components.answerer.stream(message, [collection], turns):
                if isinstance(event, SourcesFound):
                    found = event.passages
                    sources, shown = sources_html(event.passages, "Sources", anchor=anchor), len(event.passages)
                    history[-1] = {"role": "assistant", "content": status_html("Writing the answer…") + sources}
                elif isinstance(event, Retracted):  # a fact not in its excerpt: what follows replaces it
                    answer_text = ""
                elif isinstance(event, TextDelta):
                    answer_text += event.text
                    history[-1] = {"role": "assistant",
                                   "content": answer_html(answer_text, shown, anchor=anchor) + sources}
                elif isinstance(event, Finished):
                    answer = event.answer
                    heading = "Passages checked" if answer.refused else "Sources"
                    history[-1] = {"role": "assistant",
                                   "content": answer_html(answer.text, len(answer.sources), anchor=anchor)
                                   + sources_html(answer.sources, heading, anchor=anchor, quotes=answer.quotes)}
                    turns = turns + [Turn(message, answer.text)]
                yield history, turns, ""


def build_chat(components: Components):
    import gradio as gr

    session = ChatSession(components)

    def load_collections(request: gr.Request):
        readable = session.readable_collections(request.username)
        return gr.Dropdown(choices=readable, value=session.default_collection(readable))

    def respond(message, history, turns, collection, request: gr.Request):
        yield from session.respond(message, history, turns, collection, request.username)

    def clear():
        return [], [], ""

    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(f"## {TITLE}\n{INTRO}")
        with gr.Row():
            # Any value is let through to respond(), which checks it against what the user may read:
            # the access check is ours, not the widget's list of choices.
            collection = gr.Dropdown(label="Collection", choices=[], value=None, interactive=True, scale=1,
                                     allow_custom_value=True)
        # Every message is our own escaped HTML (ui/render.py); Markdown is never interpreted.
        chatbot = gr.Chatbot(label="Conversation", height=560, elem_id="conversation", **CHATBOT_OPTIONS)
        turns = gr.State([])
        with gr.Row():
            question = gr.Textbox(label="Question", placeholder="Ask about the documents…", scale=8,
                                  elem_id="question", autofocus=True, submit_btn=False)
            ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
        with gr.Row():
            new_chat = gr.Button("New conversation", size="sm")
            gr.Button("Log out", size="sm", link="/logout", elem_id="logout")
        inputs = [question, chatbot, turns, collection]
        outputs = [chatbot, turns, question]
        question.submit(respond, inputs, outputs, concurrency_limit=1)
        ask.click(respond, inputs, outputs, concurrency_limit=1)
        new_chat.click(clear, None, outputs)
        collection.input(clear, None, outputs)  # a user switching collections starts afresh
        app.load(load_collections, None, collection)
    return app
