"""Real servers on loopback for the tests of the setup past one machine: PostgreSQL (Debian's
package), a Chroma server (`chroma run`) and llama-cpp-python's OpenAI-compatible model server
serving the test GGUF. Each is started once per test session on a free 127.0.0.1 port with its
data in a temporary directory, and stopped after the session. A test that kills or restarts a
server (tests/servers/test_faults.py) starts one of its own instead (new_model_server,
new_chroma_server, postgres_cluster): the session's are shared. A server that does not start fails
the tests that need it, with its log: it is never a skip.

PostgreSQL refuses to run as root (initdb: "cannot be run as root"), and CI runs the suite as
root: there the server runs as the `postgres` user Debian's package creates (`nobody` where that
user is missing), in a directory of its own outside pytest's root-only temporary tree.
"""
from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ASSISTANT, NETGUARD, TEST_MODEL, free_port, make_home

START_TIMEOUT_S = 120
MODEL_ALIAS = "company-model"


def wait_for(ready: Callable[[], bool], process: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"{what} exited with status {process.returncode}: {log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer within {START_TIMEOUT_S} s: {log.read_text()[-3000:]}")
        time.sleep(0.3)


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).read()
        return True
    except OSError:
        return False


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------- PostgreSQL
def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        pytest.fail("PostgreSQL is not installed: `make test` installs it as root (apt-get install postgresql)")
    return Path(found[-1]).parent


def server_user() -> str | None:
    """The user the server runs as: None (this one) unless this is root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    pytest.fail("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as")


class PostgresServer:
    """One PostgreSQL cluster; every test gets a database of its own from `new_database`."""

    def __init__(self, root: Path, port: int, run_as: list[str], bin_dir: Path):
        self.root, self.port, self.run_as, self.bin_dir = root, port, run_as, bin_dir
        self.data, self.socket_dir, self.log = root / "data", root, root / "server.log"
        self._names = itertools.count(1)

    def pg(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([*self.run_as, str(self.bin_dir / tool), *args], capture_output=True, text=True,
                                timeout=START_TIMEOUT_S)
        if check and result.returncode != 0:
            log = self.log.read_text()[-3000:] if self.log.exists() else ""
            pytest.fail(f"PostgreSQL's {tool} failed: {result.stdout}{result.stderr}{log}")
        return result

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://assistant@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import sqlalchemy as sa

        name = f"test_{next(self._names)}"
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        engine.dispose()
        return self.url(name)

    def start(self) -> None:
        self.pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(START_TIMEOUT_S), "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.socket_dir} -c fsync=off -c full_page_writes=off",
                "start")

    def stop(self) -> None:
        self.pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def restart(self) -> None:
        """Stop (every connection is cut) and start again on the same port, with the same data."""
        self.pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.start()


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresServer]:
    """A new PostgreSQL cluster on 127.0.0.1 and a unix socket in its temporary directory, trust
    authentication for the user `assistant` (loopback only, a throwaway cluster); removed after."""
    bin_dir = postgres_bin()
    user = server_user()
    root = Path(tempfile.mkdtemp(prefix="assistant-postgres-"))
    run_as = []
    if user is not None:
        shutil.chown(root, user)
        run_as = ["runuser", "-u", user, "--"]
    server = PostgresServer(root, free_port(), run_as, bin_dir)
    try:
        server.pg("initdb", "-D", str(server.data), "--auth=trust", "--username=assistant", "--encoding=UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    """The session's PostgreSQL cluster, shared by the tests: never stopped by one of them."""
    with postgres_cluster() as server:
        yield server


@pytest.fixture
def postgres_url(postgres) -> str:
    """A new, empty database of the session's PostgreSQL for this test."""
    return postgres.new_database()


