"""A staff member logs in, asks in the browser, and watches the answer stream in with its sources.

Real parts end to end: the UI process, Chroma, the packaged embedder, a GGUF model, and Debian's
Chromium driven by Playwright (installed by `make test`)."""
import contextlib
import shutil
import threading
import time

import pytest

from tests.conftest import SEEDS, components_for, free_port, ingest, make_home, running_ui

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def ui_server(tmp_path, shared_models_dir, embedder):
    home = make_home(tmp_path / "home", shared_models_dir, ui_require_login=True)
    components = components_for(home, embedder)
    assert ingest(components, [SEEDS]).ok
    components.accounts.add_user("alice", "tulip harbour seven 2026", collections=["default"])
    components.accounts.add_user("bob", "copper lantern tide 58", collections=["default"])
    with running_ui(home, tmp_path) as (url, _):
        yield url + "/"


@pytest.mark.slow
def test_staff_logs_in_asks_and_sees_the_streamed_answer_with_its_sources(ui_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False, args=BROWSER_ARGS)
        page = browser.new_page()
        outside = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(ui_server) and
                not r.url.startswith(("data:", "blob:")) else None)
        page.goto(ui_server)
        page.fill("#username", "alice")
        page.fill("#password", "wrong-password-for-alice")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector("text=Wrong user name or password", timeout=15000)
        assert page.query_selector("#question") is None, "a wrong password must not let anyone in"
        page.fill("#username", "alice")
        page.fill("#password", "tulip harbour seven 2026")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector("#question textarea", timeout=30000)

        page.fill("#question textarea", "How many days of paid annual leave do full-time employees get?")
        page.click("#ask")
        states = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            bubbles = page.query_selector_all("[data-testid='bot']")
            text = bubbles[-1].inner_text() if bubbles else ""
            if text and (not states or states[-1] != text):
                states.append(text)
            if "25" in text.split("Sources")[0] and page.query_selector("[data-testid='bot'] details.source") \
                    and not page.query_selector(".generating, .pending"):
                time.sleep(1.0)
                final = page.query_selector_all("[data-testid='bot']")[-1].inner_text()
                if final == text:
                    break
            time.sleep(0.1)

        # The conversation is kept: after a reload it is listed, and opening it shows the answer
        # with its sources again.
        page.reload()
        listed = page.wait_for_selector("#conversations label:has-text('How many days of paid annual leave')",
                                        timeout=30000)
        assert page.query_selector_all("[data-testid='bot']") == []
        listed.click()
        page.wait_for_selector("[data-testid='bot'] details.source", timeout=30000)
        reopened = page.query_selector_all("[data-testid='bot']")[-1].inner_text()
        assert reopened.strip() == states[-1].strip()
        assert page.input_value("#conversation-title textarea, #conversation-title input").startswith("How many days")
        page.click("#new-conversation")
        page.wait_for_function("document.querySelectorAll(\"[data-testid='bot']\").length === 0", timeout=15000)

        # Another user never sees it.
        other = browser.new_page()
        other.goto(ui_server)
        other.fill("#username", "bob")
        other.fill("#password", "copper lantern tide 58")
        other.get_by_role("button", name="Log in").click()
        other.wait_for_selector("#conversations", timeout=30000)
        time.sleep(2.0)  # the list loads with the page
        bobs_list = other.inner_text("#conversations")
        bob_may_upload = other.query_selector("#upload-drop") is not None  # he reads, but may not write
        browser.close()
    assert "How many days" not in bobs_list
    assert not bob_may_upload

    final = states[-1]
    answer, _, sources = final.partition("Sources")
    assert "25" in answer
    assert "leave-policy.md" in sources
    # Streamed: the sources were shown while the answer was still being written, and the
    # answer grew over several updates rather than arriving whole.
    assert any("Sources" in s and "25" not in s.split("Sources")[0] for s in states), states[:5]
    answer_states = {s.split("Sources")[0] for s in states if "Sources" in s}
    assert len(answer_states) >= 3, states
    assert outside == [], f"the page requested something off the server: {outside}"


# ---------------------------------------------------------------- upload, waiting, stopping
# One app in this process (so a held fake answerer can keep the model busy) on loopback without
# logins, one browser, for the tests below.
LEAVE = "# Parental leave\nParents get 18 weeks of parental leave at full pay.\n"
CORRUPT_PDF = "%PDF-1.7\n this is not really a PDF"


