"""A source's "open" shows its document to those who may read its collection, and nothing else.

Real parts: folders ingested by the real pipeline (Chroma, the packaged embedder, the seed PDF),
the real web app with its logins, and Debian's Chromium. Two users: alice reads `hr-docs`, bob reads
`finance`; each collection holds a marker only its readers may ever see."""
from __future__ import annotations

import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SEEDS, chroma_rows, components_for, free_port, ingest, make_home

HR_MARKER = "HR-LAMBDA-5521"
FINANCE_MARKER = "FIN-KAPPA-9034"
ALICE_PASSWORD = "maple river quartz 41"
BOB_PASSWORD = "copper lantern tide 58"
# Long enough for several chunks (with their overlaps) under one heading; each rule is numbered so
# that a rule shown twice on the text page would be seen.
RULES = " ".join(f"Rule {n}: a request for leave number {n} is answered within {n + 2} working days by the "
                 f"manager on duty, who records it in the register." for n in range(1, 41))
LEAVE_TEXT = f"""# Leave policy

## Annual leave
Full-time employees get 25 days of paid annual leave per calendar year. The bonus code is {HR_MARKER}.

## Requests
{RULES}
"""


@dataclass
class Library:
    components: object
    app: object
    hr: Path
    finance: Path

    def rows(self, collection: str) -> list[tuple[str, str, dict]]:
        rows = chroma_rows(self.components.store, collection)
        return list(zip(rows["ids"], rows["documents"], rows["metadatas"]))

    def chunk(self, collection: str, file_name: str, containing: str = "", page: int | None = None) -> str:
        return next(chunk_id for chunk_id, text, meta in self.rows(collection)
                    if meta["file_name"] == file_name and containing in text and (page is None or meta.get("page") == page))

    def client(self, name: str | None = None, password: str | None = None):
        from starlette.testclient import TestClient

        client = TestClient(self.app, base_url="http://127.0.0.1", follow_redirects=False)
        if name:
            response = client.post("/login", data={"username": name, "password": password})
            assert response.status_code == 303, response.text
        return client


@pytest.fixture(scope="module")
def library(tmp_path_factory, shared_models_dir, embedder):
    from ui.web.app import build_web_app

    root = tmp_path_factory.mktemp("documents")
    home = make_home(root / "home", shared_models_dir, ui_require_login=True)
    components = components_for(home, embedder)
    hr, finance = root / "hr", root / "finance"
    (hr / "policies").mkdir(parents=True)
    (hr / "guides").mkdir()
    finance.mkdir()
    (hr / "policies" / "leave-policy.md").write_text(LEAVE_TEXT)
    shutil.copy(SEEDS / "onboarding-guide.pdf", hr / "guides" / "onboarding-guide.pdf")
    (hr / "changing.md").write_text("# Parking\nThe car park opens at 07:00 for staff with a badge.\n")
    (hr / "going.md").write_text("# Canteen\nThe canteen serves lunch from 12:00 to 14:00 every weekday.\n")
    shutil.copy(SEEDS / "onboarding-guide.pdf", hr / "guides" / "old-guide.pdf")
    (hr / "guides" / "old-guide.pdf").write_bytes((hr / "guides" / "old-guide.pdf").read_bytes() + b"\n% v1\n")
    (finance / "treasury.md").write_text(f"# Treasury\nThe finance account number is {FINANCE_MARKER}.\n")
    assert not ingest(components, [hr], "hr-docs").failed
    assert not ingest(components, [finance], "finance").failed
    components.accounts.add_user("alice", ALICE_PASSWORD, collections=["hr-docs"])
    components.accounts.add_user("bob", BOB_PASSWORD, collections=["finance"])
    return Library(components, build_web_app(components), hr, finance)


