"""Files added from the web page: stored under the home with a safe name, ingested by the same
code as `assistant ingest` with its reasons for bad files, audited, and only for users who may
write to the collection. Real app (TestClient), real Chroma and embedder; no model is needed."""
import json

import pytest

from assistant.accounts import personal_group
from tests.conftest import components_for, ingest, make_home

LEAVE = "# Parental leave\nParents get 18 weeks of parental leave at full pay.\n"
BIKES = "Bicycle storage\n\nStaff bicycles are kept in the locked shed behind building C.\n"
CORRUPT_PDF = b"%PDF-1.7\n this is not really a PDF \x00\x01\x02"


def lines(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def final_states(steps: list[dict]) -> dict[str, tuple[str, str]]:
    """name as sent -> (state, message) of its last step."""
    names = steps[0]["files"]
    last = {}
    for step in steps:
        if "file" in step:
            last[names[step["file"]]] = (step["state"], step["message"])
    return last


def client_for(components):
    from starlette.testclient import TestClient

    from ui.web.app import build_web_app

    return TestClient(build_web_app(components), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def handbook(tmp_path_factory, shared_models_dir, embedder):
    """A home with one collection, 'handbook', and the app over it, on loopback without logins."""
    root = tmp_path_factory.mktemp("upload")
    home = make_home(root / "home", shared_models_dir)
    components = components_for(home, embedder)
    (root / "first").mkdir()
    (root / "first" / "welcome.md").write_text("# Welcome\nThe office opens at eight.\n")
    assert ingest(components, [root / "first"], collection="handbook").ok
    return root, components, client_for(components)


def test_several_files_are_stored_safely_ingested_and_bad_ones_get_the_cli_reason(handbook):
    root, components, client = handbook
    files = [("files", ("../../outside/leave policy.md", LEAVE.encode(), "text/markdown")),
             ("files", ("bikes.txt", BIKES.encode(), "text/plain")),
             ("files", ("scan.pdf", CORRUPT_PDF, "application/pdf")),
             ("files", (".hidden-tool.exe", b"MZ\x90\x00", "application/octet-stream")),
             ("files", ("empty.md", b"", "text/markdown"))]
    steps = lines(client.post("/upload?collection=handbook", files=files))

    # The CLI's own reasons for the same bad files, ingested as `assistant ingest` does.
    (root / "cli").mkdir()
    (root / "cli" / "scan.pdf").write_bytes(CORRUPT_PDF)
    (root / "cli" / "tool.exe").write_bytes(b"MZ\x90\x00")
    (root / "cli" / "empty.md").write_bytes(b"")
    cli = ingest(components, [root / "cli"], collection="cli-check")
    cli_reasons = {path.rsplit("/", 1)[-1]: reason for path, reason in cli.failed + cli.skipped}

    states = final_states(steps)
    assert states["../../outside/leave policy.md"] == ("added", "added: 1 passage; stored as leave policy.md")
    assert states["bikes.txt"] == ("added", "added: 1 passage")
    assert states["scan.pdf"] == ("failed", cli_reasons["scan.pdf"])
    assert states[".hidden-tool.exe"] == ("skipped", cli_reasons["tool.exe"])
    assert states["empty.md"] == ("failed", cli_reasons["empty.md"])
    # Each file was reported as it was being ingested, before its result.
    assert [s["state"] for s in steps if s.get("file") == 1] == ["ingesting", "added"]
    assert steps[-1] == {"done": True, "outcome": "partial",
                         "message": "2 of 5 files in handbook: ask about them now; 3 not added (see the reason "
                                    "beside each)."}

    folder = components.settings.uploads_path / "handbook"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["bikes.txt", "leave policy.md"]
    assert not (root / "outside").exists() and not (components.settings.home / "outside").exists()
    assert list((folder / ".incoming").iterdir()) == []
    found = components.retriever.search("How many weeks of parental leave?", ["handbook"], 3)
    assert found[0].source == str(folder / "leave policy.md") and "18 weeks" in found[0].text

    [event] = components.audit.query(kinds=["upload"])
    assert (event.user, event.detail["collection"], event.detail["outcome"]) == (
        "(local operator)", "handbook", "partial")
    assert [(f["stored_as"], f["outcome"]) for f in event.detail["files"]] == [
        ("leave policy.md", "added"), ("bikes.txt", "added"), ("scan.pdf", "failed"),
        ("hidden-tool.exe", "skipped"), ("empty.md", "failed")]
    assert event.detail["files"][2]["reason"] == cli_reasons["scan.pdf"]


def test_a_file_named_like_an_earlier_upload_replaces_it_and_says_so_and_a_bad_one_keeps_the_old(handbook):
    _, components, client = handbook
    first = BIKES.replace("building C", "building D")
    client.post("/upload?collection=handbook", files=[("files", ("racks.txt", BIKES.encode(), "text/plain"))])
    steps = lines(client.post("/upload?collection=handbook",
                              files=[("files", ("racks.txt", first.encode(), "text/plain"))]))
    assert final_states(steps)["racks.txt"] == (
        "updated", "updated: 1 passage; replaced the earlier upload of the same name")
    stored = components.settings.uploads_path / "handbook" / "racks.txt"
    assert stored.read_text() == first

    steps = lines(client.post("/upload?collection=handbook", files=[("files", ("racks.txt", b"", "text/plain"))]))
    assert final_states(steps)["racks.txt"][0] == "failed"
    assert stored.read_text() == first, "a bad new version must not take the place of the good one"
    found = components.retriever.search("Where are bicycles kept?", ["handbook"], 5)
    assert any("building D" in p.text for p in found) and not any("building C" in p.text and
                                                                   p.source == str(stored) for p in found)

    # Two files of one upload under one name: the second is not taken for a new version of the first.
    steps = lines(client.post("/upload?collection=handbook", files=[
        ("files", ("team/dup.txt", b"The first team lunch is on Monday.", "text/plain")),
        ("files", ("other/dup.txt", b"The second team lunch is on Friday.", "text/plain"))]))
    assert [(s["file"], s["state"], s["message"]) for s in steps if "file" in s] == [
        (1, "failed", "another file of this upload is also named dup.txt; rename one"),
        (0, "ingesting", "reading and indexing…"), (0, "added", "added: 1 passage; stored as dup.txt")]
    assert (components.settings.uploads_path / "handbook" / "dup.txt").read_text() == "The first team lunch is on Monday."


def test_the_limits_of_one_upload_are_said_in_one_line(tmp_path, shared_models_dir, embedder):
    components = components_for(make_home(tmp_path / "home", shared_models_dir), embedder, upload_max_files=2,
                                upload_max_total_mb=0.01)
    components.store.create_collection("handbook")
    client = client_for(components)
    three = [("files", (f"f{i}.txt", b"short text", "text/plain")) for i in range(3)]
    response = client.post("/upload?collection=handbook", files=three)
    assert response.status_code == 413
    assert response.json()["error"] == "too many files: at most 2 in one upload (ASSISTANT_UPLOAD_MAX_FILES)"
    response = client.post("/upload?collection=handbook", files=[("files", ("big.txt", b"x" * 200_000, "text/plain"))])
    assert response.status_code == 413 and "over the 0.01 MB limit of one upload" in response.json()["error"]
    assert not (components.settings.uploads_path / "handbook").exists() or not any(
        (components.settings.uploads_path / "handbook").glob("*.txt"))


def test_only_a_user_with_the_write_grant_sees_the_upload_control_and_may_upload(tmp_path, shared_models_dir,
                                                                                  embedder):
    """Leak-suite style: alice reads the handbook but may not write to it; bob may. Alice gets no
    drop zone, and her direct request is refused before any file is received or stored."""
    from ui.web.upload import Uploads, panel_html

    components = components_for(make_home(tmp_path / "home", shared_models_dir), embedder, ui_require_login=True)
    components.store.create_collection("handbook")
    components.store.create_collection("finance")
    accounts = components.accounts
    accounts.add_user("alice", "violet kettle orbit 2026", collections=["handbook"])
    accounts.add_user("bob", "seven quiet lanterns drifting", collections=["handbook"])
    accounts.grant("handbook", write_groups=[personal_group("bob")])
    uploads = Uploads(components)
    assert panel_html(uploads.writable_collections("alice"), components.settings) == ""
    assert 'value="handbook"' in panel_html(uploads.writable_collections("bob"), components.settings)
    assert "finance" not in panel_html(uploads.writable_collections("bob"), components.settings)

    client = client_for(components)
    files = [("files", ("note.txt", b"Alice was here with a note.", "text/plain"))]
    assert client.post("/upload?collection=handbook", files=files).status_code == 401  # not logged in
    assert client.post("/login", data={"username": "alice", "password": "violet kettle orbit 2026"},
                       follow_redirects=False).status_code == 303
    refused = client.post("/upload?collection=handbook", files=files)
    assert refused.status_code == 403 and refused.json() == {"error": "You may not add files to this collection."}
    client.cookies.clear()
    assert client.post("/login", data={"username": "bob", "password": "seven quiet lanterns drifting"},
                       follow_redirects=False).status_code == 303
    assert client.post("/upload?collection=finance", files=files).status_code == 403  # reads nothing there either
    assert final_states(lines(client.post("/upload?collection=handbook", files=files)))["note.txt"][0] == "added"

    stored = sorted(p.relative_to(components.settings.uploads_path).as_posix()
                    for p in components.settings.uploads_path.rglob("*.txt"))
    assert stored == ["handbook/note.txt"]  # bob's; nothing of alice's refused request
    trail = [(e.user, e.detail["collection"], e.detail["outcome"]) for e in components.audit.query(kinds=["upload"])]
    assert trail == [("alice", "handbook", "no_access"), ("bob", "finance", "no_access"), ("bob", "handbook", "ok")]
