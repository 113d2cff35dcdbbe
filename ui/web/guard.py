"""Which Gradio routes answer, and to whom.

Gradio serves many routes the chat never uses (direct API calls, file and proxy routes, uploads,
monitoring, tokens), and it does not bind a Gradio session or event to the user who started it:
knowing another user's session hash (it travels in URLs) was enough to read their answers.
Here, in front of the mounted Gradio app:

- only the routes the chat page needs answer; every other path under the app is 404;
- every route but static files needs a logged-in user (the page itself redirects to /login);
- a Gradio session hash belongs to the first user who presents it (its random value is chosen by
  that user's browser, so nobody else can know it earlier): joining the queue, reading its
  event stream, its heartbeat and cancelling are refused to anyone else.
"""
from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from typing import Callable
from urllib.parse import parse_qs

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

PUBLIC = "public"  # static files of the page: no user needed
USER = "user"  # a logged-in user
OWNER = "owner"  # a logged-in user who owns the Gradio session named in the request

_STATIC = re.compile(r"^/(assets|static|svelte)/[^?]*$|^/(favicon\.ico|robots\.txt|theme\.css|gradio_api/theme\.css)$")
_ROUTES: list[tuple[str, re.Pattern, str]] = [
    ("GET", re.compile(r"^/$"), USER),
    ("HEAD", re.compile(r"^/$"), USER),
    ("GET", re.compile(r"^/config/?$"), USER),
    ("GET", re.compile(r"^/gradio_api/info/?$"), USER),
    ("GET", re.compile(r"^/gradio_api/startup-events$"), USER),
    ("POST", re.compile(r"^/gradio_api/queue/join$"), OWNER),
    ("GET", re.compile(r"^/gradio_api/queue/data$"), OWNER),
    ("GET", re.compile(r"^/gradio_api/heartbeat/(?P<session>[^/]+)$"), OWNER),
    ("POST", re.compile(r"^/gradio_api/cancel$"), OWNER),
]
MAX_BODY_BYTES = 1 << 20  # a question with its conversation is a few kB
MAX_SESSIONS = 100_000


_DOT_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")


def route_policy(method: str, path: str) -> tuple[str | None, re.Match | None]:
    if _DOT_SEGMENT.search(path) or "\\" in path or "\x00" in path:
        return None, None  # no route of the chat climbs folders: a traversal attempt
    if method in ("GET", "HEAD") and _STATIC.match(path):
        return PUBLIC, None
    for route_method, pattern, policy in _ROUTES:
        match = pattern.match(path)
        if match and method == route_method:
            return policy, match
    return None, None


def is_exempt(path: str, exempt: tuple[str, ...]) -> bool:
    """A route of ours: the path itself, or under it ("/v1/" and "/documents/" name folders).
    "/loginx" or "/uploadx" is not "/login" or "/upload": it goes through the guard like any path."""
    return any(path == route or path.startswith(route if route.endswith("/") else route + "/") for route in exempt)


class SessionOwners:
    """Gradio session hash -> the user it belongs to (the oldest are forgotten past a bound)."""

    def __init__(self, limit: int = MAX_SESSIONS):
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._limit = limit

    def claim(self, session_hash: str, user: str) -> bool:
        """True when `user` owns the session (now or already); False when another user does."""
        owner = self._owners.setdefault(session_hash, user)
        self._owners.move_to_end(session_hash)
        while len(self._owners) > self._limit:
            self._owners.popitem(last=False)
        return owner == user


class GradioGuard:
    def __init__(self, app: ASGIApp, current_user: Callable[[Scope], str | None],
                 owners: SessionOwners | None = None, exempt: tuple[str, ...] = ()):
        self.app = app
        self.current_user = current_user
        self.owners = owners or SessionOwners()
        self.exempt = exempt  # our own routes (login, health, "/v1/": a prefix): they check for themselves

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_exempt(scope["path"], self.exempt):
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        policy, match = route_policy(method, path)
        if policy is None:
            log.info("refused %s %s: not a route of the chat", method, path)
            return await JSONResponse({"error": "not found"}, status_code=404)(scope, receive, send)
        if policy == PUBLIC:
            return await self.app(scope, receive, send)
        user = self.current_user(scope)
        if user is None:
            response: Response = (RedirectResponse("/login", status_code=303) if path == "/"
                                  else JSONResponse({"error": "not logged in"}, status_code=401))
            return await response(scope, receive, send)
        if policy == USER:
            return await self.app(scope, receive, send)

        body = b""
        if method == "POST":
            body = await _read_body(receive)
            if body is None:
                return await JSONResponse({"error": "request too large"}, status_code=413)(scope, receive, send)
        session_hash = _session_hash(scope, match, body)
        if not session_hash or not self.owners.claim(session_hash, user):
            log.warning("refused %s %s to %s: the Gradio session is not theirs", method, path, user)
            return await JSONResponse({"error": "forbidden"}, status_code=403)(scope, receive, send)
        await self.app(scope, _replay(body, receive) if method == "POST" else receive, send)


def _session_hash(scope: Scope, match: re.Match | None, body: bytes) -> str | None:
    if match is not None and "session" in match.groupdict():
        return match.group("session")
    if scope["method"] == "GET":
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", [])
        return values[0] if len(values) == 1 else None
    try:
        value = json.loads(body or b"{}").get("session_hash")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


async def _read_body(receive: Receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the connection's own messages (its disconnect, when it comes)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
