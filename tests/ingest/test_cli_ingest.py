"""`assistant ingest` (summary, --json, progress bar, --watch), `collections` and `sources`,
through the real command in a subprocess, checked against what is really stored."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import queue
import re
import signal
import sqlite3
import struct
import subprocess
import termios
import threading
import time

from ingest.manifest import Manifest
from tests.conftest import components_for
from tests.ingest.conftest import (ASSISTANT, age, assert_consistent, cli_env, manifest_rows, markdown_document,
                                   run_assistant, start_cli, write_corpus)


def test_help_says_what_a_re_run_does():
    result = subprocess.run([ASSISTANT, "ingest", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "a file that has disappeared from a folder you ingest again is REMOVED from the collection" in text
    assert "--keep-missing" in text and "--watch" in text and "--interval SECONDS" in text
    assert "kill -9" in text


def test_summary_json_and_exit_status_over_three_runs(home, tmp_path):
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus, 4, paragraphs=2, words=20, markdown=True)
    empty = corpus / "empty.txt"
    empty.write_text("")
    (corpus / "drawing.xyz").write_bytes(b"\x00\x01")

    first = run_assistant("ingest", str(corpus), "-c", "docs", "--json", home=home)
    assert first.returncode == 1, first.stderr  # one file failed
    report = json.loads(first.stdout)
    assert sorted(report["added"]) == sorted(map(str, files))
    assert [f["path"] for f in report["failed"]] == [str(empty)] and report["failed"][0]["reason"]
    assert [s["path"] for s in report["skipped"]] == [str(corpus / "drawing.xyz")]
    assert report["chunks_embedded"] == 4 * 3 and report["removed"] == [] and report["unchanged"] == 0
    assert f"failed: {empty}: {report['failed'][0]['reason']}" in first.stderr

    empty.unlink()
    files[0].write_text(markdown_document(0, sections=1))
    age([files[0]])  # written well before the run, so that its stat can be trusted next time
    files[1].unlink()
    second = run_assistant("ingest", str(corpus), "-c", "docs", home=home)
    assert second.returncode == 0, second.stderr
    assert re.fullmatch(r"docs: 0 added, 1 updated, 2 unchanged, 1 removed, 0 failed, 1 skipped; 2 chunks embedded, "
                        r"0 reused, 3 removed, in \d+\.\d s\n", second.stdout), second.stdout
    assert f"removed: {files[1]}" in second.stderr

    third = run_assistant("ingest", str(corpus), "-c", "docs", "--json", home=home)
    assert third.returncode == 0
    report = json.loads(third.stdout)
    assert (report["added"], report["updated"], report["removed"], report["unchanged"]) == ([], [], [], 3)
    assert report["chunks_embedded"] == 0 and report["files_hashed"] == 0

    components = components_for(home)
    chunks, rows = assert_consistent(components.store, components.settings.manifest_path, "docs")
    assert set(rows) == {str(files[0]), str(files[2]), str(files[3])} and len(chunks) == 2 + 3 + 3


def test_progress_bar_on_a_terminal(home, tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 12, paragraphs=2, words=20, markdown=True)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # 160 columns
    process = subprocess.Popen([ASSISTANT, "ingest", str(corpus), "-c", "docs"], env=cli_env(home),
                               stdout=subprocess.PIPE, stderr=terminal, text=True)
    os.close(terminal)
    shown = b""
    while True:
        try:
            data = os.read(controller, 4096)
        except OSError:  # the other end closed
            break
        if not data:
            break
        shown += data
    out, _ = process.communicate(timeout=300)
    os.close(controller)
    assert process.returncode == 0
    screen = shown.decode(errors="replace")
    bars = [line for line in re.split(r"[\r\n]", screen) if line.startswith("ingesting")]
    assert bars, screen
    last = bars[-1]
    assert re.search(r"12/12 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+ ?(file/s|s/file)", last), last  # files, ETA, rate
    assert re.search(r"36 chunks, [\d.]+ chunks/s", last), last
    assert "docs: 12 added" in out  # the summary stays on stdout


def write_atomically(path, text: str) -> None:
    """As editors and sync tools do: a hidden temporary file (ignored by ingest), then a rename."""
    temporary = path.parent / f".{path.name}.tmp"
    temporary.write_text(text)
    os.replace(temporary, path)


def read_lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)


def next_report(lines: queue.Queue, timeout: float = 120) -> dict:
    return json.loads(lines.get(timeout=timeout))


def test_watch_keeps_a_collection_in_sync_until_ctrl_c(home, tmp_path):
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus, 3, paragraphs=2, words=20, markdown=True)
    process = start_cli("ingest", str(corpus), "-c", "live", "--watch", "--interval", "0.3", "--json", home=home)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        first = next_report(lines)
        assert sorted(first["added"]) == sorted(map(str, files))

        new = corpus / "team2" / "new.md"
        write_atomically(new, markdown_document(50))
        write_atomically(files[0], markdown_document(0, sections=1))
        files[1].unlink()
        seen = {"added": set(), "updated": set(), "removed": set()}
        deadline = time.monotonic() + 120
        while not (str(new) in seen["added"] and str(files[0]) in seen["updated"] | seen["added"]
                   and str(files[1]) in seen["removed"]):
            report = next_report(lines, timeout=max(1, deadline - time.monotonic()))
            for key in seen:
                seen[key] |= set(report[key])
        time.sleep(1.5)  # a few quiet rounds: nothing changed, nothing printed
        assert lines.empty(), lines.get()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "stopped watching" in err

    rows = manifest_rows(home / "manifest.sqlite", "live")
    assert set(rows) == {str(files[0]), str(files[2]), str(new)}
    assert rows[str(files[0])]["content_hash"] == hashlib.sha256(files[0].read_bytes()).hexdigest()
    components = components_for(home)
    chunks, _ = assert_consistent(components.store, components.settings.manifest_path, "live")
    assert any("marker00050" in text for text, _ in chunks.values())


def test_collections_and_sources_show_and_edit_what_is_stored(home, tmp_path):
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus, 6, paragraphs=1, words=20, markdown=True)  # 2 chunks a file
    assert run_assistant("ingest", str(corpus), "-c", "alpha", home=home).returncode == 0
    assert run_assistant("ingest", str(corpus / "team1"), "-c", "beta", home=home).returncode == 0

    listed = json.loads(run_assistant("collections", "list", "--json", home=home).stdout)
    assert listed == {"collections": [{"name": "alpha", "chunks": 12, "files": 6, "embedding_model": "all-minilm-l6-v2"},
                                      {"name": "beta", "chunks": 4, "files": 2, "embedding_model": "all-minilm-l6-v2"}]}
    text = run_assistant("collections", "list", home=home).stdout
    assert "alpha\t6 files\t12 chunks\tall-minilm-l6-v2" in text and "beta\t2 files\t4 chunks" in text

    sources = json.loads(run_assistant("sources", "list", "-c", "alpha", "--json", home=home).stdout)
    assert [s["path"] for s in sources["sources"]] == sorted(map(str, files))
    assert all(s["chunks"] == 2 and s["state"] == "done" for s in sources["sources"])
    assert f"{files[3]}\t2 chunks" in run_assistant("sources", "list", "-c", "alpha", home=home).stdout

    removed = run_assistant("sources", "remove", str(files[0]), str(corpus / "team1"), "-c", "alpha", home=home)
    assert removed.returncode == 0, removed.stderr
    gone = sorted([str(files[0]), str(files[1]), str(files[5])])  # team1 holds doc 1 and doc 5
    assert removed.stdout.splitlines() == [f"removed: {p}" for p in [str(files[0])] + gone[1:]] + \
        ["removed 3 file(s) from alpha"]
    missing = run_assistant("sources", "remove", str(files[0]), "-c", "alpha", home=home)
    assert missing.returncode == 2 and "not in collection alpha" in missing.stderr

    deleted = run_assistant("collections", "delete", "beta", home=home)
    assert deleted.returncode == 0 and "deleted collection beta" in deleted.stdout
    again = run_assistant("collections", "delete", "beta", home=home)
    assert again.returncode == 2 and "no collection named 'beta'" in again.stderr
    listed = json.loads(run_assistant("collections", "list", "--json", home=home).stdout)
    assert listed == {"collections": [{"name": "alpha", "chunks": 6, "files": 3, "embedding_model": "all-minilm-l6-v2"}]}

    components = components_for(home)
    chunks, rows = assert_consistent(components.store, components.settings.manifest_path, "alpha")
    assert set(rows) == set(map(str, files)) - set(gone)
    assert {meta["source"] for _, meta in chunks.values()} == set(rows)
    assert manifest_rows(components.settings.manifest_path, "beta") == {}


def test_a_second_writer_is_refused_with_a_reason(home, tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 1)
    holder = Manifest(home / "manifest.sqlite")
    try:
        with holder.lock("docs"):
            result = run_assistant("ingest", str(corpus), "-c", "docs", home=home)
    finally:
        holder.close()
    assert result.returncode == 2
    assert f"collection 'docs' is being written by another process (pid {os.getpid()})" in result.stderr


def test_ctrl_c_stops_cleanly_and_the_next_run_finishes(home, tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 40, paragraphs=3, words=25, markdown=True)  # 160 chunks: two batches
    process = start_cli("ingest", str(corpus), "-c", "docs", home=home)
    manifest = home / "manifest.sqlite"

    def first_batch_being_written() -> bool:
        if not manifest.exists():
            return False
        try:
            return any(row["state"] == "pending" for row in manifest_rows(manifest, "docs").values())
        except sqlite3.OperationalError:  # not created yet
            return False

    deadline = time.monotonic() + 300
    while process.poll() is None and not first_batch_being_written() and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGINT)  # the batch being written is finished, the rest waits
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, (out, err)
    assert "stopping once the files in hand are written" in err
    assert out.startswith("docs: 32 added") and "(interrupted: run it again to finish)" in out
    components = components_for(home)
    _, rows = assert_consistent(components.store, components.settings.manifest_path, "docs")
    assert len(rows) == 32

    result = run_assistant("ingest", str(corpus), "-c", "docs", "--json", home=home)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and len(report["added"]) == 8 and report["unchanged"] == 32
