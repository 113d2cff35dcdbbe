"""The web chat: Gradio over the assistant core.

(No `from __future__ import annotations` here: Gradio reads the gr.Request annotation at run time.)

browser -> here (who is asking, which collections they may read) -> assistant.answer -> back.
Login is required whenever the UI is reachable from another machine; the collections a user may
read are the only ones their questions are searched in.
"""

import html
import ipaddress
import logging
import threading
from typing import Iterator

import assistant  # noqa: F401  (network doors closed before gradio is imported)
from assistant.access import LOCAL_ADMIN, User
from assistant.answer import Finished, SourcesFound, TextDelta, Turn
from assistant.components import Components
from assistant.errors import UsageError

log = logging.getLogger(__name__)

TITLE = "Document assistant"
INTRO = ("Ask about your company's documents. Answers come from a model running on this machine "
         "and cite the passages they use; nothing leaves the premises.")


class UIConfigError(UsageError):
    """The UI cannot start as configured; the message says what to change."""


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def login_required(components: Components) -> bool:
    """Logins are needed off loopback, when asked for, or as soon as users exist."""
    settings = components.settings
    has_users = components.users.has_users()
    if not is_loopback(settings.ui_host) and not has_users:
        raise UIConfigError(
            f"refusing to serve on {settings.ui_host}: anyone on the network could read the documents. "
            "Add a login first (`assistant users add NAME`), or bind 127.0.0.1.")
    if settings.ui_require_login and not has_users:
        raise UIConfigError("ui_require_login is set but there are no users: add one with `assistant users add NAME`")
    return has_users or settings.ui_require_login or not is_loopback(settings.ui_host)


def render_sources(passages, heading: str = "Sources") -> str:
    if not passages:
        return ""
    items = []
    for number, passage in enumerate(passages, 1):
        snippet = " ".join(passage.text.split())
        short = snippet[:220] + ("…" if len(snippet) > 220 else "")
        items.append(
            f"<details class='source'><summary><b>[{number}] {html.escape(passage.label())}</b>"
            f" — {html.escape(short)}</summary><p>{html.escape(snippet)}</p>"
            f"<p><small>{html.escape(passage.source)}</small></p></details>")
    return f"\n\n**{heading}**\n\n" + "\n".join(items)


class ChatSession:
    """What one browser conversation needs; the model is shared and used by one question at a time."""

    def __init__(self, components: Components, require_login: bool):
        self.components = components
        self.require_login = require_login
        self._model_lock = threading.Lock()

    def user_for(self, username: str | None) -> User:
        if not self.require_login:
            return LOCAL_ADMIN
        user = self.components.users.get(username or "")
        if user is None:
            raise PermissionError("not logged in")
        return user

    def readable_collections(self, username: str | None) -> list[str]:
        return self.user_for(username).readable(self.components.store.collection_names())

    def default_collection(self, readable: list[str]) -> str | None:
        default = self.components.settings.default_collection
        return default if default in readable else (readable[0] if readable else None)

    def respond(self, message: str, history: list[dict], turns: list[Turn], collection: str | None,
                username: str | None) -> Iterator[tuple[list[dict], list[Turn], str]]:
        message = (message or "").strip()
        if not message:
            yield history, turns, ""
            return
        readable = self.readable_collections(username)
        history = history + [{"role": "user", "content": message}]
        if not collection:  # asked before the picker loaded: the default, if this user may read it
            collection = self.default_collection(readable)
        if collection not in readable:
            text = ("No collection is available to you yet." if not readable
                    else f"Pick a collection first (you can read: {', '.join(readable)}).")
            yield history + [{"role": "assistant", "content": text}], turns, ""
            return
        history = history + [{"role": "assistant", "content": "_Searching the documents…_"}]
        yield history, turns, ""
        sources, answer_text = "", ""
        with self._model_lock:
            for event in self.components.answerer.stream(message, [collection], turns):
                if isinstance(event, SourcesFound):
                    sources = render_sources(event.passages)
                    history[-1] = {"role": "assistant", "content": "_Writing the answer…_" + sources}
                elif isinstance(event, TextDelta):
                    answer_text += event.text
                    history[-1] = {"role": "assistant", "content": answer_text + sources}
                elif isinstance(event, Finished):
                    answer = event.answer
                    final_sources = render_sources(answer.sources,
                                                   "Passages checked" if answer.refused else "Sources")
                    history[-1] = {"role": "assistant", "content": answer.text + final_sources}
                    turns = turns + [Turn(message, answer.text)]
                yield history, turns, ""


def build_app(components: Components, require_login: bool):
    import gradio as gr

    session = ChatSession(components, require_login)

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
            collection = gr.Dropdown(label="Collection", choices=[], value=None, interactive=True, scale=1)
        chatbot = gr.Chatbot(label="Conversation", height=560, elem_id="conversation", buttons=["copy"],
                             sanitize_html=True)
        turns = gr.State([])
        with gr.Row():
            question = gr.Textbox(label="Question", placeholder="Ask about the documents…", scale=8,
                                  elem_id="question", autofocus=True, submit_btn=False)
            ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
        new_chat = gr.Button("New conversation", size="sm")
        inputs = [question, chatbot, turns, collection]
        outputs = [chatbot, turns, question]
        question.submit(respond, inputs, outputs, concurrency_limit=1)
        ask.click(respond, inputs, outputs, concurrency_limit=1)
        new_chat.click(clear, None, outputs)
        collection.input(clear, None, outputs)  # a user switching collections starts afresh
        app.load(load_collections, None, collection)
    return app


def serve(components: Components) -> None:
    settings = components.settings
    require_login = login_required(components)
    app = build_app(components, require_login)
    auth = components.users.authenticate if require_login else None
    url = f"http://{settings.ui_host}:{settings.ui_port}"
    print(f"Chat UI: {url}" + ("  (login required)" if require_login else ""), flush=True)
    app.queue(default_concurrency_limit=1).launch(
        server_name=settings.ui_host, server_port=settings.ui_port, auth=auth, share=False,
        auth_message="Log in with the account your administrator created.", quiet=True, ssr_mode=False,
        footer_links=[], show_error=False, inbrowser=False, enable_monitoring=False, mcp_server=False, pwa=False)
