"""The admin pages: only an administrator opens them; what they change takes effect and is audited
like the CLI's commands; they show the collections with their files and the last ingest's failures,
the feedback staff gave, and the audit trail, filtered and exported as CSV, never a secret.

One real web app (ours, with Gradio mounted) serves a real accounts database and a real manifest
after a real ingest of a folder holding one broken file; probes are plain HTTP, as a browser
sends them, and one test drives Debian's Chromium through the page."""
from __future__ import annotations

import csv
import hashlib
import io
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import components_for, free_port, ingest, make_home

ADMIN, ADMIN_PASSWORD = "root-admin", "amber falcon ledger 62"
STAFF, STAFF_PASSWORD = "sam", "copper lantern tide 58"
LEAVE = "# Annual leave\nFull-time employees get 25 days of paid annual leave each year.\n"
BROKEN_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> this file was cut short"

ADMIN_PAGES = ["/admin", "/admin/users", "/admin/groups", "/admin/collections", "/admin/feedback", "/admin/audit",
               "/admin/audit.csv", "/admin/audit?kind=login", "/admin/no-such-page"]
ADMIN_POSTS = [("/admin/users", {"op": "add", "name": "mallory", "password": "a long enough password 1"}),
               ("/admin/groups", {"op": "grant", "collection": "handbook", "group": f"user:{STAFF}", "mode": "read"})]


@dataclass
class Site:
    url: str
    home: Path
    components: object
    folder: Path

    def client(self, **kwargs):
        import httpx

        headers = {"origin": self.url, **kwargs.pop("headers", {})}  # a browser's form posts say where they come from
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=60, headers=headers, **kwargs)

    def login(self, name: str, password: str, **kwargs):
        client = self.client(**kwargs)
        response = client.post("/login", data={"username": name, "password": password})
        assert response.status_code == 303, f"{name} could not log in: {response.status_code}"
        return client


@pytest.fixture(scope="module")
def site(tmp_path_factory, shared_models_dir, embedder):
    import uvicorn

    from ui.web.app import build_web_app

    root = tmp_path_factory.mktemp("admin")
    home = make_home(root / "home", shared_models_dir, ui_require_login=True)
    components = components_for(home, embedder)
    folder = root / "handbook"
    folder.mkdir()
    (folder / "leave.md").write_text(LEAVE)
    (folder / "broken.pdf").write_bytes(BROKEN_PDF)
    report = ingest(components, [folder], collection="handbook")
    assert [path for path, _ in report.failed] == [str(folder / "broken.pdf")]
    components.accounts.add_user(ADMIN, ADMIN_PASSWORD, "admin")
    components.accounts.add_user(STAFF, STAFF_PASSWORD)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_web_app(components), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the web app did not start"
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", home, components, folder)
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def admin(site):
    return site.login(ADMIN, ADMIN_PASSWORD)


def admin_events(site, since_id: int = 0) -> list[tuple]:
    return [(e.user, e.detail["action"], e.detail.get("target") or e.detail.get("group"))
            for e in site.components.audit.query(kinds=["admin"]) if e.id > since_id]


def last_event_id(site) -> int:
    events = site.components.audit.query()
    return events[-1].id if events else 0


def test_the_logged_out_are_sent_to_log_in_and_staff_are_refused_on_every_admin_route(site):
    anonymous, staff = site.client(), site.login(STAFF, STAFF_PASSWORD)
    for path in ADMIN_PAGES:
        response = anonymous.get(path)
        assert response.status_code in (303, 404), (path, response.status_code)
        if response.status_code == 303 and path != "/admin":
            assert response.headers["location"] == "/login", path
        refused = staff.get(path)
        assert refused.status_code in (403, 404) or refused.headers.get("location") == "/admin/users", path
        assert "handbook" not in refused.text and ADMIN not in refused.text
    assert staff.get("/admin/users").status_code == 403
    assert "Administrators only" in staff.get("/admin/audit").text
    for path, form in ADMIN_POSTS:
        assert anonymous.post(path, data=form).status_code == 401
        assert staff.post(path, data=form).status_code == 403
    assert site.components.accounts.user("mallory") is None
    assert site.components.accounts.readable(STAFF, ["handbook"]) == []


def test_the_loopback_operator_without_accounts_is_told_to_create_an_admin(tmp_path, shared_models_dir):
    from starlette.testclient import TestClient

    from ui.web.admin import AdminRoutes, build_admin_app
    from ui.web.login import WebAuth
    from ui.web.security import SecurityMiddleware

    components = components_for(make_home(tmp_path / "home", shared_models_dir))
    auth = WebAuth(components)
    assert auth.login_required() is False  # the chat answers this operator without a login...
    app = SecurityMiddleware(AdminRoutes(lambda scope, receive, send: None, build_admin_app(components, auth)),
                             allowed_hosts=["127.0.0.1"])
    response = TestClient(app, base_url="http://127.0.0.1").get("/admin/users")
    assert response.status_code == 403  # ...but the admin pages need an administrator's account
    assert "assistant users add NAME --admin" in response.text


