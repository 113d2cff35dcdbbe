"""Shared fixtures: a network guard on every test, real components on a temporary ASSISTANT_HOME.

Every test, and every Python process a test starts, fails if anything opens a connection to a
non-loopback address: the product promises that nothing leaves the machine.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
NETGUARD = Path(__file__).resolve().parent / "netguard"
TEST_MODEL = os.environ.get("ASSISTANT_TEST_MODEL", "qwen2.5-coder-0.5b")
ASSISTANT = str(Path(sys.executable).parent / "assistant")

sys.path.insert(0, str(NETGUARD))
import netguard_core  # noqa: E402

netguard_core.install()


@pytest.fixture(autouse=True)
def no_network_leaves_the_machine():
    before = len(netguard_core.attempts)
    yield
    leaked = netguard_core.attempts[before:]
    assert not leaked, f"non-loopback network access attempted: {leaked}"


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory):
    """No test touches the user's real data directory."""
    home = tmp_path_factory.mktemp("default-home")
    old = os.environ.get("ASSISTANT_HOME")
    os.environ["ASSISTANT_HOME"] = str(home)
    os.environ["ASSISTANT_LLM_MODEL"] = TEST_MODEL
    yield
    if old is None:
        os.environ.pop("ASSISTANT_HOME", None)
    else:
        os.environ["ASSISTANT_HOME"] = old


@pytest.fixture(scope="session")
def shared_models_dir(tmp_path_factory) -> Path:
    """Assembled GGUFs are shared by every home of the session (assembling copies ~0.5 GB)."""
    return tmp_path_factory.mktemp("models")


def make_home(path: Path, models_dir: Path, **settings) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "models").symlink_to(models_dir, target_is_directory=True)
    if settings:
        lines = [f"{k} = {v!r}" if not isinstance(v, bool) else f"{k} = {str(v).lower()}" for k, v in settings.items()]
        (path / "settings.toml").write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def home(tmp_path, shared_models_dir, monkeypatch) -> Path:
    """A fresh, empty ASSISTANT_HOME for this test."""
    path = make_home(tmp_path / "home", shared_models_dir)
    monkeypatch.setenv("ASSISTANT_HOME", str(path))
    return path


@pytest.fixture(scope="session")
def embedder():
    from assistant.embedding import build_embedder
    from assistant.settings import load_settings

    return build_embedder(load_settings())


def components_for(home_path: Path, embedder=None, **overrides):
    from assistant.components import Components
    from assistant.settings import load_settings

    components = Components(load_settings(home=home_path, **overrides))
    if embedder is not None:
        components.embedder = embedder  # one loaded model for the whole session
    return components


def ingest(components, paths, collection="default"):
    from ingest.service import IngestService

    return IngestService(components).ingest([Path(p) for p in paths], collection)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory, shared_models_dir, embedder):
    """Components over a home where seeds/ was ingested into 'default' (read-only for tests)."""
    path = make_home(tmp_path_factory.mktemp("seeded") / "home", shared_models_dir)
    components = components_for(path, embedder)
    report = ingest(components, [SEEDS])
    assert report.ok, report.failed
    return components


def chroma_rows(store, collection: str, ids=None, with_embeddings: bool = False) -> dict:
    """What Chroma itself holds for these ids, or for all (not what our code says it wrote)."""
    include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
    return store.chroma_collection(collection).get(ids=None if ids is None else list(ids), include=include)


def chroma_ids(store, collection: str) -> list[str]:
    return store.chroma_collection(collection).get(include=[])["ids"]


def run_cli(*args, home: Path, timeout=600, env_extra=None, netlog: Path | None = None, wrapper=()):
    """Run the real `assistant` command in a subprocess, guarded against network access."""
    env = dict(os.environ, ASSISTANT_HOME=str(home), PYTHONPATH=str(NETGUARD))
    if netlog is not None:
        env["ASSISTANT_TEST_NETLOG"] = str(netlog)
    env.update(env_extra or {})
    return subprocess.run([*wrapper, ASSISTANT, *args], env=env, capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def running_ui(home: Path, folder: Path):
    """The real `assistant ui` on a free loopback port, under the network guard: yields (url, port),
    and fails the test if the UI tried to reach beyond loopback."""
    import urllib.request

    port = free_port()
    netlog = folder / "netlog.txt"
    env = dict(os.environ, ASSISTANT_HOME=str(home), ASSISTANT_LLM_MODEL=TEST_MODEL, PYTHONPATH=str(NETGUARD),
               ASSISTANT_TEST_NETLOG=str(netlog))
    with (folder / "ui.log").open("w") as log:
        process = subprocess.Popen([ASSISTANT, "ui", "--port", str(port)], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise AssertionError("UI did not start: " + (folder / "ui.log").read_text())
                time.sleep(0.5)
        try:
            yield url, port
        finally:
            process.terminate()
            process.wait(timeout=30)
    attempts = netlog.read_text() if netlog.exists() else ""
    assert attempts == "", f"the UI tried to reach the network: {attempts}"


def unshare_available() -> str | None:
    """None when `unshare -rn` works here, else the reason it does not."""
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare -rn is not permitted here: {probe.stderr.strip()}"
    return None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
