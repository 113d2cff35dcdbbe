"""A link to a file is followed only while it stays inside the folder being ingested.

Whoever can write into a shared folder can also leave a link there; the ingest runs under an
account that may read far more (another team's folder, /etc). Each test builds real files and
links, runs the real pipeline (one runs the real command), and reads what Chroma really holds.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ingest.pipeline import LINK_OUT_OF_FOLDER
from tests.conftest import chroma_rows, components_for, ingest
from tests.ingest.conftest import age, manifest_rows, run_assistant

OUR_TEXT = "Our team's travel policy caps hotels at 140 euros per night."
SECRET = "The merger with Globex closes on 3 March; the price is 41 euros a share."


def stored_text(components, collection: str = "default") -> dict[str, str]:
    """source -> all its stored text, as Chroma holds it."""
    rows = chroma_rows(components.store, collection)
    texts: dict[str, str] = {}
    for text, meta in zip(rows["documents"], rows["metadatas"]):
        texts[meta["source"]] = texts.get(meta["source"], "") + text
    return texts


def all_text(components, collection: str = "default") -> str:
    return "\n".join(chroma_rows(components.store, collection)["documents"])


@pytest.fixture
def shares(tmp_path) -> tuple[Path, Path]:
    """Two teams' folders side by side: ours is ingested, theirs holds a secret."""
    ours, theirs = tmp_path / "shares" / "ours", tmp_path / "shares" / "theirs"
    ours.mkdir(parents=True)
    theirs.mkdir(parents=True)
    (ours / "policy.txt").write_text(OUR_TEXT + "\n")
    (theirs / "board-minutes.txt").write_text(SECRET + "\n")
    age([ours / "policy.txt", theirs / "board-minutes.txt"])
    return ours, theirs


def test_a_link_to_a_file_of_a_sibling_folder_is_skipped_and_its_text_is_not_stored(home, embedder, shares):
    ours, theirs = shares
    (ours / "minutes.txt").symlink_to(theirs / "board-minutes.txt")
    components = components_for(home, embedder)
    report = ingest(components, [ours])

    assert report.ok, report.failed
    assert report.added == [str(ours / "policy.txt")]
    assert report.skipped == [(str(ours / "minutes.txt"), LINK_OUT_OF_FOLDER)]
    assert "Globex" not in all_text(components)
    assert set(stored_text(components)) == {str(ours / "policy.txt")}


def test_a_link_to_a_system_file_is_skipped(home, embedder, shares):
    ours, _ = shares
    system_file = next((Path(p) for p in ("/etc/hostname", "/etc/passwd") if Path(p).is_file()), None)
    if system_file is None:
        pytest.skip("no /etc/hostname or /etc/passwd here")
    (ours / "hostname.txt").symlink_to(system_file)
    components = components_for(home, embedder)
    report = ingest(components, [ours])

    assert (str(ours / "hostname.txt"), LINK_OUT_OF_FOLDER) in report.skipped
    assert set(stored_text(components)) == {str(ours / "policy.txt")}


def test_a_chain_of_links_that_ends_outside_is_skipped(home, embedder, shares):
    """The first hop stays inside; only the fully resolved target counts."""
    ours, theirs = shares
    (ours / "archive").mkdir()
    (ours / "archive" / "hop.txt").symlink_to(theirs / "board-minutes.txt")
    (ours / "minutes.txt").symlink_to(Path("archive") / "hop.txt")
    components = components_for(home, embedder)
    report = ingest(components, [ours])

    assert sorted(report.skipped) == sorted([(str(ours / "archive" / "hop.txt"), LINK_OUT_OF_FOLDER),
                                             (str(ours / "minutes.txt"), LINK_OUT_OF_FOLDER)])
    assert "Globex" not in all_text(components)


def test_a_link_that_stays_inside_the_folder_is_ingested_under_its_own_name_without_embedding_twice(
        home, embedder, shares):
    ours, _ = shares
    (ours / "current").mkdir()
    (ours / "current" / "travel.txt").symlink_to(Path("..") / "policy.txt")
    components = components_for(home, embedder)
    report = ingest(components, [ours])

    assert report.ok and not report.skipped, (report.failed, report.skipped)
    assert sorted(report.added) == sorted([str(ours / "policy.txt"), str(ours / "current" / "travel.txt")])
    texts = stored_text(components)
    assert OUR_TEXT in texts[str(ours / "current" / "travel.txt")]
    assert OUR_TEXT in texts[str(ours / "policy.txt")]
    assert report.chunks_embedded == 1 and report.chunks_reused == 1  # the copy reuses the vectors