def test_the_collections_page_lists_the_files_and_the_last_ingests_failure_with_its_reason(site, admin):
    import html

    from ingest.service import IngestService

    [run] = IngestService(site.components).runs("handbook")
    [(path, reason)] = run.failed
    page = admin.get("/admin/collections")
    assert page.status_code == 200
    text = page.text
    assert "handbook" in text and str(site.folder / "leave.md") in text
    assert path == str(site.folder / "broken.pdf") and path in text
    assert reason and html.escape(reason) in text  # the same one-line reason as the CLI
    assert "Failed (1)" in text and str(site.folder) in text  # what the last run was given


def test_a_grant_made_on_the_page_lets_the_staff_member_read_and_is_audited_like_the_cli(site, admin):
    before = last_event_id(site)
    steps = [("/admin/groups", {"op": "add", "group": "hr"}),
             ("/admin/groups", {"op": "add_member", "group": "hr", "user": STAFF}),
             ("/admin/groups", {"op": "grant", "collection": "handbook", "group": "hr", "mode": "read"})]
    for path, form in steps:
        response = admin.post(path, data=form)
        assert response.status_code == 200, response.text
        assert 'role="status"' in response.text
    assert site.components.accounts.readable(STAFF, ["handbook"]) == ["handbook"]
    assert "may now read handbook" in response.text
    groups = admin.get("/admin/groups").text
    assert "hr" in groups and STAFF in groups

    revoked = admin.post("/admin/groups", data={"op": "revoke", "collection": "handbook", "group": "hr",
                                                "mode": "read"})
    assert "Revoked 1 grant(s)" in revoked.text
    assert site.components.accounts.readable(STAFF, ["handbook"]) == []
    assert admin_events(site, before) == [(ADMIN, "groups add", "hr"), (ADMIN, "groups members --add", STAFF),
                                          (ADMIN, "collections grant", "hr"), (ADMIN, "collections revoke", "hr")]
    [grant] = [e for e in site.components.audit.query(kinds=["admin"]) if e.detail["action"] == "collections grant"]
    assert (grant.detail["collection"], grant.detail["read"], grant.detail["via"]) == ("handbook", ["hr"], "web")


def test_user_changes_on_the_page_take_effect_at_once(site, admin):
    before = last_event_id(site)
    new_password, second_password = "quiet orchard lamp 904", "silver meadow bell 271"
    added = admin.post("/admin/users", data={"op": "add", "name": "nina", "password": new_password,
                                             "collections": "handbook"})
    assert "Added user nina." in added.text
    nina = site.login("nina", new_password)
    assert nina.get("/config").status_code == 200
    assert site.components.accounts.readable("nina", ["handbook"]) == ["handbook"]

    admin.post("/admin/users", data={"op": "passwd", "name": "nina", "password": second_password})
    assert nina.get("/config").status_code == 401  # her session ended with the change
    nina = site.login("nina", second_password)
    disabled = admin.post("/admin/users", data={"op": "disable", "name": "nina"})
    assert "Disabled nina" in disabled.text
    assert nina.get("/config").status_code == 401
    assert site.client().post("/login", data={"username": "nina", "password": second_password}).status_code == 401
    admin.post("/admin/users", data={"op": "enable", "name": "nina"})
    site.login("nina", second_password)
    admin.post("/admin/users", data={"op": "remove", "name": "nina"})
    assert site.components.accounts.user("nina") is None

    refused = admin.post("/admin/users", data={"op": "disable", "name": ADMIN})
    assert refused.status_code == 400 and "your own account" in refused.text
    assert not site.components.accounts.user(ADMIN).disabled
    assert admin_events(site, before) == [(ADMIN, f"users {op}", "nina")
                                          for op in ("add", "passwd", "disable", "enable", "remove")]


def test_a_refused_change_says_why_in_one_line_and_never_shows_the_password(site, admin):
    weak = "short pw 1"
    response = admin.post("/admin/users", data={"op": "add", "name": "oscar", "password": weak})
    assert response.status_code == 400
    assert 'role="alert"' in response.text and "12" in response.text
    assert weak not in response.text
    assert site.components.accounts.user("oscar") is None
    exists = admin.post("/admin/groups", data={"op": "add_member", "group": "no-such-group", "user": STAFF})
    assert exists.status_code == 400 and "no group named" in exists.text


def test_the_feedback_page_shows_each_rating_with_its_comment_question_answer_and_sources(site, admin):
    components = site.components
    passages = components.retriever.search("paid annual leave", ["handbook"], 2)
    conversation = components.conversations.start(STAFF, "handbook", "How many days of leave?")
    components.conversations.add_turn(STAFF, conversation.id, "How many days of leave?", "25 days [1]",
                                      refused=False, sources=passages[:1], quotes=["25 days"])
    components.conversations.give_feedback(STAFF, conversation.id, 0, -1, "Say whether part-timers get it too")
    text = admin.get("/admin/feedback").text
    assert "Say whether part-timers get it too" in text and "How many days of leave?" in text
    assert "25 days [1]" in text and "👎" in text
    assert str(site.folder / "leave.md") in text


