"""The admin pages, at /admin: users, groups and grants, collections with their files and last
ingests (with the files that failed and why), the feedback staff gave on answers, and the audit
log with filters and a CSV export. Plain HTML of ours (ui/web/admin_html.py), forms that POST;
nothing under /admin ever reaches Gradio (`AdminRoutes` answers every path there).

Who may open them: a logged-in account with the admin role, looked up at every request (a demoted,
disabled or removed admin is refused at the next click). Everyone else gets 403, and a request
with no session is sent to the login page. The operator of a UI on loopback without accounts is
*not* an admin here, although the CLI's operator runs every admin command: the CLI's operator is
proven by the operating system (ASSISTANT_HOME is 0700, so only its owner can run them), while a
request to a loopback port proves only that it came from this machine, from any account or
program on it. With no accounts, the pages say how to create an admin.

Each change goes through the same `Accounts` method as the CLI command, and is recorded in the
audit trail as an admin event under the same action name ("users add", "collections grant" ...),
with the admin's name and client address. Passwords are only ever typed into password fields:
no page, message or CSV shows a password, a hash or a session token.

Forged requests: SecurityMiddleware refuses any foreign Origin and any cross-site non-GET; a POST
here must also say where it comes from (an Origin header, or Sec-Fetch-Site: same-origin), as
every browser does on a form post, so a request that hides its origin changes nothing.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.accounts import ALL_COLLECTIONS, AuditKind, personal_group
from assistant.components import Components
from assistant.errors import AssistantError, UsageError
from assistant.passage import Passage
from ingest.service import IngestService
from ui.audit_text import detail_line, parse_since
from ui.web.admin_html import TEXTS, button, esc, hidden, options, page, refusal, table, when
from ui.web.login import LOCAL_USER, WebAuth, browser_language
from ui.web.security import NO_STORE

log = logging.getLogger(__name__)

PREFIX = "/admin"
SHOWN_EVENTS = 500  # the audit page shows the newest; the CSV has them all
SHOWN_FILES = 500  # per collection on the page
SHOWN_RUNS = 5
SHOWN_FEEDBACK = 500
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell

DONE = {
    "en": {
        "users add": "Added user {target}.", "users remove": "Removed user {target} (their sessions have ended).",
        "users passwd": "Changed the password of {target} (their sessions have ended).",
        "users disable": "Disabled {target}: they cannot log in, and their sessions have ended.",
        "users enable": "Enabled {target}.", "groups add": "Added group {group}.",
        "groups remove": "Removed group {group} and its grants.",
        "groups members --add": "Added {target} to {group}.", "groups members --remove": "Removed {target} from {group}.",
        "collections grant": "{group} may now {mode} {collection}.",
        "collections revoke": "Revoked {removed} grant(s): {group} may no longer {mode} {collection}.",
        "self": "You cannot {verb} your own account here: another administrator can, or `assistant users {verb} {target}`.",
    },
    "fr": {
        "users add": "Utilisateur {target} ajouté.", "users remove": "Utilisateur {target} supprimé (ses sessions sont closes).",
        "users passwd": "Mot de passe de {target} changé (ses sessions sont closes).",
        "users disable": "{target} est désactivé : il ne peut plus se connecter, ses sessions sont closes.",
        "users enable": "{target} est réactivé.", "groups add": "Groupe {group} ajouté.",
        "groups remove": "Groupe {group} supprimé avec ses droits.",
        "groups members --add": "{target} ajouté à {group}.", "groups members --remove": "{target} retiré de {group}.",
        "collections grant": "{group} peut maintenant {mode} {collection}.",
        "collections revoke": "{removed} droit(s) retiré(s) : {group} ne peut plus {mode} {collection}.",
        "self": "Vous ne pouvez pas désactiver ou supprimer votre propre compte ici : un autre administrateur le peut, "
                "ou `assistant users {verb} {target}`.",
    },
}
_MODE_VERB = {"en": {"read": "read", "write": "write"}, "fr": {"read": "lire", "write": "écrire"}}


@dataclass
class Change:
    """One admin operation: the CLI's action name, what it names, and what to run."""

    action: str
    detail: dict
    run: Callable[[], object]


class AdminRoutes:
    """Sends /admin and every path under it to the admin pages; everything else goes on (to the
    Gradio guard). Placed inside SecurityMiddleware, so hosts, origins and headers still apply."""

    def __init__(self, app: ASGIApp, admin_app: ASGIApp):
        self.app = app
        self.admin_app = admin_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return await self.admin_app(scope, receive, send)
        await self.app(scope, receive, send)


