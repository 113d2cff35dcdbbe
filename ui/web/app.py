"""The web app: one ASGI app of ours in front of everything, the Gradio chat mounted inside it.

    request -> SecurityMiddleware (known Host, no foreign Origin; CSP and other headers out)
            -> our routes: /login, /logout, /healthz, /readyz, /upload (ui/web/upload.py: the write grant)
            -> AdminRoutes: /admin/... (ui/web/admin.py; admins only, never on to Gradio)
            -> /documents/: a source's document (ui/web/documents.py; the reader's collection only)
            -> /v1/: the OpenAI-compatible API (ui/web/api.py), which checks its own bearer tokens
            -> GradioGuard (only the chat's routes; a user; their own Gradio session)
            -> Gradio (ui/web/chat.py) -> assistant.answer -> back
"""
from __future__ import annotations

import logging

import assistant  # noqa: F401  (network doors closed before gradio is imported)
from assistant.components import Components
from assistant.errors import AssistantError, UsageError
from ui.log_format import use_log_format
from ui.web.admin import AdminRoutes, build_admin_app
from ui.web.documents import DOCUMENT_ROUTE, DocumentRoute
from ui.web.guard import GradioGuard
from ui.web.login import WebAuth, is_loopback
from ui.web.security import SecurityMiddleware
from ui.web.upload import UPLOAD_ROUTE, UploadRoute

log = logging.getLogger(__name__)

API_PREFIX = "/v1"
OWN_ROUTES = ("/login", "/logout", "/healthz", "/readyz", UPLOAD_ROUTE, API_PREFIX + "/", DOCUMENT_ROUTE)
SHUTDOWN_GRACE_S = 30  # what a stopped worker gives the answers it is writing


class UIConfigError(UsageError):
    """The UI cannot start as configured; the message says what to change."""


def check_can_serve(components: Components) -> None:
    """Refuse to expose documents to the network without logins."""
    settings = components.settings
    components.store  # noqa: B018  (an unreachable Chroma server stops the start here, in one line)
    has_users = components.accounts.has_users()
    if not is_loopback(settings.ui_host) and not has_users:
        raise UIConfigError(
            f"refusing to serve on {settings.ui_host}: anyone on the network could read the documents. "
            "Add a login first (`assistant users add NAME`), or bind 127.0.0.1.")
    if settings.ui_require_login and not has_users:
        raise UIConfigError("ui_require_login is set but there are no users: add one with `assistant users add NAME`")


def readiness(components: Components, loader=None) -> dict[str, str]:
    """What a proxy or orchestrator needs before it sends staff to this worker: the model loaded,
    the accounts database and the store answering. Only states, never an address or an error's
    text: the route answers without a login."""
    checks = {"model": "loading" if loader is not None and not loader.ready else "ready"}
    for name, probe in (("accounts_database", components.accounts.has_users),
                        ("store", lambda: components.store.collection_names())):
        try:
            probe()
            checks[name] = "ok"
        except AssistantError as e:
            log.warning("not ready: %s", e)
            checks[name] = "unreachable"
    return checks


def allowed_hosts(settings) -> list[str]:
    hosts = {settings.ui_host.lower(), "localhost", "127.0.0.1", "::1", *(h.lower() for h in settings.ui_allowed_hosts)}
    return sorted(hosts - {"0.0.0.0", "::"})


def build_web_app(components: Components, loader=None):
    """The app; `loader` (ui/web/chat.py ModelLoader) is what loads the model, when it is loaded ahead."""
    import fastapi
    import gradio as gr
    from starlette.responses import JSONResponse, PlainTextResponse

    from ui.web.api import build_api
    from ui.web.chat import build_chat
    from ui.web.line import ModelQueue

    auth = WebAuth(components)
    app = fastapi.FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_api_route("/login", auth.show_login, methods=["GET"], include_in_schema=False)
    app.add_api_route("/login", auth.log_in, methods=["POST"], include_in_schema=False)
    app.add_api_route("/logout", auth.log_out, methods=["GET", "POST"], include_in_schema=False)
    app.add_api_route("/healthz", lambda: PlainTextResponse("ok"), methods=["GET"], include_in_schema=False)

    def ready():  # 503 until the worker can answer: the model still loading, or a server not answering
        checks = readiness(components, loader)
        ok = checks["model"] == "ready" and all(v == "ok" for k, v in checks.items() if k != "model")
        return JSONResponse(checks, status_code=200 if ok else 503, headers={"cache-control": "no-store"})

    app.add_api_route("/readyz", ready, methods=["GET"], include_in_schema=False)
    app.add_api_route(UPLOAD_ROUTE, UploadRoute(components, auth.user_of), methods=["POST"], include_in_schema=False)

    # Mounted before Gradio: every path under /v1/ ends in the API (a 404 there), never in Gradio.
    # The chat and the API share one line at the model: one question at a time, whoever asks.
    line = ModelQueue(components.settings.max_waiting_questions)
    # Also before Gradio: every path under /documents/ ends in this route (a 404 there), which checks
    # the user itself.
    app.mount(DOCUMENT_ROUTE.rstrip("/"), DocumentRoute(components, auth.user_of))
    app.mount(API_PREFIX, build_api(components, line))
    blocks = build_chat(components, loader, line).queue(default_concurrency_limit=1)
    settings = components.settings
    app = gr.mount_gradio_app(
        app, blocks, path="/", auth_dependency=lambda request: auth.user_of(request.scope),
        footer_links=[], show_error=False, ssr_mode=False, enable_monitoring=False, pwa=False, mcp_server=False,
        max_file_size=int(settings.max_file_mb * 1024 * 1024))
    # Added last = outermost: the security checks see every request first.
    app.add_middleware(GradioGuard, current_user=auth.user_of, exempt=OWN_ROUTES)
    app.add_middleware(AdminRoutes, admin_app=build_admin_app(components, auth))
    app.add_middleware(SecurityMiddleware, allowed_hosts=allowed_hosts(settings),
                       allowed_origins=settings.ui_allowed_origins)
    return app


def serve(components: Components) -> None:
    import uvicorn

    from ui.web.chat import ModelLoader, load_model

    check_can_serve(components)
    settings = components.settings
    use_log_format(settings.log_format)
    # Loaded while the server starts and the first user logs in, not when the first question comes.
    loader = ModelLoader(lambda: load_model(components)).start()
    app = build_web_app(components, loader)
    url = f"http://{settings.ui_host}:{settings.ui_port}"
    login = WebAuth(components).login_required()
    print(f"Chat UI: {url}" + ("  (login required)" if login else ""), flush=True)
    # On SIGTERM (a deploy, a scale-down) the answers being written get SHUTDOWN_GRACE_S to finish;
    # past it they are cut, and an answer cut so is never kept (ui/web/chat.py keeps only finished ones).
    uvicorn.run(app, host=settings.ui_host, port=settings.ui_port, log_level="warning",
                proxy_headers=settings.ui_trust_proxy, server_header=False, date_header=False,
                timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