def test_a_link_into_a_hidden_folder_is_skipped_like_the_hidden_folder(home, embedder, shares):
    ours, _ = shares
    (ours / ".private").mkdir()
    (ours / ".private" / "keys.txt").write_text(SECRET + "\n")
    (ours / "keys.txt").symlink_to(ours / ".private" / "keys.txt")
    components = components_for(home, embedder)
    report = ingest(components, [ours])

    assert [path for path, _ in report.skipped] == [str(ours / "keys.txt")]
    assert "hidden" in report.skipped[0][1]
    assert "Globex" not in all_text(components)


def test_a_dangling_link_is_reported_as_broken_as_before(home, embedder, shares):
    ours, theirs = shares
    (ours / "gone.txt").symlink_to(theirs / "deleted-long-ago.txt")
    components = components_for(home, embedder)
    report = ingest(components, [ours])

    assert report.failed == [(str(ours / "gone.txt"), "broken link or link loop")]
    assert not report.skipped


def test_a_file_replaced_by_a_link_to_outside_loses_its_passages_on_the_next_run(home, embedder, shares):
    ours, theirs = shares
    notes = ours / "notes.txt"
    notes.write_text("Notes of the team meeting: the printer on floor 2 is fixed.\n")
    age([notes])
    components = components_for(home, embedder)
    first = ingest(components, [ours])
    assert str(notes) in first.added

    notes.unlink()
    notes.symlink_to(theirs / "board-minutes.txt")
    second = ingest(components, [ours])

    assert (str(notes), LINK_OUT_OF_FOLDER) in second.skipped
    assert second.removed == [str(notes)]  # treated as gone, like a file that disappeared
    assert set(stored_text(components)) == {str(ours / "policy.txt")}
    assert "printer" not in all_text(components) and "Globex" not in all_text(components)
    assert set(manifest_rows(components.settings.manifest_path, "default")) == {str(ours / "policy.txt")}


def test_a_link_named_on_the_command_line_that_leads_elsewhere_is_refused_and_its_target_named(home, shares):
    """Through the real command: the admin is told to name the target itself, and naming it works."""
    ours, theirs = shares
    link = ours / "minutes.txt"
    link.symlink_to(theirs / "board-minutes.txt")

    refused = run_assistant("ingest", str(link), "--json", home=home)
    assert refused.returncode == 0, refused.stderr
    report = json.loads(refused.stdout)
    assert report["added"] == []
    [skipped] = report["skipped"]
    assert skipped["path"] == str(link)
    assert skipped["reason"].startswith(LINK_OUT_OF_FOLDER)
    assert "name it itself" in skipped["reason"] and os.path.realpath(theirs / "board-minutes.txt") in skipped["reason"]
    assert f"skipped: {link}: {skipped['reason']}" in refused.stderr

    folder = run_assistant("ingest", str(ours), "--json", home=home)
    assert folder.returncode == 0, folder.stderr
    report = json.loads(folder.stdout)
    assert report["added"] == [str(ours / "policy.txt")]
    assert {"path": str(link), "reason": LINK_OUT_OF_FOLDER} in report["skipped"]

    target = run_assistant("ingest", str(theirs / "board-minutes.txt"), "--json", home=home)
    assert target.returncode == 0, target.stderr
    assert json.loads(target.stdout)["added"] == [str(theirs / "board-minutes.txt")]
    components = components_for(home)
    assert set(stored_text(components)) == {str(ours / "policy.txt"), str(theirs / "board-minutes.txt")}


def test_a_link_named_on_the_command_line_that_stays_in_its_folder_is_ingested(home, embedder, shares):
    ours, _ = shares
    link = ours / "travel.txt"
    link.symlink_to("policy.txt")
    components = components_for(home, embedder)
    report = ingest(components, [link])

    assert report.ok and report.added == [str(link)] and not report.skipped
    assert OUR_TEXT in stored_text(components)[str(link)]