class AdminPages:
    def __init__(self, components: Components, auth: WebAuth):
        self.components = components
        self.auth = auth
        self.ingest = IngestService(components)

    @property
    def accounts(self):
        return self.components.accounts

    # ------------------------------------------------------------------ who
    def _admin(self, request: Request) -> str | Response:
        """The admin's name, or the response that refuses the request."""
        language = browser_language(request)
        name = self.auth.user_of(request.scope)
        if name is None:
            if request.method == "GET":
                return RedirectResponse("/login", status_code=303)
            return PlainTextResponse("not logged in", status_code=401)
        if name == LOCAL_USER:
            return HTMLResponse(refusal(language, "no_admin"), status_code=403, headers=NO_STORE)
        info = self.accounts.user(name)
        if info is None or info.disabled or info.role != "admin":
            log.warning("refused %s %s to %s: not an administrator", request.method, request.url.path, name)
            return HTMLResponse(refusal(language, "forbidden"), status_code=403, headers=NO_STORE)
        return name

    async def _guarded(self, request: Request, handler: Callable[[Request, str], Response]) -> Response:
        if request.method == "POST" and not _says_its_origin(request):
            return PlainTextResponse("an admin change must come from the admin page (no Origin header)",
                                     status_code=403)
        admin = await asyncio.to_thread(self._admin, request)
        if isinstance(admin, Response):
            return admin
        if request.method == "POST":
            form = {k: str(v) for k, v in (await request.form()).items()}
            return await asyncio.to_thread(handler, request, admin, form)
        return await asyncio.to_thread(handler, request, admin)

    def routes(self) -> list[Route]:
        def guarded(handler):
            async def endpoint(request: Request) -> Response:
                return await self._guarded(request, handler)
            return endpoint

        return [
            Route(PREFIX, lambda request: RedirectResponse(f"{PREFIX}/users", status_code=303), methods=["GET"]),
            Route(f"{PREFIX}/", lambda request: RedirectResponse(f"{PREFIX}/users", status_code=303), methods=["GET"]),
            Route(f"{PREFIX}/users", guarded(self.users_page), methods=["GET"]),
            Route(f"{PREFIX}/users", guarded(self.change_user), methods=["POST"]),
            Route(f"{PREFIX}/groups", guarded(self.groups_page), methods=["GET"]),
            Route(f"{PREFIX}/groups", guarded(self.change_group), methods=["POST"]),
            Route(f"{PREFIX}/collections", guarded(self.collections_page), methods=["GET"]),
            Route(f"{PREFIX}/feedback", guarded(self.feedback_page), methods=["GET"]),
            Route(f"{PREFIX}/audit", guarded(self.audit_page), methods=["GET"]),
            Route(f"{PREFIX}/audit.csv", guarded(self.audit_csv), methods=["GET"]),
        ]

    # ------------------------------------------------------------------ changes
    def _apply(self, request: Request, admin: str, change: Change | str) -> tuple[str, bool]:
        """Run a change and record it; (the message to show, whether it failed)."""
        language = browser_language(request)
        if isinstance(change, str):
            return change, True
        try:
            result = change.run()
        except AssistantError as e:
            return str(e), True
        detail = {**change.detail, **({"removed": result} if change.action == "collections revoke" else {})}
        self.components.audit.record(AuditKind.ADMIN, admin, {"action": change.action, **detail, "via": "web",
                                                              "client": self.auth.client_address(request)})
        words = {"target": "", "group": "", "collection": "", "removed": result, **change.detail}
        if "mode" in words:
            words["mode"] = _MODE_VERB[language][words["mode"]]
        return DONE[language][change.action].format(**words), False

    def change_user(self, request: Request, admin: str, form: dict) -> Response:
        language = browser_language(request)
        op, name = form.get("op", ""), form.get("name", "").strip()
        accounts = self.accounts
        change: Change | str
        if op in ("disable", "remove") and name == admin:
            change = DONE[language]["self"].format(verb=op, target=name)
        elif op == "add":
            role = "admin" if form.get("admin") else "staff"
            collections = form.get("collections", "").replace(",", " ").split()
            password = form.get("password", "")
            change = Change("users add", {"target": name, "role": role, "collections": collections},
                            lambda: accounts.add_user(name, password, role, collections=collections))
        elif op == "passwd":
            password = form.get("password", "")
            if accounts.user(name) is None:
                change = f"no user named {name!r}"
            else:
                change = Change("users passwd", {"target": name}, lambda: accounts.set_password(name, password))
        elif op in ("disable", "enable", "remove"):
            method = {"disable": accounts.disable_user, "enable": accounts.enable_user,
                      "remove": accounts.remove_user}[op]
            change = Change(f"users {op}", {"target": name}, lambda: method(name))
        else:
            change = f"unknown operation {op!r}"
        message, failed = self._apply(request, admin, change)
        return self.users_page(request, admin, message=message, failed=failed)

    def change_group(self, request: Request, admin: str, form: dict) -> Response:
        op = form.get("op", "")
        group, user = form.get("group", "").strip(), form.get("user", "").strip()
        collection, mode = form.get("collection", "").strip(), form.get("mode", "read")
        accounts = self.accounts
        change: Change | str
        if op == "add":
            change = Change("groups add", {"group": group}, lambda: accounts.add_group(group))
        elif op == "remove":
            change = Change("groups remove", {"group": group}, lambda: accounts.remove_group(group))
        elif op in ("add_member", "remove_member"):
            verb = "--add" if op == "add_member" else "--remove"
            method = accounts.add_member if op == "add_member" else accounts.remove_member
            change = Change(f"groups members {verb}", {"group": group, "target": user}, lambda: method(group, user))
        elif op in ("grant", "revoke") and mode in ("read", "write"):
            groups = {"read_groups": [group]} if mode == "read" else {"write_groups": [group]}
            method = accounts.grant if op == "grant" else accounts.revoke
            change = Change(f"collections {op}", {"collection": collection, "group": group, "mode": mode,
                                                  "read": [group] if mode == "read" else [],
                                                  "write": [group] if mode == "write" else []},
                            lambda: method(collection, **groups))
        else:
            change = f"unknown operation {op!r}"
        message, failed = self._apply(request, admin, change)
        return self.groups_page(request, admin, message=message, failed=failed)

    # ------------------------------------------------------------------ pages
    def _page(self, request: Request, section: str, admin: str, content: str, message: str = "",
              failed: bool = False) -> Response:
        body = page(browser_language(request), section, admin, content, message=message, error=failed)
        status = 400 if failed else 200
        return HTMLResponse(body, status_code=status, headers=NO_STORE)

    def users_page(self, request: Request, admin: str, message: str = "", failed: bool = False) -> Response:
        t = TEXTS[browser_language(request)]
        users = self.accounts.users()
        existing = self.components.store.collection_names()
        rows = []
        for u in users:
            reads = t["everything"] if u.reads_all else (", ".join(c for c in existing if c in u.read) or t["nothing"])
            writes = (t["everything"] if u.role == "admin" or ALL_COLLECTIONS in u.write
                      else ", ".join(c for c in existing if c in u.write) or t["nothing"])
            toggle = "enable" if u.disabled else "disable"
            toggle_label, remove_label = f"{t[toggle]} {u.name}", f"{t['remove']} {u.name}"
            actions = (f'<form class="inline" method="post" action="{PREFIX}/users">{hidden("name", u.name)}'
                       f'{button(toggle, t[toggle], "secondary", label=toggle_label)} '
                       f'{button("remove", t["remove"], "danger", label=remove_label)}</form>')
            state = t["disabled"] if u.disabled else t["enabled"]
            rows.append([esc(u.name), esc(u.role), f'<span class="{"bad" if u.disabled else ""}">{esc(state)}</span>',
                         esc(", ".join(u.groups) or "-"), esc(reads), esc(writes), esc(when(u.created_at)),
                         esc(when(u.password_changed_at)), actions])
        listing = table([t["name"], t["role"], t["state"], t["member_of"], t["reads"], t["writes"], t["created"],
                         t["password_changed"], t["actions"]], rows, empty=t["no_users"], label=t["users"])
        names = [u.name for u in users]
        add = f"""<section class="card"><h3 id="add-user">{esc(t['add_user'])}</h3>
<form class="row" method="post" action="{PREFIX}/users" aria-labelledby="add-user">{hidden("op", "add")}
<label>{esc(t['name'])}<input name="name" required autocomplete="off" maxlength="64"></label>
<label>{esc(t['password'])} <span class="hint">{esc(t['password_hint'])}</span>
<input name="password" type="password" required minlength="12" autocomplete="new-password"></label>
<label>{esc(t['collections'])} <span class="hint">{esc(t['collections_hint'])}</span>
<input name="collections" list="known-collections" autocomplete="off"></label>
<label class="check"><input type="checkbox" name="admin" value="1"> {esc(t['admin_role'])}</label>
<button type="submit">{esc(t['add'])}</button></form>
<datalist id="known-collections">{options([*existing, ALL_COLLECTIONS])}</datalist></section>"""
        passwd = f"""<section class="card"><h3 id="set-password">{esc(t['set_password'])}</h3>
<form class="row" method="post" action="{PREFIX}/users" aria-labelledby="set-password">{hidden("op", "passwd")}
<label>{esc(t['user'])}<select name="name" required>{options(names)}</select></label>
<label>{esc(t['new_password'])} <span class="hint">{esc(t['password_hint'])}</span>
<input name="password" type="password" required minlength="12" autocomplete="new-password"></label>
<button type="submit">{esc(t['set'])}</button></form></section>"""
        content = f'<section class="card">{listing}</section>{add}{passwd}'
        return self._page(request, "users", admin, content, message, failed)

    def groups_page(self, request: Request, admin: str, message: str = "", failed: bool = False) -> Response:
        t = TEXTS[browser_language(request)]
        groups = self.accounts.groups()
        users = [u.name for u in self.accounts.users()]
        existing = self.components.store.collection_names()
        rows = [[esc(g.name), esc(", ".join(g.members) or "-"), esc(", ".join(g.read) or "-"),
                 esc(", ".join(g.write) or "-"),
                 f'<form class="inline" method="post" action="{PREFIX}/groups">{hidden("group", g.name)}'
                 f'{button("remove", t["remove"], "danger", label=t["remove"] + " " + g.name)}</form>']
                for g in groups]
        listing = table([t["group"], t["members"], t["reads"], t["writes"], t["actions"]], rows,
                        empty=t["no_groups"], label=t["groups"])
        named = [g.name for g in groups]
        every_group = named + [personal_group(u) for u in users]
        content = f"""<section class="card">{listing}</section>
<section class="card"><h3 id="add-group">{esc(t['add_group'])}</h3>
<form class="row" method="post" action="{PREFIX}/groups" aria-labelledby="add-group">{hidden("op", "add")}
<label>{esc(t['name'])}<input name="group" required autocomplete="off" maxlength="64"></label>
<button type="submit">{esc(t['add'])}</button></form></section>
<section class="card"><h3 id="membership">{esc(t['membership'])}</h3>
<form class="row" method="post" action="{PREFIX}/groups" aria-labelledby="membership">
<label>{esc(t['group'])}<select name="group" required>{options(named)}</select></label>
<label>{esc(t['user'])}<select name="user" required>{options(users)}</select></label>
{button("add_member", t["add_member"])} {button("remove_member", t["remove_member"], "secondary")}</form></section>
<section class="card"><h3 id="grants">{esc(t['grants'])}</h3><p class="muted">{esc(t['grant_help'])}</p>
<form class="row" method="post" action="{PREFIX}/groups" aria-labelledby="grants">
<label>{esc(t['collection'])}<input name="collection" required list="grant-collections" autocomplete="off"></label>
<label>{esc(t['group'])}<select name="group" required>{options(every_group)}</select></label>
<label>{esc(t['mode'])}<select name="mode"><option value="read">{esc(t['read'])}</option>
<option value="write">{esc(t['write'])}</option></select></label>
{button("grant", t["grant"])} {button("revoke", t["revoke"], "secondary")}</form>
<datalist id="grant-collections">{options([*existing, ALL_COLLECTIONS])}</datalist></section>"""
        return self._page(request, "groups", admin, content, message, failed)

    def collections_page(self, request: Request, admin: str) -> Response:
        t = TEXTS[browser_language(request)]
        parts = []
        for summary in self.ingest.collections():
            grants = self.accounts.grants_on(summary.name)
            star = self.accounts.grants_on(ALL_COLLECTIONS)
            read_by = ", ".join(dict.fromkeys(grants["read"] + star["read"])) or t["no_group"]
            written_by = ", ".join(dict.fromkeys(grants["write"] + star["write"])) or t["no_group"]
            own_runs = self.ingest.runs(summary.name)
            files = self.ingest.sources(summary.name)
            file_rows = [[f'<span class="mono">{esc(r.path)}</span>', esc(len(r.chunk_ids)), esc(_size(r.size)),
                          esc(when(r.updated_at) if r.updated_at else ""),
                          "" if r.state == "done" else f'<span class="bad">{esc(t["pending"])}</span>']
                         for r in files[:SHOWN_FILES]]
            more = (f'<p class="muted">{esc(t["more"].format(n=len(files) - SHOWN_FILES))}</p>'
                    if len(files) > SHOWN_FILES else "")
            parts.append(f"""<section class="card" aria-labelledby="c-{esc(summary.name)}">
<h3 id="c-{esc(summary.name)}">{esc(summary.name)}</h3>
<p>{esc(t['files'])}: <strong>{summary.files}</strong> · {esc(t['chunks'])}: <strong>{summary.chunks}</strong> ·
{esc(t['read_by'])}: {esc(read_by)} · {esc(t['written_by'])}: {esc(written_by)}</p>
{_last_ingest(t, own_runs)}
<details><summary>{esc(t['files'])} ({len(files)})</summary>
{table([t['file'], t['chunks'], t['size'], t['updated'], t['state']], file_rows)}{more}</details>
</section>""")
        content = "".join(parts) or f'<p class="muted">{esc(t["no_collections"])}</p>'
        return self._page(request, "collections", admin, content)

    def feedback_page(self, request: Request, admin: str) -> Response:
        t = TEXTS[browser_language(request)]
        entries = self.components.conversations.feedback()[:SHOWN_FEEDBACK]
        rows = []
        for entry in entries:
            sources = "<br>".join(esc(_source_label(s)) for s in entry.sources) or "-"
            rows.append([esc(when(entry.at)), esc(entry.user), esc(t["up"] if entry.rating > 0 else t["down"]),
                         esc(entry.comment or "-"), esc(entry.question),
                         f"<details><summary>{esc(_shorten(entry.answer, 90))}</summary>{esc(entry.answer)}</details>",
                         sources])
        content = '<section class="card">' + table(
            [t["when"], t["user"], t["rating"], t["comment"], t["question"], t["answer"], t["sources"]], rows,
            empty=t["no_feedback"], label=t["feedback"]) + "</section>"
        return self._page(request, "feedback", admin, content)

    def audit_page(self, request: Request, admin: str) -> Response:
        language = browser_language(request)
        t = TEXTS[language]
        try:
            filters = AuditFilters.of(request)
        except UsageError as e:
            return self._page(request, "audit", admin, self._audit_form(t, AuditFilters()), str(e), failed=True)
        events = filters.events(self.components.audit)
        newest = list(reversed(events[-SHOWN_EVENTS:]))
        rows = [[esc(when(e.at)), esc(e.user or "-"), esc(e.kind), esc(detail_line(e.detail))] for e in newest]
        count = (t["showing"].format(shown=len(newest), total=len(events)) if len(events) > len(newest)
                 else t["count"].format(total=len(events)))
        content = (self._audit_form(t, filters) + f'<section class="card"><p class="muted">{esc(count)}</p>'
                   + table([t["when"], t["user"], t["kind"], t["detail"]], rows, empty=t["no_events"],
                           label=t["audit"]) + "</section>")
        return self._page(request, "audit", admin, content)

    def _audit_form(self, t: dict, filters: AuditFilters) -> str:
        users = [u.name for u in self.accounts.users()]
        kinds = "".join(f'<option value="{k.value}"{" selected" if k.value == filters.kind else ""}>{k.value}</option>'
                        for k in AuditKind)
        return f"""<section class="card"><form class="row" method="get" action="{PREFIX}/audit" role="search">
<label>{esc(t['user'])}<input name="user" value="{esc(filters.user)}" list="audit-users" autocomplete="off"></label>
<datalist id="audit-users">{options(users)}</datalist>
<label>{esc(t['kind'])}<select name="kind"><option value="">{esc(t['any'])}</option>{kinds}</select></label>
<label>{esc(t['since'])}<input name="since" value="{esc(filters.since_text)}" placeholder="YYYY-MM-DD"></label>
<button type="submit">{esc(t['filter'])}</button>
<a href="{PREFIX}/audit.csv?{esc(filters.query())}" download>{esc(t['download'])}</a></form></section>"""

    def audit_csv(self, request: Request, admin: str) -> Response:
        try:
            filters = AuditFilters.of(request)
        except UsageError as e:
            return PlainTextResponse(str(e), status_code=400)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "at", "user", "kind", "summary", "detail"])
        for event in filters.events(self.components.audit):
            writer.writerow([_cell(v) for v in (event.id, when(event.at), event.user or "", event.kind,
                                                detail_line(event.detail),
                                                json.dumps(event.detail, ensure_ascii=False, sort_keys=True))])
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
            **NO_STORE, "content-disposition": f'attachment; filename="audit-{stamp}.csv"'})


