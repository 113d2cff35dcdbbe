"""Our OpenAI-compatible API, mounted at /v1 of the web app: other tools (OpenAI clients, chat
front-ends, scripts) ask the documents as one user, with a token from `assistant tokens create USER`.

    POST /v1/chat/completions    an answer, streamed (SSE) or not, with its citations
    GET  /v1/models              the collections the token's user may read, one model each
    GET  /v1/models/{id}
    POST /v1/search              passages for a query (no model): file, page, heading, score, text

**The model is the collection.** `model: "handbook"` asks the collection `handbook`. Every OpenAI
client and front-end lets its user pick a model from /v1/models; few let them add a field of
their own to each request. So any of them can ask any collection its user may read, unchanged.

Everything else is the chat's (ui/web/chat.py): the same core (`Answerer.stream` with the
conversation as `Turn`s, built from the request's user/assistant messages; system messages are
not passed to the model, whose prompt is ours), the same access check (`Accounts.readable`, looked
up again on every request), the same audit trail (a QUESTION event with the passages shown and
cited), and the same line at the model (ui/web/line.py ModelQueue: one question at a time in this
process, first come first served, browser and API alike; a search takes its turn too, as the
embedder and the model share the cores). With more than max_waiting_questions ahead, a request is
answered 429 at once (`code: "busy"`), with Retry-After and the chat's message, rather than left
hanging.
Sampling parameters (temperature, max_tokens, ...) are accepted and ignored: the answer's settings
are the server's.

Citations: the response carries `citations: [{n, collection, file, page, heading, quote, text}]`
next to `choices`, numbered as the chat numbers its sources: the text is the chat's, and each
citation's `n` is the number its [n] markers cite it by (the excerpt's number in the prompt; an
answer citing nothing has its passages numbered 1..k). `file` is the path inside the ingested
folder, never the server's. A refusal lists the passages that were checked, with empty quotes
(`refused: true`). Also there:
`grounding` (how the facts check went) and `understood_as` (a follow-up as a standalone question).

Streaming: answering can withdraw what the model wrote (a fact not in its excerpt is regenerated
or quoted, a refusal is replaced by what the documents do say: assistant/answer/events.py
`Retracted`). A stream cannot take text back, so the text is sent once it can no longer be
withdrawn. First, while the question waits for the model, an SSE comment `: ahead N` each time
its place in line changes, and `: ahead 0` when its turn comes (a client may show the position;
OpenAI clients ignore comments, as they do the keep-alive ones); the role, as soon as the passages
are found; SSE comments every few seconds while the model writes (proxies keep the connection);
then the answer, and a last chunk with `finish_reason`, the citations, and, with
`stream_options.include_usage`, the usage.

Access: `Authorization: Bearer TOKEN`, checked here on every request (the API needs no browser
session; the Gradio route guard lets /v1/ through to this app alone, never to Gradio). The
security middleware's Host and Origin checks still apply: a page on another site cannot call it.
A collection the user may not read is answered exactly as one that does not exist (404
`model_not_found`), so nobody learns which collections there are. Errors are OpenAI's JSON shape.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from assistant.accounts import AuditKind, QuestionOutcome, User, passages_shown
from assistant.answer import Answer, Finished, SourcesFound, Turn
from assistant.components import Components
from assistant.errors import AssistantError
from ui.render import source_numbers
from ui.web.line import Busy

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20  # a question with its conversation is a few kB
KEEPALIVE_S = 5.0
WAIT_POLL_S = 0.5  # how often a question waiting for the model checks that its client is still there
MAX_SEARCH_K = 50
OWNED_BY = "assistant"


class ApiError(Exception):
    """An error response, in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, retry_after_s: int | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param
        self.retry_after_s = retry_after_s

    def as_json(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        headers = {"cache-control": "no-store"}
        if self.status == 401:
            headers["www-authenticate"] = "Bearer"
        if self.retry_after_s is not None:
            headers["retry-after"] = str(self.retry_after_s)
        return JSONResponse(self.as_json(), status_code=self.status, headers=headers)


def not_found(name: str, param: str = "model") -> ApiError:
    """The same answer for a collection that does not exist and one the user may not read."""
    return ApiError(404, f"The model '{name}' does not exist or you do not have access to it.",
                    code="model_not_found", param=param)


# ---------------------------------------------------------------- requests
class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients send many fields we do not use


class TextPart(_Lenient):
    type: Literal["text"]
    text: str


class Message(_Lenient):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatRequest(_Lenient):
    model: str = Field(min_length=1, max_length=200)
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1)


