"""Each finished ingest is kept in the manifest with its counts and the files that failed, with
their reasons (the admin page's "last ingest"); the last few of each collection are kept."""
from ingest.manifest import RUNS_KEPT, IngestRun, Manifest


def run(collection: str, number: int, failed=()) -> IngestRun:
    return IngestRun(collection=collection, finished_at=1_800_000_000.0 + number, seconds=0.5, roots=["/srv/docs"],
                     added=number, updated=0, unchanged=0, removed=0, chunks_embedded=number, interrupted=False,
                     failed=list(failed), skipped=[("/srv/docs/a.exe", "unsupported file type")], notes=[],
                     failed_count=len(failed), skipped_count=1)


def test_runs_are_kept_newest_first_with_their_failures_and_the_oldest_go(tmp_path):
    manifest = Manifest(tmp_path / "manifest.sqlite")
    for number in range(RUNS_KEPT + 3):
        manifest.record_run(run("handbook", number, failed=[("/srv/docs/bad.pdf", f"damaged PDF ({number})")]))
    manifest.record_run(run("finance", 0))
    manifest.close()

    reopened = Manifest(tmp_path / "manifest.sqlite")
    kept = reopened.runs("handbook")
    assert len(kept) == RUNS_KEPT
    assert [r.added for r in kept[:2]] == [RUNS_KEPT + 2, RUNS_KEPT + 1]
    assert kept[0].failed == [("/srv/docs/bad.pdf", f"damaged PDF ({RUNS_KEPT + 2})")]
    assert kept[0].skipped == [("/srv/docs/a.exe", "unsupported file type")] and kept[0].failed_count == 1
    assert [r.collection for r in reopened.runs("finance")] == ["finance"]


def test_a_real_ingest_records_its_run(tmp_path, home, embedder):
    from tests.conftest import components_for, ingest

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ok.md").write_text("# Parking\nStaff park on level two.\n")
    (folder / "empty.txt").write_text("")
    components = components_for(home, embedder)
    report = ingest(components, [folder], collection="docs")
    manifest = Manifest(components.settings.manifest_path)
    [last] = manifest.runs("docs")
    assert (last.added, last.roots, last.failed) == (1, [str(folder)], report.failed)
    assert last.failed == [(str(folder / "empty.txt"), "empty file (0 bytes)")]