@dataclass
class AuditFilters:
    user: str = ""
    kind: str = ""
    since_text: str = ""
    since: datetime | None = None

    @classmethod
    def of(cls, request: Request) -> AuditFilters:
        query = request.query_params
        user, kind, since_text = (query.get("user", "").strip(), query.get("kind", "").strip(),
                                  query.get("since", "").strip())
        if kind and kind not in {k.value for k in AuditKind}:
            raise UsageError(f"unknown kind {kind!r}: use one of {', '.join(k.value for k in AuditKind)}")
        return cls(user, kind, since_text, parse_since(since_text) if since_text else None)

    def events(self, audit):
        return audit.query(user=self.user or None, since=self.since, kinds=[self.kind] if self.kind else ())

    def query(self) -> str:
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in (("user", self.user), ("kind", self.kind), ("since", self.since_text)) if v})


def _last_ingest(t: dict, runs) -> str:
    if not runs:
        return f'<p class="muted">{esc(t["never"])}</p>'
    last = runs[0]
    counts = (f'{last.added} {t["added"]}, {last.updated} {t["changed"]}, {last.unchanged} {t["unchanged"]}, '
              f'{last.removed} {t["removed"]}, {last.chunks_embedded} {t["embedded"]}')
    state = f' <span class="bad">({esc(t["interrupted"])})</span>' if last.interrupted else ""
    failed = table([t["file"], t["reason"]], [[f'<span class="mono">{esc(p)}</span>', esc(r)] for p, r in last.failed],
                   label=t["failed"]) if last.failed else f'<p>{esc(t["no_failures"])}</p>'
    if last.failed_count > len(last.failed):
        failed += f'<p class="muted">{esc(t["more"].format(n=last.failed_count - len(last.failed)))}</p>'
    skipped = ""
    if last.skipped_count:
        skipped = (f'<details><summary>{esc(t["skipped"])} ({last.skipped_count})</summary>'
                   + table([t["file"], t["reason"]], [[f'<span class="mono">{esc(p)}</span>', esc(r)]
                                                      for p, r in last.skipped]) + "</details>")
    notes = ""
    if last.notes:
        notes = (f'<details><summary>{esc(t["notes"])} ({len(last.notes)})</summary>'
                 + table([t["file"], t["notes"]], [[f'<span class="mono">{esc(p)}</span>', esc(n)]
                                                   for p, n in last.notes]) + "</details>")
    recent = table([t["when"], t["from"], t["outcome"]], [
        [esc(when(r.finished_at)), f'<span class="mono">{esc(", ".join(r.roots))}</span>',
         esc(f'+{r.added} ~{r.updated} -{r.removed}, {t["failed"].lower()}: {r.failed_count}'
             + (f' ({t["interrupted"]})' if r.interrupted else ""))] for r in runs[:SHOWN_RUNS]])
    return f"""<h4>{esc(t['last_ingest'])}: {esc(when(last.finished_at))}{state}</h4>
<p class="mono">{esc(", ".join(last.roots))}</p><p>{esc(counts)}</p>
<h4>{esc(t['failed'])} ({last.failed_count})</h4>{failed}{skipped}{notes}
<details><summary>{esc(t['recent_runs'])}</summary>{recent}</details>"""


def _source_label(source: dict) -> str:
    """A stored source (conversations.py keeps them as records): its file and page."""
    passage = Passage.from_record(str(source.get("id", "")), str(source.get("text", "")), source.get("metadata"),
                                  0.0, str(source.get("collection", "")))
    return f"{passage.source}, page {passage.page}" if passage.page is not None else passage.source


def _shorten(text: str, length: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[:length - 1] + "…"


def _size(size: int) -> str:
    return f"{size / 1048576:.1f} MB" if size >= 1048576 else f"{max(size, 0) / 1024:.1f} kB"


def _cell(value) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _says_its_origin(request: Request) -> bool:
    """SecurityMiddleware has already refused a foreign Origin; here one must be given at all."""
    return "origin" in request.headers or request.headers.get("sec-fetch-site") == "same-origin"


def build_admin_app(components: Components, auth: WebAuth) -> Starlette:
    return Starlette(routes=AdminPages(components, auth).routes())