class SearchRequest(_Lenient):
    query: str = Field(min_length=1, max_length=4000)
    collection: str = Field(min_length=1, max_length=200)
    k: int = Field(5, ge=1, le=MAX_SEARCH_K)


def parse(model: type[BaseModel], body: Any):
    try:
        return model.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ApiError(400, f"{where}: {first['msg']}" if where else first["msg"], param=where or None) from None


def question_and_turns(messages: list[Message]) -> tuple[str, list[Turn]]:
    """The question (the last message, the user's) and the conversation before it as Turns: each
    user message answered by the assistant message after it."""
    said = [m for m in messages if m.role in ("user", "assistant")]
    if not said or said[-1].role != "user":
        raise ApiError(400, "the last message must be the user's question", param="messages")
    turns, asked = [], None
    for message in said[:-1]:
        if message.role == "user":
            asked = message.text()
        elif asked is not None:
            turns.append(Turn(asked, message.text()))
            asked = None
    question = said[-1].text().strip()
    if not question:
        raise ApiError(400, "the question is empty", param="messages")
    return question, turns


async def json_body(request: Request) -> Any:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"the request is larger than {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, f"the request is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks) or b"null")
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None


# ---------------------------------------------------------------- answers as OpenAI responses
def citations(answer: Answer) -> list[dict]:
    """The answer's sources, each with the number its [n] markers cite it by, as the chat numbers
    them (ui/render.py `source_numbers`: a marker keeps its excerpt's number, so "[3] ... [1]"
    cites sources 3 and 1, listed in that order), and the file as staff know it."""
    numbers = source_numbers(answer.text, len(answer.sources))
    return [{"n": n, "collection": p.collection, "file": p.relative_path, "page": p.page, "heading": str(p.heading),
             "quote": answer.quote_of(i), "text": p.text} for i, (n, p) in enumerate(zip(numbers, answer.sources))]


def passage_json(number: int, passage) -> dict:
    return {"n": number, "collection": passage.collection, "file": passage.relative_path, "page": passage.page,
            "heading": str(passage.heading), "score": round(passage.score or 0.0, 4), "text": passage.text}


@dataclass
class Waiting:
    """A question's place in the line at the model: `ahead` questions before it (0: its turn)."""
    ahead: int


@dataclass
class Answered:
    """The finished answer and what the model wrote of it, in tokens (0 when it was not asked)."""
    answer: Answer
    completion_tokens: int


@dataclass
class Completion:
    """One chat completion's identity, shared by its chunks."""
    model: str
    id: str = ""
    created: int = 0

    def __post_init__(self):
        self.id = self.id or f"chatcmpl-{uuid.uuid4().hex}"
        self.created = self.created or int(time.time())

    def _head(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    @staticmethod
    def _usage(answered: Answered) -> dict:
        prompt = answered.answer.prompt_tokens
        return {"prompt_tokens": prompt, "completion_tokens": answered.completion_tokens,
                "total_tokens": prompt + answered.completion_tokens}

    @staticmethod
    def _extra(answer: Answer) -> dict:
        return {"citations": citations(answer), "refused": answer.refused, "grounding": answer.grounding,
                "understood_as": answer.standalone_question}

    def whole(self, answered: Answered) -> dict:
        answer = answered.answer
        return {**self._head("chat.completion"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text, "refusal": None},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": self._usage(answered), **self._extra(answer)}

    def chunk(self, delta: dict, finish_reason: str | None = None, **extra) -> str:
        body = {**self._head("chat.completion.chunk"),
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}], **extra}
        return sse(body)

    def last_chunks(self, answered: Answered, include_usage: bool) -> Iterator[str]:
        yield self.chunk({"content": answered.answer.text})
        yield self.chunk({}, "stop", **self._extra(answered.answer))
        if include_usage:
            yield sse({**self._head("chat.completion.chunk"), "choices": [], "usage": self._usage(answered)})


