"""Take the README's screenshots: the staff chat with a conversation and its sources, an opened
source document, and the admin pages.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--model qwen2.5-coder-1.5b]

It makes a throwaway ASSISTANT_HOME (the assembled models are shared with yours), ingests seeds/
and a folder holding one broken file, adds an administrator and a staff member, starts the real
`assistant ui` on a free loopback port, and drives Debian's Chromium (Playwright) through the pages
as they would: log in, ask, rate the answer, open a source; then the admin pages. Nothing is
faked: the answer is the model's, so the pictures show what the product does today.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1366, "height": 860}  # a laptop's screen
ADMIN, ADMIN_PASSWORD = "admin", "granite willow echo 19"
STAFF, STAFF_PASSWORD = "alice", "tulip harbour seven 2026"
QUESTION = "How many days of paid annual leave do full-time employees get?"


def run(*args: str, env: dict, stdin: str | None = None) -> None:
    subprocess.run([str(BIN / "assistant"), *args], env=env, input=stdin, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(home: Path, scratch: Path, models: Path, model: str) -> dict:
    home.mkdir(parents=True)
    (home / "models").symlink_to(models, target_is_directory=True)
    (home / "settings.toml").write_text("ui_require_login = true\n")
    env = dict(os.environ, ASSISTANT_HOME=str(home), ASSISTANT_LLM_MODEL=model)
    run("models", "install", env=env)
    run("ingest", str(ROOT / "seeds"), env=env)
    inbox = scratch / "hr-inbox"
    inbox.mkdir()
    (inbox / "travel-policy.md").write_text("# Travel policy\nTrain tickets are booked two weeks ahead through "
                                            "the travel desk. First class needs a manager's approval.\n")
    (inbox / "expenses-2025.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> cut short in transfer")
    subprocess.run([str(BIN / "assistant"), "ingest", str(inbox), "--collection", "hr-inbox"], env=env,
                   stdout=subprocess.DEVNULL)  # exits 1: the broken PDF is reported as failed
    run("users", "add", ADMIN, "--admin", "--password-stdin", env=env, stdin=ADMIN_PASSWORD + "\n")
    run("users", "add", STAFF, "--password-stdin", env=env, stdin=STAFF_PASSWORD + "\n")
    run("groups", "add", "staff", env=env)
    run("groups", "members", "staff", "--add", STAFF, env=env)
    run("collections", "grant", "default", "--read", "staff", env=env)
    run("collections", "grant", "hr-inbox", "--read", "staff", "--write", "staff", env=env)
    return env


def wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the UI did not start:\n" + log.read_text())
            time.sleep(0.5)


def log_in(page, url: str, name: str, password: str) -> None:
    page.goto(url + "/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()


def staff_pages(browser, url: str, out: Path) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    log_in(page, url, STAFF, STAFF_PASSWORD)
    page.wait_for_selector("#question textarea", timeout=60000)
    page.fill("#question textarea", QUESTION)
    page.click("#ask")
    page.wait_for_selector("[data-testid='bot'] details.source", timeout=300000)
    page.wait_for_function("!document.querySelector('.generating, .pending')", timeout=300000)
    time.sleep(2.0)  # the last update and the conversation list
    first_source = page.query_selector("[data-testid='bot'] details.source")
    if first_source is not None:
        first_source.evaluate("d => d.open = true")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(out / "staff-chat.png"), full_page=True)
    # A thumb down with a comment, for the admin's feedback page.
    dislike = page.get_by_label("Dislike")
    if dislike.count():
        dislike.last.click()
        page.wait_for_function("document.querySelector('#feedback-note').innerText.trim() !== ''")
        if "saved" in page.inner_text("#feedback-note"):
            page.fill("#feedback-comment textarea", "Please say whether part-timers get it too.")
            page.click("#send-comment")
            time.sleep(1.0)
        else:
            print("the thumb was not saved: " + page.inner_text("#feedback-note"), file=sys.stderr)
    link = page.query_selector("[data-testid='bot'] a.open")
    if link is not None:  # the document route (ui/web/documents.py)
        page.goto(url + link.get_attribute("href"))
        page.wait_for_load_state("load")
        time.sleep(1.0)
        page.screenshot(path=str(out / "staff-document.png"))
    else:
        print("no 'open' link on the sources: no document screenshot", file=sys.stderr)
    page.close()


def admin_pages(browser, url: str, out: Path) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    log_in(page, url, ADMIN, ADMIN_PASSWORD)
    page.wait_for_selector("#conversation", timeout=60000)
    for section in ("users", "groups", "collections", "feedback", "audit"):
        page.goto(f"{url}/admin/{section}")
        page.wait_for_selector("main h2")
        if section == "collections":
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = d.closest('section') "
                          "&& d.querySelector('summary').textContent.startsWith('Files'))")
        page.screenshot(path=str(out / f"admin-{section}.png"), full_page=section in ("collections", "audit"))
    page.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--models", type=Path, default=None,
                        help="where assembled models are kept (default: your ASSISTANT_HOME's models/)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from assistant.settings import load_settings

    models = args.models or load_settings().models_path
    models.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="assistant-screenshots-") as scratch_name:
        scratch = Path(scratch_name)
        env = prepare(scratch / "home", scratch, models, args.model)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = scratch / "ui.log"
        with log.open("w") as log_file:
            process = subprocess.Popen([str(BIN / "assistant"), "ui", "--port", str(port)], env=env,
                                       stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_for(url, process, log)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False, args=BROWSER_ARGS)
                staff_pages(browser, url, args.out)
                admin_pages(browser, url, args.out)
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    for png in sorted(args.out.glob("*.png")):
        print(png.relative_to(ROOT) if png.is_relative_to(ROOT) else png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
