"""The store on a real Chroma server (`chroma run` on loopback, chroma_mode = "server"): ingest of a
small folder, search, a cited answer, removing a file and a collection, all read back from the
server itself; and a server that cannot be reached is one clear line, not a traceback."""
from __future__ import annotations

import shutil
import subprocess

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from assistant.errors import StoreError
from tests.conftest import ASSISTANT, SEEDS, components_for, free_port, ingest, make_home, run_cli
from tests.servers.conftest import model_server_settings

COLLECTION = "handbook"


def server_client(chroma_server):
    """Our own look at the server: what it holds, not what our code says it wrote."""
    return chromadb.HttpClient(host=chroma_server.host, port=chroma_server.port,
                               settings=ChromaSettings(anonymized_telemetry=False))


def server_files(chroma_server, collection: str) -> set[str]:
    rows = server_client(chroma_server).get_collection(collection).get(include=["metadatas"])
    return {meta["file_name"] for meta in rows["metadatas"]}


@pytest.fixture(scope="module")
def served(tmp_path_factory, shared_models_dir, chroma_server, model_server, embedder):
    """Components of a home whose store is the Chroma server and whose model is the model server,
    with a copy of seeds/ ingested into 'handbook'."""
    folder = tmp_path_factory.mktemp("chroma-served")
    docs = folder / "docs"
    shutil.copytree(SEEDS, docs)
    settings = {**chroma_server.settings(), **model_server_settings(model_server)}
    components = components_for(make_home(folder / "home", shared_models_dir, **settings), embedder, **settings)
    report = ingest(components, [docs], COLLECTION)
    assert report.ok and len(report.added) == 5, report
    return components, docs


def test_ingest_writes_the_chunks_to_the_server_and_nothing_under_the_home(served, chroma_server):
    components, docs = served
    assert server_files(chroma_server, COLLECTION) == {p.name for p in docs.iterdir()}
    assert server_client(chroma_server).get_collection(COLLECTION).count() == components.store.count(COLLECTION)
    assert not components.settings.chroma_path.exists(), "no embedded Chroma beside the server"


def test_search_finds_the_right_file_on_the_server(served):
    components, _ = served
    hits = components.retriever.search("parental leave for the second parent", [COLLECTION], 3)
    assert hits[0].file_name == "leave-policy.md"
    assert "4 weeks" in " ".join(hit.text for hit in hits)


@pytest.mark.slow
def test_an_answer_over_the_server_cites_its_source(served):
    components, _ = served
    answer = components.answerer.ask("What is the extension of the IT helpdesk?", [COLLECTION])
    assert "4357" in answer.text and not answer.refused
    assert ("onboarding-guide.pdf", 2) in [(s.file_name, s.page) for s in answer.sources]


def test_a_removed_file_and_a_deleted_collection_are_gone_from_the_server(served, chroma_server, tmp_path):
    from ingest.service import IngestService

    components, _ = served
    other = tmp_path / "other"
    other.mkdir()
    (other / "parking.md").write_text("# Parking\nStaff park in bay C; visitors use the spaces by reception.\n")
    (other / "canteen.md").write_text("# Canteen\nThe canteen serves lunch from 12:00 to 14:00 on weekdays.\n")
    service = IngestService(components)
    assert service.ingest([other], "facilities").ok
    assert server_files(chroma_server, "facilities") == {"parking.md", "canteen.md"}

    removed, not_found = service.remove_sources("facilities", [str(other / "parking.md")])
    assert removed and not not_found
    assert server_files(chroma_server, "facilities") == {"canteen.md"}
    assert [hit.file_name for hit in components.retriever.search("where do staff park", ["facilities"], 3)] == [
        "canteen.md"]

    service.delete_collection("facilities")
    names = [c if isinstance(c, str) else c.name for c in server_client(chroma_server).list_collections()]
    assert "facilities" not in names and COLLECTION in names


def test_a_chroma_server_that_cannot_be_reached_is_one_clear_error(tmp_path, shared_models_dir):
    port = free_port()
    dead = {"chroma_mode": "server", "chroma_host": "127.0.0.1", "chroma_port": port}
    home = make_home(tmp_path / "home", shared_models_dir, **dead)
    home.chmod(0o700)  # else the one line would be preceded by the warning that made it private
    with pytest.raises(StoreError, match=f"cannot reach the Chroma server at 127.0.0.1:{port}"):
        components_for(home, **dead).store  # noqa: B018
    result = run_cli("search", "parking", home=home, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"cannot reach the Chroma server at 127.0.0.1:{port}" in line
    # The web UI refuses to start, rather than serving a page whose every question fails.
    ui = run_cli("ui", "--port", str(free_port()), home=home, timeout=120)
    assert ui.returncode != 0 and "Chat UI" not in ui.stdout and "Traceback" not in ui.stderr
    assert f"cannot reach the Chroma server at 127.0.0.1:{port}" in ui.stderr.strip().splitlines()[-1]