def test_chunks_keep_the_folder_they_were_ingested_from_and_sources_show_the_path_inside_it(library):
    from assistant.passage import Passage

    for chunk_id, text, meta in library.rows("hr-docs"):
        assert meta["root"] == str(library.hr)
    chunk_id = library.chunk("hr-docs", "leave-policy.md", "25 days")
    [node] = library.components.store.nodes("hr-docs", [chunk_id])
    passage = Passage.from_record(chunk_id, node.text, node.metadata, 0.0, "hr-docs")
    assert passage.relative_path == "policies/leave-policy.md"
    assert passage.label(relative=True) == "policies/leave-policy.md, Leave policy > Annual leave"


def test_a_reader_opens_a_text_document_with_the_cited_passage_marked_and_each_rule_once(library):
    alice = library.client("alice", ALICE_PASSWORD)
    chunk_id = library.chunk("hr-docs", "leave-policy.md", "Rule 20:")
    response = alice.get(f"/documents/hr-docs/{chunk_id}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page = response.text
    cited = re.search(r'<mark id="passage" class="cited">(.*?)</mark>', page, re.S).group(1)
    assert "Rule 20:" in cited and "25 days" not in cited
    assert "policies/leave-policy.md" in page and str(library.hr) not in page, "never the server's path"
    assert HR_MARKER in page and "Full-time employees get 25 days" in page
    shown = re.sub(r"<[^>]+>", "", page)
    for n in range(1, 41):  # the chunks' overlaps are shown once
        assert shown.count(f"Rule {n}: ") == 1, n
    rules = [text for _, text, meta in library.rows("hr-docs") if meta["file_name"] == "leave-policy.md" and "Rule" in text]
    assert len(rules) >= 3, "the rules must span several chunks for this to mean anything"


def test_a_reader_opens_a_pdf_inline_and_its_text_at_the_cited_page(library):
    alice = library.client("alice", ALICE_PASSWORD)
    chunk_id = library.chunk("hr-docs", "onboarding-guide.pdf", "Ledgerly", page=2)
    response = alice.get(f"/documents/hr-docs/{chunk_id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith('inline; filename="onboarding-guide.pdf"')
    assert response.content == (library.hr / "guides" / "onboarding-guide.pdf").read_bytes()
    # Served under the app's own policy, which Chromium's viewer shows it under (the browser test below).
    assert "object-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    text = alice.get(f"/documents/hr-docs/{chunk_id}/text").text
    section = re.search(r'<section><h2>([^<]*)</h2><p>((?:(?!</section>).)*)<mark id="passage" class="cited">(.*?)</mark>',
                        text, re.S)
    assert section.group(1).startswith("page 2") and "Ledgerly" in section.group(3)
    assert f'href="/documents/hr-docs/{chunk_id}#page=2"' in text

    events = [e for e in library.components.audit.query(kinds=["document_opened"]) if e.detail["passage"] == chunk_id]
    assert [(e.user, e.detail["collection"], e.detail["path"], e.detail["page"], e.detail["view"]) for e in events] == [
        ("alice", "hr-docs", "guides/onboarding-guide.pdf", 2, "original"),
        ("alice", "hr-docs", "guides/onboarding-guide.pdf", 2, "text")]
    assert events[0].detail["file"] == str(library.hr / "guides" / "onboarding-guide.pdf")


def test_a_user_who_may_not_read_the_collection_gets_404_for_every_id_and_nothing_of_the_file(library):
    bob = library.client("bob", BOB_PASSWORD)
    hr_ids = [chunk_id for chunk_id, _, _ in library.rows("hr-docs")]
    finance_ids = [chunk_id for chunk_id, _, _ in library.rows("finance")]
    guessed = [f"{secrets.token_hex(8)}-{secrets.token_hex(8)}-0", "0", hr_ids[0][:-1] + "9"]
    before = len(library.components.audit.query(kinds=["document_opened"]))
    asked = [(collection, chunk_id) for chunk_id in hr_ids + guessed for collection in ("hr-docs", "finance")]
    asked += [("hr-docs", chunk_id) for chunk_id in finance_ids]  # his own chunk, named under hers
    for collection, chunk_id in asked:
        for suffix in ("", "/text"):
            response = bob.get(f"/documents/{collection}/{chunk_id}{suffix}")
            assert response.status_code == 404, (collection, chunk_id, suffix, response.status_code)
            assert response.text == "not found"
    assert len(library.components.audit.query(kinds=["document_opened"])) == before
    assert bob.get(f"/documents/finance/{finance_ids[0]}").status_code == 200  # his own: the control

    alice = library.client("alice", ALICE_PASSWORD)
    for chunk_id in finance_ids:
        for collection in ("finance", "hr-docs"):
            response = alice.get(f"/documents/{collection}/{chunk_id}")
            assert response.status_code == 404 and FINANCE_MARKER not in response.text


def test_without_a_login_the_route_sends_to_the_login_page(library):
    chunk_id = library.chunk("hr-docs", "leave-policy.md", "25 days")
    response = library.client().get(f"/documents/hr-docs/{chunk_id}")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert HR_MARKER not in response.text


@pytest.mark.parametrize("path", [
    "/documents/../../../../etc/passwd", "/documents/hr-docs/..%2f..%2f..%2fetc%2fpasswd",
    "/documents/hr-docs/%2e%2e/%2e%2e/etc/passwd", "/documents/hr-docs/%2Fetc%2Fpasswd",
    "/documents/%2Fetc/passwd", "/documents//etc/passwd", "/documents/hr-docs/..", "/documents/hr-docs/.",
    "/documents/hr-docs/policies/leave-policy.md", "/documents/hr-docs/leave-policy.md",
    "/documents/hr-docs/~/etc/passwd", "/documents/hr-docs/x%00.md", "/documents/hr-docs\\..\\..\\etc\\passwd",
    "/documents/hr-docs", "/documents/", "/documents", "/documents/hr-docs/a/b/c",
])
def test_no_path_from_the_browser_reaches_a_file(library, path):
    alice = library.client("alice", ALICE_PASSWORD)
    for method in ("GET", "POST", "HEAD"):
        response = alice.request(method, path)
        assert response.status_code in (404, 405), (method, path, response.status_code)
        assert "root:" not in response.text and HR_MARKER not in response.text


def test_a_chunk_whose_file_was_never_ingested_into_that_collection_is_refused(library):
    """A store row no ingest wrote (a restored backup, a bug, a poisoned store) names a file the
    manifest does not hold for the collection: refused like an unknown id."""
    from llama_index.core.schema import TextNode

    from assistant.passage import HeadingPath, chunk_metadata

    store = library.components.store
    alice = library.client("alice", ALICE_PASSWORD)
    (library.hr / "later.md").write_text("# Later\nAdded after the ingest.\n")
    planted = [("planted-passwd", "/etc/passwd"), ("planted-later", str(library.hr / "later.md")),
               ("planted-finance", str(library.finance / "treasury.md"))]
    for chunk_id, source in planted:
        meta = chunk_metadata(source=source, file_name=Path(source).name, file_type="md", heading=HeadingPath(),
                              mtime=0.0, chunk_index=0, content_hash="0" * 64, page=None, root=str(library.hr))
        store.upsert("hr-docs", [TextNode(id_=chunk_id, text="planted", metadata=meta, embedding=[0.1] * 384)])
    try:
        for chunk_id, _ in planted:
            response = alice.get(f"/documents/hr-docs/{chunk_id}")
            assert response.status_code == 404, chunk_id
            assert "root:" not in response.text and FINANCE_MARKER not in response.text
    finally:
        store.delete("hr-docs", [chunk_id for chunk_id, _ in planted])
        (library.hr / "later.md").unlink()


def test_a_file_changed_or_deleted_since_ingest_says_so(library):
    alice = library.client("alice", ALICE_PASSWORD)
    changing = library.chunk("hr-docs", "changing.md")
    going = library.chunk("hr-docs", "going.md")
    old_pdf = library.chunk("hr-docs", "old-guide.pdf", page=1)
    (library.hr / "changing.md").write_text("# Parking\nThe car park is closed.\n")
    (library.hr / "going.md").unlink()
    (library.hr / "guides" / "old-guide.pdf").write_bytes(b"%PDF-1.4 not the ingested one")

    page = alice.get(f"/documents/hr-docs/{changing}").text
    assert "has changed since it was ingested" in page and "opens at 07:00" in page and "is closed" not in page
    page = alice.get(f"/documents/hr-docs/{going}").text
    assert "deleted or moved since it was ingested" in page and "lunch from 12:00" in page
    response = alice.get(f"/documents/hr-docs/{old_pdf}")
    assert response.status_code == 409 and response.headers["content-type"].startswith("text/html")
    assert "has changed since it was ingested" in response.text and "not the ingested one" not in response.text
    assert f'href="/documents/hr-docs/{old_pdf}/text#passage"' in response.text
    (library.hr / "guides" / "old-guide.pdf").unlink()
    assert alice.get(f"/documents/hr-docs/{old_pdf}").status_code == 410
    states = [(e.detail["path"], e.detail["state"], e.detail["opened"])
              for e in library.components.audit.query(kinds=["document_opened"]) if e.detail["passage"] == old_pdf]
    assert states == [("guides/old-guide.pdf", "changed", False), ("guides/old-guide.pdf", "deleted", False)]


def test_the_audit_trail_of_documents_holds_no_secret(library):
    import hashlib

    alice = library.client("alice", ALICE_PASSWORD)
    alice.get(f"/documents/hr-docs/{library.chunk('hr-docs', 'leave-policy.md', '25 days')}")
    token = alice.cookies.get("assistant_session")
    events = library.components.audit.query(kinds=["document_opened"])
    trail = str([e.as_json() for e in events])
    assert events and ALICE_PASSWORD not in trail and token not in trail
    assert hashlib.sha256(token.encode()).hexdigest() not in trail
    assert not any(e.detail.get("content_hash") for e in events)


def test_overlapping_chunks_merge_into_one_text_and_each_chunk_is_found_in_it():
    from ui.web.documents import merge_overlapping

    texts = ["Alpha beta gamma delta epsilon zeta eta theta.", "epsilon zeta eta theta. Iota kappa lambda mu nu xi.",
             "A new paragraph with no overlap at all here."]
    merged, starts = merge_overlapping(texts)
    assert merged == ("Alpha beta gamma delta epsilon zeta eta theta. Iota kappa lambda mu nu xi.\n\n"
                      "A new paragraph with no overlap at all here.")
    for text, start in zip(texts, starts):
        assert merged[start:start + len(text)] == text


# ---------------------------------------------------------------- in a real browser


class OneSourceAnswerer:
    """Answers from the real retriever's best passage, cited [1], with its first sentence as the
    quote: the chat's sources and links are what is under test, not the model's wording."""

    def __init__(self, components):
        self.components = components

    def stream(self, question, collections, history=()):
        from assistant.answer import Answer, Finished, SourcesFound, TextDelta

        [best, *_] = self.components.retriever.search(question, list(collections), 3)
        yield SourcesFound([best], question)
        text = "Full-time employees get 25 days [1]."
        yield TextDelta(text)
        yield Finished(Answer(question=question, text=text, sources=[best], retrieved=[best], refused=False,
                              language="en", quotes=["Full-time employees get 25 days of paid annual leave per calendar year."]))


@pytest.fixture(scope="module")
def served(library):
    import uvicorn

    library.components.answerer = OneSourceAnswerer(library.components)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(library.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def log_in(page, url: str, name: str, password: str) -> None:
    page.goto(url + "/")
    page.fill("#username", name)
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("#question textarea", timeout=30000)


@pytest.mark.slow
def test_in_the_browser_open_shows_the_cited_passage_and_the_pdf_at_its_page_to_its_reader_only(library, served):
    from playwright.sync_api import sync_playwright

    from tests.e2e.test_browser import BROWSER_ARGS, CHROMIUM

    pdf_chunk = library.chunk("hr-docs", "onboarding-guide.pdf", "Ledgerly", page=2)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False, args=BROWSER_ARGS)
        context = browser.new_context()
        page = context.new_page()
        outside = []
        # The PDF viewer loads its own chrome:// and chrome-extension:// parts; nothing may go to another host.
        context.on("request", lambda r: outside.append(r.url) if not r.url.startswith(served) and
                   r.url.split(":", 1)[0] not in ("data", "blob", "chrome", "chrome-extension") else None)
        log_in(page, served, "alice", ALICE_PASSWORD)
        time.sleep(1.0)  # the collection picker loads with the page
        page.fill("#question textarea", "How many days of paid annual leave do full-time employees get?")
        page.click("#ask")
        # The finished answer's sources have ids (those listed while it streams have none).
        page.wait_for_selector("[data-testid='bot'] details.source[id] a.open", timeout=60000)
        page.wait_for_timeout(1000)  # the conversation list refreshes after the answer
        opener = page.locator("[data-testid='bot'] details.source[id] a.open").first
        summary = page.inner_text("[data-testid='bot'] details.source summary")
        assert summary.startswith("[1] policies/leave-policy.md, Leave policy > Annual leave")
        assert page.inner_text("[data-testid='bot'] details.source summary mark").startswith("Full-time employees")
        href = opener.get_attribute("href")
        assert re.fullmatch(r"/documents/hr-docs/[0-9a-f-]+#passage", href), href
        page.click("[data-testid='bot'] a.cite")  # the answer's [1] jumps to the source it names
        assert page.evaluate("location.hash") == "#turn1-source-1"

        # A thumb on the answer is stored with it (issue 10, point 4), as the browser sends it.
        page.get_by_role("button", name="Like", exact=True).first.click()
        page.wait_for_function("document.querySelector('#feedback-note').innerText.includes('saved')", timeout=15000)
        [conversation] = library.components.conversations.list("alice", "")
        [turn] = library.components.conversations.turns("alice", conversation.id)
        assert turn.question.startswith("How many days of paid annual leave")
        [feedback] = [f for f in library.components.conversations.feedback() if f.user == "alice"]
        assert feedback.rating == 1 and feedback.question == turn.question and feedback.answer == turn.answer
        assert feedback.sources and "leave-policy.md" in str(feedback.sources)

        with context.expect_page() as opened:
            opener.click()
        document = opened.value
        document.wait_for_load_state()
        mark = document.wait_for_selector("mark#passage", timeout=15000)
        assert "Full-time employees get 25 days" in mark.inner_text() and mark.is_visible()
        assert document.evaluate("""() => { const r = document.querySelector('mark#passage').getBoundingClientRect();
                                            return r.top >= 0 && r.top < window.innerHeight; }"""), "scrolled into view"
        assert document.title().startswith("policies/leave-policy.md")

        # The PDF opens in Chromium's own viewer, at the cited page, under the app's headers.
        viewer = context.new_page()
        downloads = []
        viewer.on("download", lambda d: downloads.append(d.suggested_filename))
        response = viewer.goto(f"{served}/documents/hr-docs/{pdf_chunk}#page=2")
        assert response.headers["content-type"] == "application/pdf"
        viewer.wait_for_timeout(3000)
        assert downloads == [], "the PDF must be shown, not downloaded"
        assert any(f.url.startswith("chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/") for f in viewer.frames), \
            [f.url for f in viewer.frames]
        assert viewer.url.endswith("#page=2")

        # Another user, in another browser session, gets nothing of it.
        other = browser.new_context().new_page()
        log_in(other, served, "bob", BOB_PASSWORD)
        refused = other.goto(served + href.split("#")[0])
        assert refused.status == 404 and HR_MARKER not in other.content()
        browser.close()
    assert outside == [], f"the page requested something off the server: {outside}"
