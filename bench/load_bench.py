"""Load (issue 11, point 3): staff sessions at once against the real web app, on loopback only.

Two setups, each the real `assistant ui` process (uvicorn, our login, the API at /v1) over one
temporary home where seeds/ is ingested into `default`:

  embedded      the default: llama.cpp in the app's own process (llm_backend = "llama_cpp")
  model-server  llama-cpp-python's OpenAI-compatible server on loopback serving the same GGUF, and
                the app with llm_backend = "openai" pointed at it

In each, first one session alone (the baseline, measured in the same run: an empty line), then
S sessions at once (default 50). A session logs in (POST /login, form username/password: the
`assistant_session` cookie must come back) and asks Q questions (default 3) through
/v1/chat/completions, streamed, with its user's API token; the 2nd and 3rd are follow-ups of the
1st, sent with the messages before them, as a chat client does. A 429 "busy" is waited out (its
Retry-After) and the same question asked again: counted as a busy refusal, not an error.

Per setup it prints: requests sent, answers, busy refusals, errors (any other status, an error in
the stream, a stream that ended without an answer, a failed login), lost (questions asked that got
neither an answer, nor a busy, nor an error: cut after the grace below), queue wait (request sent
-> the `: ahead 0` comment that says its turn came) and time to first token (request sent -> the
first content; the API sends the text once it can no longer be withdrawn, so this is close to
the whole answer's time) p50/p95, question -> answer including busy waits p95, whether every
request was told its place before its turn (the `: ahead N` comments, ui/web/api.py), the wall
time, and the peak RSS (VmHWM) of the server process(es).

Bounded: answers are capped (llm_max_tokens, --max-tokens, in the home's settings: the API
ignores a request's max_tokens, the answer's settings are the server's; the request sends it
anyway); each setup's sessions get --time-cap seconds, after which no question is asked (nor asked
again after a busy: counted apart, "not asked"), and those in the line get GRACE_S more to be
answered; everything listens on 127.0.0.1.

    .venv/bin/python bench/load_bench.py [--sessions 50] [--questions 3] [--setups embedded,model-server]
                                         [--model qwen2.5-coder-0.5b] [--max-tokens 16] [--time-cap 90]

Targets (issue 11): 0 errors, 0 lost, a bounded line (beyond max_waiting_questions: busy with
"try again in S s", never a hang), every waiting request told its place.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import assistant  # noqa: E402,F401  (offline guards first)

SEEDS = ROOT / "seeds"
ASSISTANT = str(Path(sys.executable).parent / "assistant")
# Assembled GGUFs outlive the run (assembling copies ~0.5 GB); the home itself is thrown away.
MODELS_CACHE = Path.home() / ".cache" / "private-assistant" / "bench-models"
PASSWORD = "juniper atlas kettle 27"
COLLECTION = "default"
MODEL_ALIAS = "company-model"
START_TIMEOUT_S = 180
# After the time cap, for the questions already in the line: a full line (32 waiting) took ~145 s
# to drain embedded and ~180 s with the model server (the 0.5B on 2 cores). A question still
# unanswered after that is lost: it would have hung.
GRACE_S = 300
# Each session asks one of these conversations: a question, then follow-ups that point back to it.
CONVERSATIONS = [
    ("How many days of paid annual leave do full-time employees get?",
     "And for part-time staff working 3 days a week?",
     "Can unused days be carried over to next year?"),
    ("How much is the meal allowance when I travel on business?",
     "And what hotel price is acceptable in Paris?",
     "How do I submit the claim?"),
    ("What is the extension of the IT helpdesk?",
     "Who should I contact about a lost laptop?",
     "And what should I do first?"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).read()
        return True
    except OSError:
        return False


def percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"{statistics.median(ordered):.2f} / {p95:.2f}"


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), read while it still runs."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """A process on loopback, its log in a file (llama.cpp's load log would fill a pipe)."""

    def __init__(self, name: str, command: list[str], env: dict, log: Path, ready_url: str):
        self.name, self.log, self.ready_url = name, log, ready_url
        with log.open("w") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not answers(ready_url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"{name} did not start: {log.read_text()[-3000:]}")
            time.sleep(0.3)

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ------------------------------------------------------------------ the home
def prepare_home(home: Path, users: list[str], max_tokens: int) -> dict[str, str]:
    """seeds/ ingested into `default`, the users (each reads `default`) with an API token each."""
    from assistant.components import Components
    from assistant.settings import load_settings
    from ingest.service import IngestService

    MODELS_CACHE.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    (home / "models").symlink_to(MODELS_CACHE, target_is_directory=True)
    (home / "settings.toml").write_text(f"llm_max_tokens = {max_tokens}\nui_require_login = true\n")
    components = Components(load_settings(home=home))
    report = IngestService(components).ingest([SEEDS], COLLECTION)
    if not report.ok:
        raise SystemExit(f"ingesting seeds/ failed: {report.failed}")
    tokens = {}
    for name in users:
        components.accounts.add_user(name, PASSWORD, collections=[COLLECTION])
        tokens[name] = components.api_tokens.create(name, "load bench")[1]
    return tokens


def gguf_of(home: Path, model: str) -> Path:
    from assistant.models import llm_path
    from assistant.settings import load_settings

    return llm_path(load_settings(home=home, llm_model=model))


# ------------------------------------------------------------------ the cores, measured apart
def cores_probe(home: Path, model: str, rounds: int = 3) -> dict:
    """What the line saves in the embedded setup: the model's generation, and a question's
    embedding, each alone and with the other running beside it on the same two cores (what would
    happen if a waiting question embedded and searched before its turn)."""
    import threading

    from assistant.components import Components
    from assistant.llm import user
    from assistant.settings import load_settings

    components = Components(load_settings(home=home, llm_model=model))
    chat_model, embedder = components.chat_model, components.embedder
    question = "How many days of paid annual leave do full-time employees get?"

    def generate(i: int) -> float:
        started = time.perf_counter()
        chat_model.reply([user(f"Request {i}. List forty fruits, one per line.")], max_tokens=64)
        return time.perf_counter() - started

    def embed_times(stop: threading.Event, times: list[float]) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            embedder.embed([question])
            times.append((time.perf_counter() - started) * 1000)

    generate(0)
    embedder.embed([question])
    alone_gen = [generate(i) for i in range(1, rounds + 1)]
    alone_embed: list[float] = []
    for _ in range(50):
        started = time.perf_counter()
        embedder.embed([question])
        alone_embed.append((time.perf_counter() - started) * 1000)
    beside_embed: list[float] = []
    stop = threading.Event()
    thread = threading.Thread(target=embed_times, args=(stop, beside_embed), daemon=True)
    thread.start()
    beside_gen = [generate(i) for i in range(rounds + 1, 2 * rounds + 1)]
    stop.set()
    thread.join()
    figures = {"generation_alone_s": statistics.median(alone_gen), "generation_beside_s": statistics.median(beside_gen),
               "embed_alone_ms": statistics.median(alone_embed), "embed_beside_ms": statistics.median(beside_embed)}
    print(f"cores (embedded, {components.settings.llm_threads} llama.cpp threads, 1 torch thread a question): "
          f"64-token answer {figures['generation_alone_s']:.2f} s alone, {figures['generation_beside_s']:.2f} s with "
          f"question embeddings beside it; a question's embedding {figures['embed_alone_ms']:.1f} ms alone, "
          f"{figures['embed_beside_ms']:.1f} ms beside the model ({len(beside_embed)} embedded meanwhile)", flush=True)
    return figures


# ------------------------------------------------------------------ one session
@dataclass
class Asked:
    """One question of a session, however it ended."""
    answered: bool = False
    error: str | None = None
    attempts: int = 0  # requests sent for it
    busy: int = 0  # 429s before it was let in
    queue_wait_s: float | None = None
    first_token_s: float | None = None
    question_to_answer_s: float | None = None  # from the first attempt, busy waits included
    places: list[int] = field(default_factory=list)  # the `: ahead N` it was told, in order
    told_place_first: bool = False  # a place came before anything else of the answer


@dataclass
class Tally:
    sessions: list[list[Asked]] = field(default_factory=list)
    login_errors: list[str] = field(default_factory=list)
    questions_planned: int = 0
    not_asked_after_error: int = 0  # a session stops at its first error (a failed login included)
    not_asked_at_cap: int = 0  # questions not asked (or not asked again after a busy) once the time cap passed
    deadline: float = float("inf")  # perf_counter time after which no question is asked
    busy_at_cap: int = 0  # the busy refusals of questions then given up
    requests_at_cap: int = 0

    @property
    def asked(self) -> list[Asked]:
        return [a for s in self.sessions for a in s]


async def ask(client, token: str, messages: list[dict], max_tokens: int, asked: Asked,
              deadline: float) -> str | None:
    """One question, retried after each busy until `deadline`; the answer's text, or None
    (asked.error says why; neither, when the deadline came first)."""
    started = time.perf_counter()
    body = {"model": COLLECTION, "messages": messages, "stream": True, "max_tokens": max_tokens}
    headers = {"authorization": f"Bearer {token}"}
    while True:
        sent = time.perf_counter()
        asked.attempts += 1
        async with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
            if response.status_code == 429:
                asked.busy += 1
                await response.aread()
                retry_after = float(response.headers["retry-after"])
            elif response.status_code != 200:
                asked.error = f"HTTP {response.status_code}: {(await response.aread())[:200]!r}"
                return None
            else:
                text = await read_answer(response, asked, sent)
                break
        if time.perf_counter() + retry_after > deadline:  # it would be asked again after the cap: it is not
            return None
        await asyncio.sleep(retry_after)
    if asked.error is None and not text:
        asked.error = "the stream ended without an answer"
    if asked.error is not None:
        return None
    asked.answered = True
    asked.question_to_answer_s = time.perf_counter() - started
    return text


async def read_answer(response, asked: Asked, sent: float) -> str:
    """The streamed answer's text, noting the places in line it was told and when things came."""
    text, seen_data = "", False
    async for line in response.aiter_lines():
        if line.startswith(": ahead "):
            place = int(line.removeprefix(": ahead "))
            asked.told_place_first = asked.told_place_first or not (asked.places or seen_data)
            asked.places.append(place)
            if place == 0:
                asked.queue_wait_s = time.perf_counter() - sent
        elif line.startswith("data: "):
            seen_data = True
            payload = line.removeprefix("data: ")
            if payload == "[DONE]":
                break
            chunk = json.loads(payload)
            if "error" in chunk:
                asked.error = f"error in the stream: {chunk['error'].get('message')}"
                break
            for choice in chunk.get("choices", []):
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece and asked.first_token_s is None:
                    asked.first_token_s = time.perf_counter() - sent
                text += piece
    return text


async def session(client, user: str, token: str, conversation: tuple[str, ...], max_tokens: int, tally: Tally) -> None:
    asked_all: list[Asked] = []
    tally.sessions.append(asked_all)
    response = await client.post("/login", data={"username": user, "password": PASSWORD})
    logged_in = response.status_code == 303 and "assistant_session" in response.cookies
    page = await client.get("/") if logged_in else response  # the chat page, with the session cookie
    if not logged_in or page.status_code != 200:
        tally.login_errors.append(f"{user}: login answered HTTP {response.status_code}, the chat page "
                                  f"HTTP {page.status_code}")
        tally.not_asked_after_error += len(conversation)
        return
    messages: list[dict] = []
    for number, question in enumerate(conversation):
        if time.perf_counter() > tally.deadline:
            tally.not_asked_at_cap += len(conversation) - number
            return
        asked = Asked()
        asked_all.append(asked)
        messages.append({"role": "user", "content": question})
        try:
            answer = await ask(client, token, messages, max_tokens, asked, tally.deadline)
        except Exception as e:  # httpx's transport errors, a broken stream: the server's failure, counted
            asked.error = f"{type(e).__name__}: {e}"
            answer = None
        if answer is None and asked.error is None:  # busy until the time cap: not asked again
            asked_all.remove(asked)
            tally.not_asked_at_cap += len(conversation) - number
            tally.busy_at_cap += asked.busy
            tally.requests_at_cap += asked.attempts
            return
        if answer is None:
            tally.not_asked_after_error += len(conversation) - number - 1
            return
        messages.append({"role": "assistant", "content": answer})


async def run_sessions(url: str, users: list[str], tokens: dict[str, str], questions: int, max_tokens: int,
                       time_cap_s: float) -> tuple[Tally, float]:
    import httpx

    started = time.perf_counter()
    tally = Tally(questions_planned=len(users) * questions, deadline=started + time_cap_s)
    # One client per session: each holds its own cookie and connection, as one browser does.
    clients = [httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(time_cap_s + 60)) for _ in users]
    try:
        tasks = [asyncio.create_task(session(client, user, tokens[user], CONVERSATIONS[i % len(CONVERSATIONS)][:questions],
                                             max_tokens, tally))
                 for i, (client, user) in enumerate(zip(clients, users))]
        # After the cap no question is asked; those in the line are answered, within a grace.
        _, pending = await asyncio.wait(tasks, timeout=time_cap_s + GRACE_S)
        for task in pending:  # still not answered then: lost
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    finally:
        for client in clients:
            await client.aclose()
    return tally, time.perf_counter() - started


