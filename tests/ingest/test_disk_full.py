"""The disk filling up during an ingest (issue 11, point 4): one clear error, nothing corrupted,
and the next run, once there is space, ends exactly as one clean run.

The home lives on a small tmpfs the test mounts in a mount namespace of its own (`unshare`), so
it needs no privilege beyond user namespaces and touches nothing of the machine's; the commands
run inside that namespace, and the home is copied out after each step for the checks.
"""
from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from tests.conftest import ASSISTANT, NETGUARD, components_for
from tests.ingest.conftest import manifest_rows, stored, write_corpus
from tests.ingest.test_crash import assert_same

COLLECTION = "crash-test"  # test_crash's snapshot and comparison read this collection
SMALL = "3m"  # about half of what the corpus needs once ingested (5-6 MB)


def namespace_prefix() -> list[str]:
    """How to run a command in a mount namespace of its own, here: rootless first, then as root."""
    for prefix in (["unshare", "-rm"], ["unshare", "-m"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    raise AssertionError("cannot make a mount namespace (unshare -rm, unshare -m): this test needs user "
                         "namespaces or root, to mount the small filesystem it fills")


def test_a_disk_filling_up_during_an_ingest_is_one_clear_error_and_the_next_run_completes(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 75, paragraphs=4, words=150)
    mount, full_copy, done_copy = tmp_path / "small-disk", tmp_path / "after-full", tmp_path / "after-space"
    mount.mkdir()
    ingest = f"{shlex.quote(ASSISTANT)} ingest {shlex.quote(str(corpus))} --collection {COLLECTION}"
    script = f"""
        set -u
        mount -t tmpfs -o size={SMALL} tmpfs {mount} || exit 90
        {ingest} > {tmp_path}/out1 2> {tmp_path}/err1; echo $? > {tmp_path}/rc1
        cp -a {mount}/. {full_copy}/
        mount -o remount,size=200m {mount} || exit 91
        {ingest} > {tmp_path}/out2 2> {tmp_path}/err2; echo $? > {tmp_path}/rc2
        cp -a {mount}/. {done_copy}/
    """
    full_copy.mkdir()
    done_copy.mkdir()
    env = dict(os.environ, ASSISTANT_HOME=str(mount), PYTHONPATH=str(NETGUARD), ASSISTANT_LLM_THREADS="1")
    done = subprocess.run([*namespace_prefix(), "sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]

    # The run that filled the disk: a clear one-line error, not a traceback.
    error = (tmp_path / "err1").read_text()
    assert (tmp_path / "rc1").read_text().strip() != "0"
    assert "Traceback" not in error, error[-2000:]
    assert "assistant: error: the disk holding" in error and "is full" in error, error[-2000:]
    assert "run the same command again" in error

    # What it left is readable and consistent: each file it marked done has all its chunks stored.
    components = components_for(full_copy)
    chunks = stored(components.store, COLLECTION)
    rows = manifest_rows(full_copy / "manifest.sqlite", COLLECTION)
    done_rows = {path: row for path, row in rows.items() if row["state"] == "done"}
    assert len(done_rows) < 75, "the disk never filled: make SMALL smaller"
    for path, row in done_rows.items():
        assert set(row["chunk_ids"]) <= set(chunks), f"{path}: marked done, chunks missing"

    # With space again, the same command completes, and the store is what one clean run makes.
    assert (tmp_path / "rc2").read_text().strip() == "0", (tmp_path / "err2").read_text()[-2000:]
    assert " 0 failed" in (tmp_path / "out2").read_text(), (tmp_path / "out2").read_text()
    clean = tmp_path / "clean"
    result = subprocess.run([ASSISTANT, "ingest", str(corpus), "--collection", COLLECTION],
                            env=dict(env, ASSISTANT_HOME=str(clean)), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert assert_same(done_copy, clean) > 200
