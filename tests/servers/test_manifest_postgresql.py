"""The ingest manifest in PostgreSQL (accounts_url) with a Chroma server: `assistant ingest` on
several machines (here: several homes naming the same two servers) shares one collection. Two
ingests at once, of one folder or of its two halves, end with exactly the chunks of one clean run;
a second ingest waits for the first; the lock of a killed process is freed by the server; a
caller that must not wait (the web upload) is refused while the lock is held."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ASSISTANT, NETGUARD, ROOT, SEEDS, make_home, run_cli
from tests.ingest.conftest import cli_env, run_cli_killed_at

DEADLINE_S = 600

# Holds a collection's lock through the PostgreSQL manifest until its stdin is closed (or it is killed).
HOLDER = """
import sys
from ingest.manifest_sql import PostgresManifest
manifest = PostgresManifest(sys.argv[1])
with manifest.lock(sys.argv[2]):
    print("locked", flush=True)
    sys.stdin.read()
"""


def machine(folder: Path, name: str, chroma_server, shared_models_dir, accounts_url: str) -> Path:
    """A home of its own (as on another machine) naming the shared Chroma server and PostgreSQL."""
    home = make_home(folder / name, shared_models_dir, **chroma_server.settings(), accounts_url=accounts_url)
    home.chmod(0o700)
    return home


def chunks(chroma_server, collection: str) -> dict[str, str]:
    """What the Chroma server holds for the collection: id -> text."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.HttpClient(host=chroma_server.host, port=chroma_server.port,
                                 settings=ChromaSettings(anonymized_telemetry=False))
    got = client.get_collection(collection).get(include=["documents"])
    return dict(zip(got["ids"], got["documents"]))


def manifest_rows(accounts_url: str, collection: str) -> dict[str, tuple[str, list[str]]]:
    """The PostgreSQL manifest's rows of the collection: path -> (state, chunk ids)."""
    engine = sa.create_engine(accounts_url)
    try:
        with engine.connect() as db:
            rows = db.execute(sa.text("SELECT path, state, chunk_ids FROM ingest_files WHERE collection = :c"),
                              {"c": collection}).all()
    finally:
        engine.dispose()
    return {path: (state, json.loads(ids)) for path, state, ids in rows}


def start_ingest(home: Path, *args: str, stderr=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen([ASSISTANT, "ingest", *args, "--json"], env=cli_env(home), stdout=subprocess.PIPE,
                            stderr=stderr, text=True)


def finish(process: subprocess.Popen) -> tuple[int, dict, str]:
    out, err = process.communicate(timeout=DEADLINE_S)
    return process.returncode, (json.loads(out) if process.returncode == 0 else {}), err or ""


def hold_lock(accounts_url: str, collection: str) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, accounts_url, collection], cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=f"{NETGUARD}:{ROOT}"), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = holder.stdout.readline()
    if line.strip() != "locked":
        holder.kill()
        pytest.fail(f"the lock holder did not take the lock: {line}{holder.stderr.read()}")
    return holder