# ------------------------------------------------------------------ figures
def report(name: str, tally: Tally, wall_s: float, rss: dict[str, float]) -> dict:
    asked = tally.asked
    answered = [a for a in asked if a.answered]
    errors = [a.error for a in asked if a.error] + tally.login_errors
    # Neither an answer nor an error: cut by the time cap while waiting or being answered, or never asked.
    lost = (tally.questions_planned - len(answered) - len([a for a in asked if a.error])
            - tally.not_asked_after_error - tally.not_asked_at_cap)
    waited = [a for a in answered if a.places and a.places[0] > 0]
    told = [a for a in answered if a.told_place_first]
    only_down = all(all(x > y for x, y in zip(a.places, a.places[1:])) for a in answered)
    busy = sum(a.busy for a in asked) + tally.busy_at_cap
    # Login and page, then every question sent.
    requests = 2 * len(tally.sessions) + sum(a.attempts for a in asked) + tally.requests_at_cap
    figures = {
        "setup": name, "sessions": len(tally.sessions), "requests": requests, "questions": tally.questions_planned,
        "answers": len(answered), "busy": busy, "errors": len(errors), "lost": lost,
        "not_asked_at_cap": tally.not_asked_at_cap,
        "queue_wait_s": percentiles([a.queue_wait_s for a in answered if a.queue_wait_s is not None]),
        "first_token_s": percentiles([a.first_token_s for a in answered if a.first_token_s is not None]),
        "question_to_answer_p95_s": percentiles([a.question_to_answer_s for a in answered]).split(" / ")[-1],
        "told_place": f"{len(told)} of {len(answered)} ({len(waited)} waited, highest place "
                      f"{max((a.places[0] for a in answered if a.places), default=0)}, places only went down: "
                      f"{'yes' if only_down else 'NO'})",
        "wall_s": round(wall_s, 1), "peak_rss_mb": {k: round(v) for k, v in rss.items()},
    }
    print(f"  {name}: {figures['sessions']} sessions, {requests} requests (logins and pages included), "
          f"{len(answered)}/{tally.questions_planned} answered, {busy} busy refusals, {len(errors)} errors, "
          f"{lost} lost", flush=True)
    print(f"    queue wait p50/p95 {figures['queue_wait_s']} s | time to first token p50/p95 {figures['first_token_s']} s"
          f" | question -> answer p95 (busy waits included) {figures['question_to_answer_p95_s']} s", flush=True)
    print(f"    told their place before their turn: {figures['told_place']}", flush=True)
    if tally.not_asked_at_cap:
        print(f"    {tally.not_asked_at_cap} questions not asked: the time cap came first", flush=True)
    if tally.not_asked_after_error:
        print(f"    {tally.not_asked_after_error} questions not asked: their session stopped at an error", flush=True)
    print(f"    wall {wall_s:.0f} s | peak RSS " + ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items()), flush=True)
    for error in errors[:5]:
        print(f"    error: {error}", flush=True)
    return figures


