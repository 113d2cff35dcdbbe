"""Our own login: a plain form, a session cookie (HttpOnly, SameSite=Strict, Secure behind TLS),
logout. The password is checked off the event loop, so guessing clients cannot slow every other
request; the accounts service throttles them and answers unknown names as slowly as known ones."""
from __future__ import annotations

import asyncio
import html
import ipaddress
import time

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Scope

from assistant.accounts import OPERATOR, AuditKind
from assistant.components import Components
from assistant.errors import AccessError

SESSION_COOKIE = "assistant_session"
# The one user of a UI bound to loopback with no accounts: a name no account can have.
LOCAL_USER = OPERATOR
_USER_OF_REQUEST = "assistant.user"  # where a request's scope keeps its looked-up user

_TEXTS = {
    "en": {"title": "Log in", "user": "User name", "password": "Password", "submit": "Log in",
           "wrong": "Wrong user name or password.", "intro": "Log in with the account your administrator created."},
    "fr": {"title": "Connexion", "user": "Nom d'utilisateur", "password": "Mot de passe", "submit": "Se connecter",
           "wrong": "Nom d'utilisateur ou mot de passe incorrect.",
           "intro": "Connectez-vous avec le compte créé par votre administrateur."},
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def browser_language(request: Request) -> str:
    accepted = request.headers.get("accept-language", "").lower()
    first = accepted.split(",")[0].strip()
    return "fr" if first.startswith("fr") else "en"


def login_page(language: str, message: str = "", status: int = 200) -> HTMLResponse:
    t = _TEXTS[language]
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    body = f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t['title']} — Document assistant</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f6f7f9; display: flex; justify-content: center; }}
main {{ background: #fff; margin-top: 10vh; padding: 2rem 2.5rem; border-radius: 8px; box-shadow: 0 1px 4px #0002;
       width: min(22rem, 90vw); }}
label {{ display: block; margin-top: 1rem; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: .5rem; margin-top: .25rem; font-size: 1rem; }}
button {{ margin-top: 1.5rem; width: 100%; padding: .6rem; font-size: 1rem; background: #2563eb; color: #fff;
         border: 0; border-radius: 4px; cursor: pointer; }}
.error {{ color: #b91c1c; }}
</style></head>
<body><main><h1>Document assistant</h1><p>{t['intro']}</p>{note}
<form method="post" action="/login">
<label for="username">{t['user']}</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">{t['password']}</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{t['submit']}</button>
</form></main></body></html>"""
    return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})


class WebAuth:
    """Who is asking: the session cookie's user, or the local user where no login is needed."""

    def __init__(self, components: Components):
        self.components = components
        self.settings = components.settings
        self._has_users: tuple[float, bool] = (0.0, False)

    @property
    def accounts(self):
        return self.components.accounts

    def login_required(self) -> bool:
        """Off loopback, when asked for, or as soon as a user exists (checked every few seconds,
        so the first `assistant users add` turns it on without a restart)."""
        s = self.settings
        if s.ui_require_login or not is_loopback(s.ui_host):
            return True
        checked_at, has_users = self._has_users
        if time.monotonic() - checked_at > 2.0:
            has_users = self.accounts.has_users()
            self._has_users = (time.monotonic(), has_users)
        return has_users

    def user_of(self, scope: Scope) -> str | None:
        """The request's user, looked up once per request: the route guard asks first and Gradio's
        auth_dependency asks again on the same scope."""
        state = scope.setdefault("state", {})
        if _USER_OF_REQUEST not in state:
            state[_USER_OF_REQUEST] = self._look_up(scope)
        return state[_USER_OF_REQUEST]

    def _look_up(self, scope: Scope) -> str | None:
        if not self.login_required():
            return LOCAL_USER
        token = Request(scope).cookies.get(SESSION_COOKIE)
        user = self.accounts.session_user(token) if token else None
        return user.name if user is not None else None

    def client_address(self, request: Request) -> str:
        if self.settings.ui_trust_proxy and request.headers.get("x-forwarded-for"):
            return request.headers["x-forwarded-for"].split(",")[0].strip()
        return request.client.host if request.client else "unknown"

    def _secure(self, request: Request) -> bool:
        mode = self.settings.ui_secure_cookies
        if mode != "auto":
            return mode == "on"
        forwarded = request.headers.get("x-forwarded-proto", "") if self.settings.ui_trust_proxy else ""
        return request.url.scheme == "https" or forwarded == "https"

    def _record_failure(self, name: str, client: str, reason: str) -> None:
        """A failed login, under the name tried only when an account has it: an unknown "name" may be
        a password typed into the wrong field (audit.py)."""
        known = self.accounts.user(name) is not None
        self.components.audit.record(AuditKind.LOGIN_FAILED, name if known else None,
                                     {"client": client, "reason": reason, "known_name": known})

    # ---------------------------------------------------------------- routes
    async def show_login(self, request: Request) -> Response:
        if not self.login_required():
            return RedirectResponse("/", status_code=303)
        return login_page(browser_language(request))

    async def log_in(self, request: Request) -> Response:
        language = browser_language(request)
        form = await request.form()
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        client = self.client_address(request)
        try:
            # argon2 takes tens of milliseconds of CPU: never on the event loop.
            user = await asyncio.to_thread(self.accounts.authenticate, name, password, client)
        except AccessError as e:  # throttled: the message says how long to wait
            await asyncio.to_thread(self._record_failure, name, client, "throttled")
            return login_page(language, str(e), status=429)
        if user is None:
            await asyncio.to_thread(self._record_failure, name, client, "wrong user name or password")
            return login_page(language, _TEXTS[language]["wrong"], status=401)
        token = await asyncio.to_thread(self.accounts.create_session, user, client)
        await asyncio.to_thread(self.components.audit.record, AuditKind.LOGIN, user.name, {"client": client})
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=self._secure(request),
                            path="/")
        return response

    async def log_out(self, request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await asyncio.to_thread(self.accounts.end_session, token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response
