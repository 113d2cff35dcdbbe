"""What `make bench` runs: the ingest bench, the answer bench, retrieval and the manifest at scale
(100,000 chunks, 10,000 files), then the load bench (50 staff sessions at once, embedded and with a
model server, on the test model), each skipped with a message when its inputs are missing
(../shared absent, or the packaged language model not installed).

    .venv/bin/python bench/run.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
HANDBOOK = SHARED / "corpora" / "18f-handbook"
DEV = SHARED / "eval" / "dev"
# The load bench runs the test model: 150 answers a setup on 2 cores must fit in minutes.
LOAD_MODEL = os.environ.get("ASSISTANT_TEST_MODEL", "qwen2.5-coder-0.5b")


def run(title: str, script: str, *args: str) -> int:
    print(f"\n=== {title} ===", flush=True)
    started = time.perf_counter()
    code = subprocess.call([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT)
    print(f"=== {title}: {'done' if code == 0 else f'failed (exit {code})'} in {time.perf_counter() - started:.0f} s ===",
          flush=True)
    return code


def llm_missing(model: str | None = None) -> str | None:
    """Why the language model (the settings' one, or `model`) cannot be loaded, or None; checked
    without assembling it."""
    sys.path.insert(0, str(ROOT))
    import assistant  # noqa: F401  (offline guards first)
    from assistant.models import PACKAGED_LLMS, ModelError, packaged_sources
    from assistant.settings import load_settings

    model = model or load_settings().llm_model
    packaged = PACKAGED_LLMS.get(model)
    if packaged is None:
        path = Path(model).expanduser()
        return None if path.is_file() else f"model file {path} does not exist"
    try:
        packaged_sources(packaged)
    except ModelError as e:
        return str(e)
    return None


def main() -> int:
    failures = 0
    if HANDBOOK.is_dir():
        failures += run("ingest bench", "ingest_bench.py", "--corpus", str(HANDBOOK)) != 0
    else:
        print(f"\n=== ingest bench: skipped, no corpus at {HANDBOOK} (the shared folder is missing) ===")
    if not (DEV / "corpus").is_dir() or not (DEV / "questions.jsonl").is_file():
        print(f"\n=== answer bench: skipped, no dev set at {DEV} (the shared folder is missing) ===")
    elif (reason := llm_missing()) is not None:
        print(f"\n=== answer bench: skipped, {reason} ===")
    else:
        failures += run("answer bench", "answer_bench.py") != 0
    failures += run("scale bench", "scale_bench.py") != 0  # it says itself when the corpus is missing
    if (reason := llm_missing(LOAD_MODEL)) is not None:
        print(f"\n=== load bench: skipped, {reason} ===")
    else:
        failures += run("load bench", "load_bench.py", "--model", LOAD_MODEL) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
