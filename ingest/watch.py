"""Keep a collection in sync with folders: run the incremental ingest again every few seconds.

Polling, on purpose: an unchanged tree costs one stat per file (see pipeline.py), it works the
same on local disks and network shares (where change notifications are often missing), and it
needs no extra dependency. A change is picked up within one interval plus the time to embed it.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable, Iterable

from ingest.manifest import CollectionBusy
from ingest.pipeline import IngestPipeline, IngestReport, Progress

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 10.0


def watch(pipeline: IngestPipeline, paths: Iterable[Path], collection: str, *, interval: float = DEFAULT_INTERVAL,
          stop: threading.Event, on_report: Callable[[IngestReport, int], None],
          remove_missing: bool = True, progress: Callable[[], Progress] | None = None,
          on_busy: Callable[[str], None] | None = None, max_rounds: int | None = None) -> int:
    """Ingest `paths` into `collection` now and again every `interval` seconds until `stop` is set
    (or after max_rounds). `on_report(report, round)` gets every round's report. A round that
    finds the collection locked by another process is skipped (on_busy is told why). Returns the
    number of rounds run."""
    paths = list(paths)
    rounds = 0
    while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
        try:
            report = pipeline.run(paths, collection, progress=progress() if progress else None,
                                  remove_missing=remove_missing, should_stop=stop.is_set)
        except CollectionBusy as e:
            if on_busy:
                on_busy(str(e))
        else:
            rounds += 1
            on_report(report, rounds)
        if max_rounds is not None and rounds >= max_rounds:
            break
        stop.wait(interval)
    return rounds