def run_setup(name: str, args, home: Path, tokens: dict[str, str], gguf: Path, logs: Path) -> list[dict]:
    env = dict(os.environ, ASSISTANT_HOME=str(home), ASSISTANT_LLM_MODEL=args.model, OMP_WAIT_POLICY="PASSIVE")
    servers: list[Server] = []
    try:
        if name == "model-server":
            port = free_port()
            servers.append(Server("model server", [
                sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                "--port", str(port), "--model_alias", MODEL_ALIAS, "--n_ctx", "4096", "--n_threads", "2",
                "--flash_attn", "true"], env, logs / "model-server.log", f"http://127.0.0.1:{port}/v1/models"))
            env.update(ASSISTANT_LLM_BACKEND="openai", ASSISTANT_LLM_BASE_URL=f"http://127.0.0.1:{port}/v1",
                       ASSISTANT_LLM_MODEL=MODEL_ALIAS)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        app = Server("the web app", [ASSISTANT, "ui", "--port", str(port)], env, logs / f"{name}-app.log",
                     f"{url}/healthz")
        servers.insert(0, app)
        print(f"\n{name}: started in {time.perf_counter() - started:.0f} s; load {os.getloadavg()[0]:.2f}", flush=True)
        users = sorted(tokens)
        # The baseline: one session alone (its first question also waits out the model's loading,
        # so it is asked twice: the second is the figure).
        warm, _ = asyncio.run(run_sessions(url, users[:1], tokens, 1, args.max_tokens, args.time_cap))
        alone, alone_wall = asyncio.run(run_sessions(url, users[1:2], tokens, args.questions, args.max_tokens,
                                                     args.time_cap))
        rows = [report(f"{name}, 1 session alone (baseline)", alone, alone_wall, {})]
        many, wall = asyncio.run(run_sessions(url, users[:args.sessions], tokens, args.questions, args.max_tokens,
                                              args.time_cap))
        rss = {"app": app.peak_rss_mb()} | ({"model server": servers[1].peak_rss_mb()} if len(servers) > 1 else {})
        rows.append(report(f"{name}, {args.sessions} sessions at once", many, wall, rss))
        return rows
    finally:
        for server in servers:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--questions", type=int, default=3, choices=[1, 2, 3])
    parser.add_argument("--setups", default="embedded,model-server")
    parser.add_argument("--model", default=os.environ.get("ASSISTANT_TEST_MODEL", "qwen2.5-coder-0.5b"),
                        help="the packaged model both setups run (default: the test model, for time)")
    parser.add_argument("--max-tokens", type=int, default=16, help="llm_max_tokens of the run's home (>= 16)")
    parser.add_argument("--time-cap", type=float, default=90,
                        help="seconds each setup's sessions may ask questions (then GRACE_S for those in the line)")
    parser.add_argument("--skip-cores", action="store_true", help="skip the probe of the model and the embedder "
                                                                   "on the same cores")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="load-bench-"))
    try:
        users = [f"staff{n:02d}" for n in range(1, args.sessions + 1)]
        started = time.perf_counter()
        tokens = prepare_home(work / "home", users, args.max_tokens)
        gguf = gguf_of(work / "home", args.model)
        print(f"home: seeds/ ingested, {len(users)} users with API tokens, in {time.perf_counter() - started:.0f} s; "
              f"model {args.model}, answers capped at {args.max_tokens} tokens, {args.questions} questions a session "
              f"(follow-ups after the first), time cap {args.time_cap:.0f} s a setup; {os.cpu_count()} CPUs", flush=True)
        rows = [] if args.skip_cores else [{"setup": "cores", **cores_probe(work / "home", args.model),
                                            "errors": 0, "lost": 0}]
        for name in args.setups.split(","):
            rows += run_setup(name.strip(), args, work / "home", tokens, gguf, work)
        if args.json:
            print(json.dumps(rows))
        failed = [r for r in rows if r["errors"] or r["lost"]]
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
