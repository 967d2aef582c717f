"""What an ordinary mistake or a bad archive cannot do: wipe the store, stop a run, or hide an error.

Guards against shrinking the store, bad entries in the archive, one run at a time, stopping a
run, and every foreign key indexed. Storage faults and readers of a new generation are in
test_storage_faults.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SEED_2016, SHARED_EVENTS
from test_cli import bot
from test_store import SAMPLE_EVENTS, add_generated_events, scalar, table_counts

from corpus.archive import MAX_EVENT_BYTES, scan_archive
from store.db import connect_sync
from store.ingest import IndexBusy, ShrinkRefused, index_archive, index_lock

ROOT = Path(__file__).resolve().parents[1]


def empty_archive(tmp_path: Path) -> Path:
    """An archive folder whose news/ holds nothing: a failed mount looks like this."""
    folder = tmp_path / "empty-archive"
    (folder / "news").mkdir(parents=True)
    return folder


# The guard against shrinking the store


def test_an_empty_news_folder_removes_nothing_unless_confirmed(tmp_path: Path, sample_db: Path) -> None:
    before = table_counts(sample_db)
    empty = empty_archive(tmp_path)

    refused = bot("index", "--archive", empty, "--db", sample_db)

    assert refused.returncode == 3, refused.stderr
    assert f"it would remove {SAMPLE_EVENTS} of the {SAMPLE_EVENTS} events in the store (100%)" in refused.stderr
    assert "--allow-shrink" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert table_counts(sample_db) == before

    confirmed = bot("index", "--archive", empty, "--db", sample_db, "--allow-shrink")

    assert confirmed.returncode == 0, confirmed.stderr
    assert f"{SAMPLE_EVENTS} removed" in confirmed.stdout
    assert table_counts(sample_db)["events"] == 0


def test_index_without_an_archive_uses_the_folder_the_store_was_built_from(
    tmp_path: Path, sample_archive: Path
) -> None:
    db = tmp_path / "store.sqlite3"
    assert bot("index", "--archive", sample_archive, "--db", db).returncode == 0
    added = add_generated_events(sample_archive, 3)

    result = bot("index", "--db", db)  # no --archive, no NEWSBOT_ARCHIVE

    assert result.returncode == 0, result.stderr
    assert f"Indexing {sample_archive.resolve()} (the folder this store was built from)" in result.stderr
    assert "3 added, 0 updated, 0 removed" in result.stdout
    assert scalar(db, "SELECT count(*) FROM events") == SAMPLE_EVENTS + len(added)


def test_a_new_store_without_an_archive_gets_the_sample_and_says_so(tmp_path: Path) -> None:
    result = bot("index", "--db", tmp_path / "new.sqlite3")

    assert result.returncode == 0, result.stderr
    assert "the bundled sample: no --archive or NEWSBOT_ARCHIVE given" in result.stderr


def test_another_folder_lacking_events_is_refused_and_a_moved_archive_is_followed(
    tmp_path: Path, sample_archive: Path, sample_db: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(sample_archive, other)
    (other / SEED_2016).unlink()  # one event of fifteen: a small share, but from another folder

    refused = bot("index", "--archive", other, "--db", sample_db)

    assert refused.returncode == 3
    assert f"the store was built from {sample_archive.resolve()}" in refused.stderr
    assert scalar(sample_db, "SELECT count(*) FROM events") == SAMPLE_EVENTS

    moved = tmp_path / "moved"
    shutil.copytree(sample_archive, moved)  # the same events at a new place: nothing to remove
    followed = bot("index", "--archive", moved, "--db", sample_db)

    assert followed.returncode == 0, followed.stderr
    assert f"the store now follows {moved.resolve()}" in followed.stdout
    assert bot("index", "--db", sample_db).stderr.startswith(f"Indexing {moved.resolve()} (the folder")


def test_removing_more_than_a_tenth_of_the_store_needs_confirming(tmp_path: Path, sample_archive: Path) -> None:
    db = tmp_path / "store.sqlite3"
    generated = add_generated_events(sample_archive, 185)  # 200 events in all
    index_archive(db, sample_archive)
    for path in generated[:15]:  # 7.5%: an ordinary clean-up
        (sample_archive / path).unlink()
    assert len(index_archive(db, sample_archive).removed) == 15

    for path in generated[15:41]:  # 26 of 185: 14%
        (sample_archive / path).unlink()
    with pytest.raises(ShrinkRefused) as refused:
        index_archive(db, sample_archive)
    assert (refused.value.removing, refused.value.events) == (26, 185)
    assert scalar(db, "SELECT count(*) FROM events") == 185

    assert len(index_archive(db, sample_archive, allow_shrink=True).removed) == 26


@pytest.mark.archive
def test_a_full_store_survives_a_run_at_the_sample_and_at_an_empty_folder(
    shared_index: tuple[Path, object], tmp_path: Path
) -> None:
    """The mistake of the issue, at archive scale: a copy of the full store, a run pointed elsewhere."""
    full, _ = shared_index
    db = tmp_path / "full.sqlite3"
    shutil.copyfile(full, db)

    at_sample = bot("index", "--archive", ROOT / "corpus" / "sample", "--db", db)
    at_empty = bot("index", "--archive", empty_archive(tmp_path), "--db", db)

    for result, files in ((at_sample, SAMPLE_EVENTS), (at_empty, 0)):
        assert result.returncode == 3, result.stderr
        assert f"of the {SHARED_EVENTS:,} events in the store" in result.stderr
        assert f"has {files} event file" in result.stderr
    assert scalar(db, "SELECT count(*) FROM events") == SHARED_EVENTS
    assert scalar(db, "SELECT count(*) FROM search_docs") == SHARED_EVENTS

    # Confirmed, the whole archive goes in one run (seconds: make bench-store measures it).
    wiped = bot("index", "--archive", empty_archive(tmp_path / "again"), "--db", db, "--allow-shrink")
    assert wiped.returncode == 0, wiped.stderr
    assert f"{SHARED_EVENTS} removed" in wiped.stdout
    assert table_counts(db) == dict.fromkeys(table_counts(db), 0)


def test_every_foreign_key_has_an_index(sample_db: Path) -> None:
    conn = sqlite3.connect(sample_db)
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        keys = [(table, row[3]) for table in tables for row in conn.execute(f"PRAGMA foreign_key_list({table})")]
        unindexed = []
        for table, column in keys:
            leading = [
                conn.execute(f"PRAGMA index_info({index[1]})").fetchone()[2]
                for index in conn.execute(f"PRAGMA index_list({table})")
            ]
            if column not in leading:
                unindexed.append(f"{table}.{column}")
    finally:
        conn.close()
    assert len(keys) >= 5
    assert unindexed == []


# Bad entries in the archive


def test_each_bad_entry_is_one_rejection_and_the_rest_is_indexed(tmp_path: Path, sample_archive: Path) -> None:
    day = sample_archive / "news" / "2016" / "04" / "3"
    outside = tmp_path / "outside.md"
    outside.write_bytes((day / Path(SEED_2016).name).read_bytes())
    (day / "loop.md").symlink_to(day / "loop.md")
    (day / "dangling.md").symlink_to(tmp_path / "nowhere.md")
    (day / "zero.md").symlink_to("/dev/zero")
    (day / "outside.md").symlink_to(outside)
    (day / "folder-link").symlink_to(sample_archive / "news" / "2015")
    os.mkfifo(day / "pipe.md")
    (day / os.fsdecode(b"caf\xe9.md")).write_bytes(b"# not read\n")
    (day / "huge.md").write_text("# " + "word " * (MAX_EVENT_BYTES // 5 + 10) + "\n", encoding="utf-8")
    new = add_generated_events(sample_archive, 2)
    db = tmp_path / "store.sqlite3"

    result = bot("index", "--archive", sample_archive, "--db", db)

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    rejected = {
        line.split(": ", 2)[1]: line.split(": ", 2)[2] for line in result.stdout.splitlines() if "rejected: " in line
    }
    prefix = "news/2016/04/3/"
    assert set(rejected) == {
        prefix + name for name in ("loop.md", "dangling.md", "zero.md", "outside.md", "folder-link", "pipe.md")
    } | {prefix + "caf\\xe9.md", prefix + "huge.md"}
    assert "symbolic link" in rejected[prefix + "zero.md"]
    assert "not a regular file" in rejected[prefix + "pipe.md"]
    assert "not valid UTF-8" in rejected[prefix + "caf\\xe9.md"]
    assert f"over the limit of {MAX_EVENT_BYTES:,}" in rejected[prefix + "huge.md"]
    assert f"{SAMPLE_EVENTS + len(new)} events in the store" in result.stdout
    assert scalar(db, "SELECT count(*) FROM index_problems WHERE rejected = 1") == 8


def test_an_unreadable_folder_is_reported_and_its_events_are_kept(
    tmp_path: Path, sample_archive: Path, sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = sample_archive / "news" / "2016" / "04"
    in_folder = scalar(sample_db, "SELECT count(*) FROM events WHERE path LIKE 'news/2016/04/%'")
    assert in_folder > 0
    real_scandir = os.scandir

    def scandir(path: str) -> object:  # what a folder without read permission does (root reads anyway)
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = index_archive(sample_db, sample_archive)

    assert [str(problem) for problem in report.rejected] == ["news/2016/04/: cannot read folder: Permission denied"]
    assert report.removed == []
    assert scalar(sample_db, "SELECT count(*) FROM events") == SAMPLE_EVENTS


def test_two_thousand_files_with_bad_ones_index_in_one_run(tmp_path: Path, sample_archive: Path) -> None:
    """The size at which parsing once moved to worker processes, which could not send a rejection back."""
    generated = add_generated_events(sample_archive, 2100)
    for path in generated[:3]:
        (sample_archive / path).write_bytes(b"\x00\x01 not an event")
    db = tmp_path / "store.sqlite3"

    result = bot("index", "--archive", sample_archive, "--db", db)

    assert result.returncode == 1, result.stderr
    assert f"{SAMPLE_EVENTS + 2097} added, 0 updated, 0 removed, 3 rejected" in result.stdout
    assert scalar(db, "SELECT count(*) FROM search_docs") == SAMPLE_EVENTS + 2097


def test_the_scan_never_follows_a_link_out_of_the_archive(tmp_path: Path, sample_archive: Path) -> None:
    (sample_archive / "news" / "passwd.md").symlink_to("/etc/passwd")
    scan = scan_archive(sample_archive)
    assert "news/passwd.md" not in {file.path for file in scan.files}
    assert [skipped.path for skipped in scan.skipped] == ["news/passwd.md"]


# One run at a time, and stopping a run


def test_a_second_run_says_who_holds_the_store(sample_db: Path, sample_archive: Path) -> None:
    with index_lock(sample_db, "moderator (42)"):
        result = bot("index", "--archive", sample_archive, "--db", sample_db)
        with pytest.raises(IndexBusy, match=r"by moderator \(42\), process \d+"):
            index_archive(sample_db, sample_archive)

    assert result.returncode == 4
    assert "another index run is in progress on this store" in result.stderr
    assert "by moderator (42)" in result.stderr
    assert "Traceback" not in result.stderr
    assert index_archive(sample_db, sample_archive).events == SAMPLE_EVENTS  # released


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stopped_run_says_so_and_changes_nothing(sample_archive: Path, sample_db: Path, stop: signal.Signals) -> None:
    archive = sample_archive
    add_generated_events(archive, 8000)
    before = table_counts(sample_db)
    env = {**os.environ, "PYTHONUTF8": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "index", "--archive", str(archive), "--db", str(sample_db)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = ""
        while "read " not in line:  # the progress line of the first batch read
            line = process.stderr.readline()
            assert line or process.poll() is None, "the run ended before it could be stopped"
        process.send_signal(stop)
        _, err = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    assert process.returncode == 128 + stop
    assert f"Stopped ({stop.name}): nothing was changed; the previous index is intact." in err
    assert "Traceback" not in err
    assert table_counts(sample_db) == before
    assert scalar(sample_db, "PRAGMA integrity_check") == "ok"


def test_a_refused_run_leaves_no_trace_in_the_store(tmp_path: Path, sample_db: Path) -> None:
    runs = scalar(sample_db, "SELECT count(*) FROM index_runs")
    with pytest.raises(ShrinkRefused):
        index_archive(sample_db, empty_archive(tmp_path))
    assert scalar(sample_db, "SELECT count(*) FROM index_runs") == runs
    conn = connect_sync(sample_db)
    try:
        assert not conn.in_transaction
    finally:
        conn.close()