def sse(body: dict) -> str:
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def failure_error(error: BaseException) -> ApiError:
    """What the client is told when answering failed: the message of an error a user can fix (the
    model is missing, its server is down), nothing of a bug (that goes to the log)."""
    if isinstance(error, AssistantError):
        return ApiError(503, str(error), kind="server_error", code="unavailable")
    return ApiError(500, "the answer failed on the server; the operator will find why in its log",
                    kind="server_error", code="internal_error")


# ---------------------------------------------------------------- the blocking core, off the event loop
_END = object()


@dataclass
class _Failed:
    error: BaseException


class EventPump:
    """Runs a blocking producer (an answer, which first waits for the model) in a thread of its
    own, so that questions queued for the model hold no thread of the shared pool, and hands what it
    yields to the event loop. `stop` tells the producer its client has gone."""

    def __init__(self, produce: Callable[[threading.Event], Iterator[Any]]):
        self._produce = produce
        self.stop = threading.Event()
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._thread = threading.Thread(target=self._run, name="api-answer", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop has closed: nobody is listening any more
            self.stop.set()

    def _run(self) -> None:
        items = self._produce(self.stop)
        try:
            for item in items:
                self._put(item)
                if self.stop.is_set():
                    break
        except Exception as e:
            if not isinstance(e, AssistantError):
                log.exception("API answer failed")
            self._put(_Failed(e))
        finally:
            items.close()
            self._put(_END)

    async def next(self, timeout: float | None = None) -> Any:
        """The next item, _END after the last; TimeoutError when none came within `timeout`."""
        return await asyncio.wait_for(self._queue.get(), timeout)


# ---------------------------------------------------------------- the routes
class ModelLine(Protocol):
    """Turns at the model, first come first served (ui/web/line.py ModelQueue): the first holds it."""

    def join(self) -> object: ...  # or raises Busy (ui/web/line.py) when the line is full

    def ahead(self, ticket: object) -> int: ...

    def wait(self, ticket: object, ahead: int, timeout: float | None = None) -> int: ...

    def leave(self, ticket: object) -> None: ...


class OpenAIApi:
    def __init__(self, components: Components, line: ModelLine):
        self.components = components
        self.line = line

    # ------------------------------------------------------------ who, and what they may read
    async def user(self, request: Request) -> User:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "No API key provided: send 'Authorization: Bearer TOKEN' with a token made by "
                                "`assistant tokens create USER`.", code="missing_api_key")
        user = await asyncio.to_thread(self.components.api_tokens.user_of, token)
        if user is None:
            client = request.client.host if request.client else "unknown"
            await asyncio.to_thread(self.components.audit.record, AuditKind.LOGIN_FAILED, None, {
                "client": client, "reason": "unknown or revoked API token, or its user is disabled",
                "known_name": False, "via": "api"})
            raise ApiError(401, "Incorrect API key provided: it is unknown, revoked, or its user is disabled.",
                           code="invalid_api_key")
        return user

    def readable(self, user: User) -> list[str]:
        return self.components.accounts.readable(user, self.components.store.collection_names())

    def _audit_question(self, user: str, question: str, collection: str, outcome: QuestionOutcome, found=(),
                        answer=None) -> None:
        self.components.audit.question(user, question, collection, outcome, found, answer, via="api")

    def join_line(self) -> object:
        """A place in the line at the model, or ApiError 429 when it is too long to wait in (the
        chat's rule and message: ui/web/line.py)."""
        try:
            return self.line.join()
        except Busy as busy:
            raise ApiError(429, str(busy), kind="rate_limit_error", code="busy",
                           retry_after_s=busy.retry_after_s) from None

    def _places(self, ticket: object, stop: threading.Event) -> Iterator[Waiting]:
        """The ticket's place in line now and each time it changes, down to 0 (its turn), as long as
        the client is there."""
        ahead = self.line.ahead(ticket)
        yield Waiting(ahead)
        while ahead and not stop.is_set():
            moved = self.line.wait(ticket, ahead, timeout=WAIT_POLL_S)
            if moved != ahead:
                ahead = moved
                yield Waiting(ahead)

    @contextmanager
    def _turn(self, ticket: object) -> Iterator[None]:
        """The place in the line, left however answering ends."""
        try:
            yield
        finally:
            self.line.leave(ticket)

    # ------------------------------------------------------------ answering, in the pump's thread
    def answer(self, ticket: object, user: str, question: str, collection: str, turns: list[Turn],
               stop: threading.Event) -> Iterator[Waiting | SourcesFound | Answered]:
        """The chat's answer, as the API sends it: the places in line, the passages found, then the
        finished answer. Everything it does with the cores, the question's embedding included, is
        inside its turn."""
        with self._turn(ticket):
            yield from self._places(ticket, stop)
            if stop.is_set():
                return
            found, answer, events = [], None, None
            try:
                events = self.components.answerer.stream(question, [collection], turns)
                for event in events:
                    if stop.is_set():
                        return
                    if isinstance(event, SourcesFound):
                        found = event.passages
                        yield event
                    elif isinstance(event, Finished):
                        answer = event.answer
                        tokens = self.components.answerer.model.count_tokens(answer.text) if answer.prompt_tokens else 0
                        # In the trail before the client has the reply: a client reading the trail
                        # next (an admin page, a test) must find this question there.
                        self._audit_question(user, question, collection, QuestionOutcome.ANSWER, found, answer)
                        yield Answered(answer, tokens)
            finally:
                if events is not None:
                    events.close()  # the model stops writing before the next question's turn
                if answer is None:
                    self._audit_question(user, question, collection, QuestionOutcome.STOPPED, found)

    def passages(self, ticket: object, user: str, query: str, collection: str, k: int,
                 stop: threading.Event) -> Iterator[list]:
        with self._turn(ticket):
            for _ in self._places(ticket, stop):
                pass
            if stop.is_set():
                return
            found = self.components.retriever.search(query, [collection], k)
        self.components.audit.record(AuditKind.SEARCH, user, {
            "query": query, "collections": [collection], "asked_for": collection, "outcome": "results",
            "shown": passages_shown(found), "via": "api"})
        yield found

    # ------------------------------------------------------------ routes
    async def chat_completions(self, request: Request) -> Response:
        try:
            user = await self.user(request)
            chat = parse(ChatRequest, await json_body(request))
            question, turns = question_and_turns(chat.messages)
            if chat.model not in await asyncio.to_thread(self.readable, user):
                await asyncio.to_thread(self._audit_question, user.name, question, chat.model,
                                        QuestionOutcome.NO_ACCESS)
                raise not_found(chat.model)
            try:
                ticket = self.join_line()
            except ApiError:
                await asyncio.to_thread(self._audit_question, user.name, question, chat.model, QuestionOutcome.BUSY)
                raise
        except ApiError as e:
            return e.response()
        completion = Completion(chat.model)
        pump = EventPump(lambda stop: self.answer(ticket, user.name, question, chat.model, turns, stop))
        if chat.stream:
            include_usage = bool(chat.stream_options and chat.stream_options.include_usage)
            return StreamingResponse(self._stream(pump, completion, include_usage), media_type="text/event-stream",
                                     headers={"cache-control": "no-store", "x-accel-buffering": "no"})
        try:
            while (item := await pump.next()) is not _END:
                if isinstance(item, _Failed):
                    return failure_error(item.error).response()
                if isinstance(item, Answered):
                    return JSONResponse(completion.whole(item), headers={"cache-control": "no-store"})
        finally:
            pump.stop.set()
        return failure_error(RuntimeError("the answer ended without a result")).response()

    async def _stream(self, pump: EventPump, completion: Completion, include_usage: bool):
        try:
            while True:
                try:
                    item = await pump.next(KEEPALIVE_S)
                except TimeoutError:
                    yield ": answering\n\n"
                    continue
                if item is _END:
                    break
                if isinstance(item, Waiting):
                    yield f": ahead {item.ahead}\n\n"
                elif isinstance(item, SourcesFound):
                    yield completion.chunk({"role": "assistant", "content": ""})
                elif isinstance(item, Answered):
                    for chunk in completion.last_chunks(item, include_usage):
                        yield chunk
                elif isinstance(item, _Failed):
                    yield sse(failure_error(item.error).as_json())
                    return
            yield "data: [DONE]\n\n"
        finally:
            pump.stop.set()  # the client has gone, or everything was sent

    async def search(self, request: Request) -> Response:
        try:
            user = await self.user(request)
            wanted = parse(SearchRequest, await json_body(request))
            if wanted.collection not in await asyncio.to_thread(self.readable, user):
                await asyncio.to_thread(self.components.audit.record, AuditKind.SEARCH, user.name, {
                    "query": wanted.query, "collections": [], "asked_for": wanted.collection, "outcome": "no_access",
                    "shown": [], "via": "api"})
                raise not_found(wanted.collection, param="collection")
            ticket = self.join_line()
        except ApiError as e:
            return e.response()
        pump = EventPump(lambda stop: self.passages(ticket, user.name, wanted.query, wanted.collection, wanted.k,
                                                    stop))
        try:
            item = await pump.next()
        finally:
            pump.stop.set()
        if isinstance(item, _Failed) or item is _END:
            return failure_error(item.error if isinstance(item, _Failed) else RuntimeError("no result")).response()
        return JSONResponse({"object": "list", "query": wanted.query, "collection": wanted.collection,
                             "data": [passage_json(n, p) for n, p in enumerate(item, 1)]},
                            headers={"cache-control": "no-store"})

    async def models(self, request: Request) -> Response:
        try:
            user = await self.user(request)
        except ApiError as e:
            return e.response()
        readable = await asyncio.to_thread(self.readable, user)
        return JSONResponse({"object": "list", "data": [model_json(name) for name in readable]},
                            headers={"cache-control": "no-store"})

    async def model(self, request: Request) -> Response:
        name = request.path_params["model"]
        try:
            user = await self.user(request)
            if name not in await asyncio.to_thread(self.readable, user):
                raise not_found(name)
        except ApiError as e:
            return e.response()
        return JSONResponse(model_json(name), headers={"cache-control": "no-store"})


def model_json(collection: str) -> dict:
    return {"id": collection, "object": "model", "created": 0, "owned_by": OWNED_BY}


async def _no_route(request: Request, error: HTTPException) -> Response:
    if error.status_code == 405:
        return ApiError(405, f"{request.method} is not allowed on {request.url.path}").response()
    return ApiError(error.status_code, f"Unknown request URL: {request.method} {request.url.path}",
                    code="unknown_url").response()


def build_api(components: Components, line: ModelLine) -> Starlette:
    """The API as an ASGI app of its own, mounted at /v1 (ui/web/app.py), sharing the chat's `line`."""
    api = OpenAIApi(components, line)
    routes = [
        Route("/chat/completions", api.chat_completions, methods=["POST"]),
        Route("/models", api.models, methods=["GET"]),
        Route("/models/{model:path}", api.model, methods=["GET"]),
        Route("/search", api.search, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: _no_route, 405: _no_route})