# ---------------------------------------------------------------- Chroma
class ChromaServer:
    def __init__(self, path: Path, port: int, log: Path):
        self.path, self.port, self.log, self.host = path, port, log, "127.0.0.1"
        self.process: subprocess.Popen | None = None

    @property
    def heartbeat(self) -> str:
        return f"http://{self.host}:{self.port}/api/v2/heartbeat"

    def start(self) -> None:
        chroma = Path(sys.executable).parent / "chroma"
        env = dict(os.environ, PYTHONPATH=str(NETGUARD), ANONYMIZED_TELEMETRY="False")
        with self.log.open("a") as log:
            self.process = subprocess.Popen([str(chroma), "run", "--path", str(self.path), "--host", self.host,
                                             "--port", str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: answers(self.heartbeat), self.process, "the Chroma server", self.log)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def kill(self) -> None:
        """SIGKILL: the server dies where it stands, as on a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)

    def settings(self) -> dict:
        return {"chroma_mode": "server", "chroma_host": self.host, "chroma_port": self.port}


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory) -> ChromaServer:
    folder = tmp_path_factory.mktemp("chroma-server")
    server = ChromaServer(folder / "data", free_port(), folder / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def new_chroma_server(tmp_path) -> Callable[[str], ChromaServer]:
    """Starts Chroma servers of this test's own (a test that stops one must not stop the session's);
    each is stopped after the test."""
    started: list[ChromaServer] = []

    def start(name: str = "chroma") -> ChromaServer:
        folder = tmp_path / name
        folder.mkdir()
        server = ChromaServer(folder / "data", free_port(), folder / "server.log")
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


# ---------------------------------------------------------------- the model server
class ModelServer:
    """llama-cpp-python's OpenAI-compatible server (its [server] extra) serving a GGUF as
    `company-model` on one port; it can be killed and started again on the same port."""

    def __init__(self, gguf: Path, port: int, log: Path):
        self.gguf, self.port, self.log = gguf, port, log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(NETGUARD), OMP_WAIT_POLICY="PASSIVE")
        with self.log.open("a") as log:  # a file, not a pipe: llama.cpp's load log would fill a pipe and block it
            self.process = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf), "--host", "127.0.0.1",
                 "--port", str(self.port), "--model_alias", MODEL_ALIAS, "--n_ctx", "4096", "--n_threads", "2",
                 "--flash_attn", "true"],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: answers(f"{self.url}/models"), self.process, "the model server", self.log)

    def kill(self) -> None:
        """SIGKILL: the server dies mid-answer, its connections cut."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


def the_test_gguf(folder: Path, models_dir: Path) -> Path:
    from assistant.models import llm_path
    from assistant.settings import load_settings

    return llm_path(load_settings(home=make_home(folder / "home", models_dir), llm_model=TEST_MODEL))


@pytest.fixture(scope="session")
def model_server(tmp_path_factory, shared_models_dir) -> str:
    """The session's model server serving the test GGUF; yields its /v1 base URL."""
    folder = tmp_path_factory.mktemp("model-server")
    server = ModelServer(the_test_gguf(folder, shared_models_dir), free_port(), folder / "server.log")
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def new_model_server(tmp_path, shared_models_dir) -> Callable[[], ModelServer]:
    """Starts model servers of this test's own (one a test kills must not be the session's);
    each is stopped after the test."""
    started: list[ModelServer] = []

    def start() -> ModelServer:
        folder = tmp_path / f"model-server-{len(started) + 1}"
        server = ModelServer(the_test_gguf(folder, shared_models_dir), free_port(), folder / "server.log")
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def model_server_settings(url: str) -> dict:
    return {"llm_backend": "openai", "llm_base_url": url, "llm_model": MODEL_ALIAS}


# ---------------------------------------------------------------- web workers
class WebWorker:
    """One `assistant ui` process (build_web_app under uvicorn) on a free loopback port, under the
    network guard. Several of them over one home are several web workers."""

    def __init__(self, home: Path, folder: Path, name: str, env_extra: dict | None = None):
        self.home, self.folder, self.name, self.env_extra = home, folder, name, env_extra or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"{name}.log"
        self.netlog = folder / f"{name}-netlog.txt"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ, ASSISTANT_HOME=str(self.home), PYTHONPATH=str(NETGUARD),
                   ASSISTANT_TEST_NETLOG=str(self.netlog), **self.env_extra)
        with self.log.open("w") as log:
            self.process = subprocess.Popen([ASSISTANT, "ui", "--port", str(self.port)], env=env, stdout=log,
                                            stderr=subprocess.STDOUT)
        wait_for(lambda: answers(f"{self.url}/healthz"), self.process, f"web worker {self.name}", self.log)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def assert_stayed_on_loopback(self) -> None:
        attempts = self.netlog.read_text() if self.netlog.exists() else ""
        assert attempts == "", f"web worker {self.name} tried to reach the network: {attempts}"


@contextlib.contextmanager
def running_worker(home: Path, folder: Path, name: str, env_extra: dict | None = None) -> Iterator[WebWorker]:
    worker = WebWorker(home, folder, name, env_extra)
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()
    worker.assert_stayed_on_loopback()


@contextlib.contextmanager
def web_worker(home: Path, folder: Path, name: str, env_extra: dict | None = None) -> Iterator[str]:
    """One `assistant ui` process over `home`; yields its URL."""
    with running_worker(home, folder, name, env_extra) as worker:
        yield worker.url