@contextlib.contextmanager
def serving(app):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def local_ui(tmp_path_factory, shared_models_dir, embedder):
    """(url, components, the held answerer, the gate the model's loading waits behind, CLI reasons)."""
    from playwright.sync_api import sync_playwright

    from tests.fakes import HeldAnswerer
    from ui.web.app import build_web_app
    from ui.web.chat import ModelLoader, load_model

    root = tmp_path_factory.mktemp("browser-local")
    components = components_for(make_home(root / "home", shared_models_dir), embedder)
    components.store.create_collection("default")
    (root / "cli").mkdir()
    (root / "cli" / "broken.pdf").write_text(CORRUPT_PDF)
    [(_, cli_reason)] = ingest(components, [root / "cli"], collection="cli-check").failed
    held = HeldAnswerer(real=components.answerer)
    components.answerer = held
    model_may_load = threading.Event()
    loader = ModelLoader(lambda: (model_may_load.wait(), load_model(components))).start()
    with serving(build_web_app(components, loader)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False, args=BROWSER_ARGS)
        yield url, browser, components, held, model_may_load, cli_reason
        held.release.set()
        model_may_load.set()
        browser.close()


def last_answer(page) -> str:
    bubbles = page.query_selector_all("[data-testid='bot']")
    return bubbles[-1].inner_text() if bubbles else ""


def ask(page, question: str) -> None:
    page.fill("#question textarea", question)
    page.click("#ask")


@pytest.mark.slow
def test_staff_drop_several_files_see_each_ones_outcome_and_are_answered_from_them(local_ui):
    url, browser, components, _, model_may_load, cli_reason = local_ui
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("#upload-drop", timeout=30000)
    page.select_option("#upload-collection", "default")
    page.evaluate("""(files) => {
        const dropped = new DataTransfer();
        for (const [name, text] of files) dropped.items.add(new File([text], name));
        document.querySelector('#upload-drop').dispatchEvent(
            new DragEvent('drop', {dataTransfer: dropped, bubbles: true, cancelable: true}));
    }""", [["parental-leave.md", LEAVE], ["canteen.txt", "The canteen serves lunch from noon to two."],
           ["broken.pdf", CORRUPT_PDF]])
    page.wait_for_selector("#upload-note:has-text('2 of 3 files in default')", timeout=120000)
    rows = {row.query_selector(".upload-name").inner_text(): row.query_selector(".upload-state").inner_text()
            for row in page.query_selector_all("#upload-files li")}
    assert rows == {"parental-leave.md": "added: 1 passage", "canteen.txt": "added: 1 passage",
                    "broken.pdf": cli_reason}
    assert [b.get_attribute("value") for b in page.query_selector_all("#upload-files progress")] == ["100"] * 3

    # The model is still loading (held back by the test): the question says so, then is answered.
    ask(page, "How many weeks of parental leave do parents get?")
    page.wait_for_selector("[data-testid='bot']:has-text('The model is loading')", timeout=30000)
    model_may_load.set()
    # The finished answer (one being written is div.answer.partial), with its sources.
    page.wait_for_selector("[data-testid='bot'] div.answer:not(.partial)", timeout=240000)
    page.wait_for_selector("[data-testid='bot'] details.source", timeout=30000)
    answer, _, sources = last_answer(page).partition("Sources")
    page.close()
    assert "18" in answer
    assert "parental-leave.md" in sources
    [upload] = components.audit.query(kinds=["upload"])
    assert (upload.detail["outcome"], [f["outcome"] for f in upload.detail["files"]]) == (
        "partial", ["added", "added", "failed"])


@pytest.mark.slow
def test_a_waiting_user_sees_their_place_in_line_and_a_long_answer_can_be_stopped(local_ui):
    url, browser, components, held, model_may_load, _ = local_ui
    model_may_load.set()
    first, second = browser.new_page(), browser.new_page()
    for page in (first, second):
        page.goto(url)
        page.wait_for_selector("#question textarea", timeout=30000)
    ask(first, "[long] Tell me everything about the handbook")
    first.wait_for_selector("[data-testid='bot']:has-text('more more')", timeout=60000)
    ask(second, "[quick] When is the canteen open?")
    second.wait_for_selector("[data-testid='bot']:has-text('Waiting: 1 question ahead of yours')", timeout=60000)

    first.click("#stop")
    first.wait_for_selector("[data-testid='bot']:has-text('Stopped. This answer was not kept.')", timeout=60000)
    second.wait_for_selector("[data-testid='bot']:has-text('Answer to [quick] When is the canteen open?')",
                             timeout=60000)
    ask(first, "[quick] And on Fridays?")  # the next question works
    first.wait_for_selector("[data-testid='bot']:has-text('Answer to [quick] And on Fridays?')", timeout=60000)
    assert "more more" not in first.inner_text("#conversation"), "the partial answer is gone"
    first.close(), second.close()

    outcomes = {e.detail["question"]: e.detail["outcome"] for e in components.audit.query(kinds=["question"])}
    assert outcomes["[long] Tell me everything about the handbook"] == "stopped"
    assert outcomes["[quick] When is the canteen open?"] == "answer"
    kept = [c.title for c in components.conversations.list("(local operator)", "")]
    assert not any("[long]" in title for title in kept), kept
    assert not held.release.is_set(), "the long answer ended by Stop, not by the test letting it finish"
