"""What every response of the web app carries, and which requests it answers at all.

- Host: only the names the UI is reached by (the bound address, localhost, `ui_allowed_hosts`):
  a page on another site that rebinds its DNS name to 127.0.0.1 gets "unknown host", not the
  no-login loopback UI.
- Origin: a request that says it comes from another origin is refused before it reaches any
  route, and no response carries CORS headers, so no other site's script can read an answer
  (Gradio's own CORS middleware reflects origins; its headers are removed here).
- Headers: a content security policy that lets the page load and connect to nothing but this
  origin (images included: a model's `![](http://outside/?q=...)` cannot leave), no framing,
  no MIME sniffing, no referrer sent to other origins.
"""
from __future__ import annotations

import logging
from typing import Iterable

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# Gradio's page runs inline bootstrap scripts and styles; everything else must be same-origin.
# For what only its reader may see (documents, admin pages, exports): no browser or proxy cache keeps it.
NO_STORE = {"cache-control": "no-store"}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' blob:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-src 'none'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'")

SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on our own form
    # posts, which the origin check must refuse. Other origins still get no referrer.
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]
_REPLACED = {name for name, _ in SECURITY_HEADERS}


def host_name(host_header: str) -> str:
    """'example:7860' -> 'example', '[::1]:7860' -> '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str], allowed_origins: Iterable[str] = ()):
        self.app = app
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.allowed_origins = {o.rstrip("/").lower() for o in allowed_origins}

    def _origin_allowed(self, origin: str, scope: Scope, headers: Headers) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.allowed_origins:
            return True
        # The page's own origin: the scheme it was reached by and the Host it asked for.
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        return origin == f"{scheme}://{headers.get('host', '').lower()}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        if host_name(headers.get("host", "")) not in self.allowed_hosts:
            log.warning("refused a request for unknown host %r", headers.get("host"))
            return await self._refuse(scope, receive, send, 400, "unknown host")
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin, scope, headers):
            log.warning("refused a request from origin %r", origin)
            return await self._refuse(scope, receive, send, 403, "cross-origin requests are not allowed")
        if headers.get("sec-fetch-site") == "cross-site" and scope["method"] != "GET":
            return await self._refuse(scope, receive, send, 403, "cross-site requests are not allowed")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", [])
                        if not k.lower().startswith(b"access-control-") and k.lower() not in _REPLACED]
                message["headers"] = kept + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = PlainTextResponse(text, status_code=status)
        response.headers.update({k.decode(): v.decode() for k, v in SECURITY_HEADERS})
        await response(scope, receive, send)