def wait_for_text(path: Path, text: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while text not in path.read_text():
        if process.poll() is not None:
            pytest.fail(f"the ingest ended (status {process.returncode}) without waiting: {path.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"the ingest never said it was waiting: {path.read_text()}")
        time.sleep(0.2)


def test_two_processes_opening_an_empty_database_at_once_make_the_tables_once(postgres_url):
    from ingest.manifest_sql import PostgresManifest

    scripts = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, postgres_url], cwd=ROOT,
                                env=dict(os.environ, PYTHONPATH=f"{NETGUARD}:{ROOT}"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outcomes = [p.communicate(timeout=DEADLINE_S) + (p.returncode,) for p in scripts]
    assert [rc for _, _, rc in outcomes] == [0, 0, 0], [err for _, err, _ in outcomes]
    manifest = PostgresManifest(postgres_url)
    try:
        assert sorted(manifest.files("docs")) == ["/srv/docs/0", "/srv/docs/1", "/srv/docs/2"]
    finally:
        manifest.close()


# Opens the manifest of an empty database (three of these start at once) and writes one file's row.
OPEN_AT_ONCE = """
import os, sys
from ingest.manifest import PendingWrite
from ingest.manifest_sql import PostgresManifest
manifest = PostgresManifest(sys.argv[1])
with manifest.lock("docs", on_wait=lambda message: None):
    number = len(manifest.files("docs"))
    manifest.begin("docs", [PendingWrite(f"/srv/docs/{number}", "h", 1, 1.0, ["c"], 1.0)])
    manifest.commit("docs", [f"/srv/docs/{number}"])
manifest.close()
"""


def test_the_postgresql_manifest_keeps_the_sqlite_ones_rows_and_order(postgres_url, tmp_path):
    from ingest.manifest import Manifest, PendingWrite
    from ingest.manifest_sql import PostgresManifest

    paths = ["/srv/docs/a.md", "/srv/docs/sub/b.md", "/srv/docs-old/c.md", "/srv/docs/é.md", "/srv/docs/Z.md"]
    seen = []
    for manifest in (Manifest(tmp_path / "manifest.sqlite"), PostgresManifest(postgres_url)):
        try:
            manifest.begin("docs", [PendingWrite(p, f"hash{len(p)}", len(p), 1.5, [f"{p}#0"], 2.5) for p in paths])
            pending = sorted(r.path for r in manifest.pending("docs"))
            manifest.commit("docs", paths[:-1])
            manifest.begin_removal("docs", paths[-1:])
            manifest.remove("docs", paths[-1:])
            manifest.touch("docs", paths[0], 7, 9.5, 10.5)
            seen.append((pending, manifest.files("docs"), sorted(r.path for r in manifest.under("docs", "/srv/docs")),
                         manifest.done_with_hash("docs", f"hash{len(paths[0])}"), manifest.collections(),
                         manifest.file_count("docs"), manifest.pending()))
        finally:
            manifest.close()
    assert seen[0] == seen[1]
    assert sorted(seen[1][2]) == ["/srv/docs/a.md", "/srv/docs/sub/b.md", "/srv/docs/é.md"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A folder of small real documents in two halves; half-b holds a copy of a half-a file under
    another name (its vectors are reused from whichever half was written first)."""
    folder = tmp_path_factory.mktemp("pg-manifest") / "corpus"
    (folder / "half-a").mkdir(parents=True)
    (folder / "half-b").mkdir()
    shutil.copy(SEEDS / "expenses-faq.txt", folder / "half-a")
    shutil.copy(SEEDS / "leave-policy.md", folder / "half-a")
    shutil.copy(SEEDS / "private-ai-article-fr.txt", folder / "half-b")
    shutil.copy(SEEDS / "leave-policy.md", folder / "half-b" / "leave-policy-copy.md")
    (folder / "half-b" / "parking.md").write_text("# Parking\n\nStaff park on level two; visitors on level one.\n")
    return folder


@pytest.fixture(scope="module")
def clean(tmp_path_factory, corpus, chroma_server, postgres, shared_models_dir):
    """One clean `assistant ingest` of the whole folder into a collection of its own: (its chunks,
    the home, the database)."""
    accounts_url = postgres.new_database()
    home = machine(tmp_path_factory.mktemp("pg-clean"), "home", chroma_server, shared_models_dir, accounts_url)
    result = run_cli("ingest", str(corpus), "--collection", "pg-clean", "--json", home=home, env_extra=cli_env(home))
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["added"]) == 5
    return chunks(chroma_server, "pg-clean"), home, accounts_url


def test_the_manifest_rows_are_in_postgresql_and_none_in_the_home(clean, corpus):
    stored, home, accounts_url = clean
    rows = manifest_rows(accounts_url, "pg-clean")
    assert set(rows) == {str(p) for p in corpus.rglob("*") if p.is_file()}
    assert {state for state, _ in rows.values()} == {"done"}
    assert sorted(i for _, ids in rows.values() for i in ids) == sorted(stored)
    engine = sa.create_engine(accounts_url)
    with engine.connect() as db:
        runs = db.execute(sa.text("SELECT collection, added FROM ingest_runs")).all()
    engine.dispose()
    assert runs == [("pg-clean", 5)]
    assert not (home / "manifest.sqlite").exists()
    assert not (home / "locks").exists()


def test_two_ingests_of_one_folder_at_once_end_as_one_clean_run(tmp_path, clean, corpus, chroma_server, postgres,
                                                                 shared_models_dir):
    accounts_url = postgres.new_database()
    homes = [machine(tmp_path, f"machine-{n}", chroma_server, shared_models_dir, accounts_url) for n in (1, 2)]
    processes = [start_ingest(home, str(corpus), "--collection", "pg-same-folder") for home in homes]
    results = [finish(p) for p in processes]
    assert [rc for rc, _, _ in results] == [0, 0], [err for _, _, err in results]
    # The second reads the manifest once it has the lock: it finds every file written, adds none again.
    added = sorted(path for _, report, _ in results for path in report["added"])
    assert added == sorted(str(p) for p in corpus.rglob("*") if p.is_file())
    assert chunks(chroma_server, "pg-same-folder") == clean[0]
    rows = manifest_rows(accounts_url, "pg-same-folder")
    assert sorted(i for _, ids in rows.values() for i in ids) == sorted(clean[0])


def test_two_ingests_of_two_halves_at_once_end_as_one_clean_run_of_the_whole(tmp_path, clean, corpus, chroma_server,
                                                                             postgres, shared_models_dir):
    accounts_url = postgres.new_database()
    homes = [machine(tmp_path, f"machine-{n}", chroma_server, shared_models_dir, accounts_url) for n in (1, 2)]
    processes = [start_ingest(home, str(corpus / half), "--collection", "pg-halves")
                 for home, half in zip(homes, ("half-a", "half-b"))]
    results = [finish(p) for p in processes]
    assert [rc for rc, _, _ in results] == [0, 0], [err for _, _, err in results]
    assert [report["removed"] for _, report, _ in results] == [[], []], "a half never removes the other"
    assert chunks(chroma_server, "pg-halves") == clean[0]
    assert set(manifest_rows(accounts_url, "pg-halves")) == {str(p) for p in corpus.rglob("*") if p.is_file()}


def test_an_ingest_waits_for_the_lock_and_a_killed_holders_lock_is_freed(tmp_path, clean, corpus, chroma_server,
                                                                         postgres, shared_models_dir):
    accounts_url = postgres.new_database()
    home = machine(tmp_path, "machine-1", chroma_server, shared_models_dir, accounts_url)
    holder = hold_lock(accounts_url, "pg-killed")
    log = tmp_path / "ingest.err"
    try:
        with log.open("w") as err:
            ingest = start_ingest(home, str(corpus), "--collection", "pg-killed", stderr=err)
        wait_for_text(log, "waiting for it to finish", ingest)
        holder.send_signal(signal.SIGKILL)  # no unlock: the server frees the lock when the connection drops
        holder.wait(timeout=60)
        rc, report, _ = finish(ingest)
    finally:
        holder.kill()
    said = log.read_text()
    assert rc == 0, said
    assert f"collection 'pg-killed' is being written by another process (pid {holder.pid} on" in said
    assert len(report["added"]) == 5
    assert chunks(chroma_server, "pg-killed") == clean[0]


def test_ctrl_c_ends_an_ingest_waiting_for_the_lock_and_it_writes_nothing(tmp_path, corpus, chroma_server, postgres,
                                                                          shared_models_dir):
    accounts_url = postgres.new_database()
    home = machine(tmp_path, "machine-1", chroma_server, shared_models_dir, accounts_url)
    holder = hold_lock(accounts_url, "pg-interrupted")
    log = tmp_path / "ingest.err"
    try:
        with log.open("w") as err:
            ingest = start_ingest(home, str(corpus), "--collection", "pg-interrupted", stderr=err)
        wait_for_text(log, "waiting for it to finish", ingest)
        ingest.send_signal(signal.SIGINT)  # while the other still holds the lock
        rc = ingest.wait(timeout=60)
    finally:
        holder.kill()
        holder.wait(timeout=60)
    assert rc == 130, log.read_text()
    assert manifest_rows(accounts_url, "pg-interrupted") == {}


def test_an_ingest_killed_mid_write_is_repaired_by_the_next_on_any_machine(tmp_path, clean, corpus, chroma_server,
                                                                           postgres, shared_models_dir):
    accounts_url = postgres.new_database()
    first, second = (machine(tmp_path, f"machine-{n}", chroma_server, shared_models_dir, accounts_url) for n in (1, 2))
    killed = run_cli_killed_at("commit", 1, "ingest", str(corpus), "--collection", "pg-crash", home=first)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert "pending" in {state for state, _ in manifest_rows(accounts_url, "pg-crash").values()}
    result = run_cli("ingest", str(corpus), "--collection", "pg-crash", "--json", home=second,
                     env_extra=cli_env(second))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["repaired"] > 0
    assert chunks(chroma_server, "pg-crash") == clean[0]


def test_the_web_upload_is_refused_while_another_process_holds_the_lock(tmp_path, chroma_server, postgres,
                                                                        shared_models_dir, embedder, monkeypatch):
    from ingest.manifest import CollectionBusy
    from ingest.service import IngestService
    from tests.conftest import components_for
    from ui.web.upload import Uploads

    accounts_url = postgres.new_database()
    home = machine(tmp_path, "web", chroma_server, shared_models_dir, accounts_url)
    monkeypatch.setenv("ASSISTANT_HOME", str(home))  # its settings.toml is read from there
    components = components_for(home, embedder)
    assert components.settings.chroma_mode == "server"
    note = b"# Canteen\n\nThe canteen opens at noon.\n"
    holder = hold_lock(accounts_url, "pg-upload")
    try:
        events: list[dict] = []
        [refused] = Uploads(components).run("alice", "pg-upload", [("canteen.md", io.BytesIO(note))], events.append)
        with pytest.raises(CollectionBusy, match=f"pid {holder.pid} on"):
            IngestService(components).ingest([tmp_path], "pg-upload")
    finally:
        holder.stdin.close()  # the holder lets go and exits
        holder.wait(timeout=60)
    assert refused.state == "failed"
    assert f"collection 'pg-upload' is being written by another process (pid {holder.pid} on" in refused.message
    [accepted] = Uploads(components).run("alice", "pg-upload", [("canteen.md", io.BytesIO(note))], events.append)
    assert accepted.state not in ("failed", "waiting", "ingesting"), accepted.message
    assert list(manifest_rows(accounts_url, "pg-upload")) == [str(components.settings.uploads_path / "pg-upload"
                                                                  / "canteen.md")]