def test_the_audit_page_filters_and_its_csv_export_holds_the_events_and_no_secret(site, admin):
    staff = site.login(STAFF, STAFF_PASSWORD)
    site.client().post("/login", data={"username": STAFF, "password": "not the password at all"})
    logins = admin.get("/admin/audit", params={"user": STAFF, "kind": "login"}).text
    assert "login_failed" not in logins.split("<tbody>")[1] and STAFF in logins
    failures = admin.get("/admin/audit", params={"kind": "login_failed", "since": "1d"}).text
    assert "login_failed" in failures.split("<tbody>")[1]
    future = admin.get("/admin/audit", params={"since": "2999-01-01"}).text
    assert "No events match." in future
    bad = admin.get("/admin/audit", params={"since": "yesterday-ish"})
    assert bad.status_code == 400 and "not a date" in bad.text

    export = admin.get("/admin/audit.csv", params={"since": "2000-01-01"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    kinds = {(row["user"], row["kind"]) for row in rows}
    assert {(STAFF, "login"), (ADMIN, "login"), (ADMIN, "admin")} <= kinds
    assert len(rows) == len(site.components.audit.query())
    only_admin = list(csv.DictReader(io.StringIO(admin.get("/admin/audit.csv", params={"kind": "admin"}).text)))
    assert only_admin and {row["kind"] for row in only_admin} == {"admin"}

    import sqlalchemy as sa

    with sa.create_engine(f"sqlite:///{site.home / 'accounts.sqlite'}").connect() as db:
        hashes = db.execute(sa.text("SELECT password_hash FROM users")).scalars().all()
    tokens = [c.cookies.get("assistant_session") for c in (admin, staff)]
    secrets_ = [ADMIN_PASSWORD, STAFF_PASSWORD, "not the password at all", *hashes, *tokens,
                *(hashlib.sha256(t.encode()).hexdigest() for t in tokens)]
    shown = export.text + "".join(admin.get(p).text for p in ADMIN_PAGES[1:6])
    assert [s[:8] for s in secrets_ if s in shown] == []


def test_an_admin_change_from_another_origin_or_hiding_its_origin_changes_nothing(site, admin):
    cookies = admin.cookies
    form = {"op": "add", "group": "forged"}
    import httpx

    for headers in ({"origin": "http://attacker.example"}, {"origin": "null"},
                    {"sec-fetch-site": "cross-site", "origin": site.url}):
        with httpx.Client(base_url=site.url, cookies=cookies, headers=headers) as forged:
            assert forged.post("/admin/groups", data=form).status_code == 403, headers
    with httpx.Client(base_url=site.url, cookies=cookies) as no_origin:  # no Origin, no Sec-Fetch-Site
        assert no_origin.post("/admin/groups", data=form).status_code == 403
    assert "forged" not in [g.name for g in site.components.accounts.groups()]


def test_the_pages_speak_french_when_the_browser_asks_for_it(site, admin):
    text = admin.get("/admin/users", headers={"accept-language": "fr-FR,fr;q=0.9,en;q=0.5"}).text
    assert '<html lang="fr">' in text and "Ajouter un utilisateur" in text and "Groupes et droits" in text
    assert "Add a user" in admin.get("/admin/users").text


@pytest.mark.slow
def test_an_admin_logs_in_grants_a_collection_and_reads_the_audit_in_a_browser(site):
    from playwright.sync_api import sync_playwright

    from tests.e2e.test_browser import BROWSER_ARGS, CHROMIUM

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})  # a laptop's screen
        outside = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(site.url) else None)
        page.goto(site.url + "/admin/users")
        page.wait_for_selector("#username")  # sent to log in first
        page.fill("#username", ADMIN)
        page.fill("#password", ADMIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector("#conversation", timeout=30000)  # the chat
        page.goto(site.url + "/admin/groups")

        # From the keyboard: the grant form's fields and its Grant button.
        page.get_by_label("Collection").fill("handbook")
        page.locator("form[aria-labelledby=grants] select[name=group]").select_option(f"user:{STAFF}")
        page.get_by_label("Access").select_option("read")
        page.get_by_label("Access").focus()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Grant"
        page.keyboard.press("Enter")
        page.wait_for_selector("[role=status]:has-text('may now read handbook')")
        assert site.components.accounts.readable(STAFF, ["handbook"]) == ["handbook"]

        page.get_by_role("link", name="Audit log").click()
        page.get_by_label("Kind").select_option("admin")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_selector("td:has-text('collections grant')")
        assert "kind=admin" in page.url
        with page.expect_download() as download:
            page.get_by_role("link", name="Download as CSV").click()
        exported = Path(download.value.path()).read_text()
        assert "collections grant" in exported and "user:" + STAFF in exported
        page.get_by_role("link", name="Collections").click()
        page.wait_for_selector("text=broken.pdf")
        browser.close()
    site.components.accounts.revoke("handbook", read_groups=[f"user:{STAFF}"])
    assert outside == [], f"the page requested something off the server: {outside}"
