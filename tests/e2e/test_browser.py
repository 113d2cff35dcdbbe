"""A staff member logs in, asks in the browser, and watches the answer stream in with its sources.

Real parts end to end: the UI process, Chroma, the packaged embedder, a GGUF model, and Debian's
Chromium driven by Playwright (installed by `make test`)."""
import shutil
import time

import pytest

from tests.conftest import SEEDS, components_for, ingest, make_home, running_ui

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
        browser.close()
    assert "How many days" not in bobs_list

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
