"""The store under storage faults, and readers that switch to a new index generation.

Each fault is met as a person meets it: the CLI as a subprocess, one line that says what is
wrong and what to do, the right exit status, no traceback, and the last good store whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEED_2015, running
from fake_discord import FakeDiscord
from test_cli import bot
from test_reindex import NEW_EVENT, NEW_PATH
from test_store import SAMPLE_EVENTS, add_generated_events, scalar, table_counts

import store.db
from bot.doctor import write_heartbeat
from store.backup import backup_store, restore_store
from store.db import StoreError
from store.ingest import index_archive
from store.store import Store

ROOT = Path(__file__).resolve().parents[1]


def one_line_error(result: subprocess.CompletedProcess[str], exit_status: int = 1) -> str:
    assert result.returncode == exit_status, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    progress = ("Indexing ", "  read ")
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith(progress)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A real file system of `size` (tmpfs), mounted for the test; needs root, as CI has."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


# Files that are not the bot's store


def test_db_pointing_at_a_folder(tmp_path: Path, sample_archive: Path) -> None:
    line = one_line_error(bot("search", "syria", "--db", tmp_path))
    assert "is a folder: give the database a file name" in line
    line = one_line_error(bot("index", "--archive", sample_archive, "--db", tmp_path))
    assert "is a folder" in line


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.sqlite3"
    notes.write_text("my notes\n" * 100, encoding="utf-8")
    before = digest(notes)

    line = one_line_error(bot("search", "syria", "--db", notes))

    assert "is not an SQLite database" in line
    assert digest(notes) == before


def test_a_store_truncated_to_half(tmp_path: Path, sample_db: Path) -> None:
    db = tmp_path / "half.sqlite3"
    backup_store(sample_db, db)
    with db.open("r+b") as file:
        file.truncate(db.stat().st_size // 2)

    line = one_line_error(bot("search", "syria", "--db", db))

    assert "is damaged" in line and "python -m bot restore" in line


def test_another_programs_database_is_never_written(tmp_path: Path, sample_archive: Path) -> None:
    other = tmp_path / "browser-history.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE visits (url TEXT, at TEXT)")
    conn.execute("INSERT INTO visits VALUES ('https://example.org', '2026-01-01')")
    conn.commit()
    conn.close()
    before = digest(other)

    for args in (["index", "--archive", sample_archive], ["search", "syria"], ["console"]):
        line = one_line_error(bot(*args, "--db", other))
        assert "is another program's database (tables: visits)" in line

    assert digest(other) == before
    assert not Path(f"{other}-wal").exists()


# A full disk and a read-only one


def test_a_full_disk_rolls_back_and_says_so(tmp_path: Path, sample_archive: Path) -> None:
    with small_disk(tmp_path / "disk", "1m") as disk:
        db = disk / "store.sqlite3"
        assert bot("index", "--archive", sample_archive, "--db", db).returncode == 0
        before = table_counts(db)
        add_generated_events(sample_archive, 3000)  # more rows than the disk has room for

        line = one_line_error(bot("index", "--archive", sample_archive, "--db", db))

        assert "database or disk is full" in line and "free some space" in line and "nothing was changed" in line
        assert table_counts(db) == before
        assert scalar(db, "PRAGMA integrity_check") == "ok"


def test_a_full_store_file_in_process(
    tmp_path: Path, sample_archive: Path, sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same fault where no file system can be mounted: the file may not grow past its pages."""
    pages = scalar(sample_db, "PRAGMA page_count")
    real = store.db._pragmas
    monkeypatch.setattr(store.db, "_pragmas", lambda: [*real(), f"PRAGMA max_page_count = {pages + 5}"])
    before = table_counts(sample_db)
    add_generated_events(sample_archive, 3000)

    with pytest.raises(StoreError, match=r"database or disk is full .* nothing was changed"):
        index_archive(sample_db, sample_archive)

    assert table_counts(sample_db) == before


def test_a_read_only_store(tmp_path: Path, sample_archive: Path) -> None:
    with small_disk(tmp_path / "disk", "4m") as disk:
        db = disk / "store.sqlite3"
        assert bot("index", "--archive", sample_archive, "--db", db).returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)

        line = one_line_error(bot("index", "--archive", sample_archive, "--db", db))

        assert "cannot" in line and "this user" in line


# Restoring a backup


def leave_a_wal(db: Path, change: str) -> bytes:
    """Commit `change` into the store's -wal and leave it there, as a process killed before its
    checkpoint does; returns the log's bytes."""
    wal = Path(f"{db}-wal")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute(change)
    conn.commit()
    log = wal.read_bytes()
    conn.close()  # checkpoints and removes the log: put it back as the killed process left it
    wal.write_bytes(log)
    return log


def test_restore_replaces_the_store_and_keeps_the_old_one(
    tmp_path: Path, sample_db: Path, sample_archive: Path
) -> None:
    backup = tmp_path / "backup.sqlite3"
    backup_store(sample_db, backup)
    (sample_archive / SEED_2015).unlink()
    index_archive(sample_db, sample_archive)
    leave_a_wal(sample_db, "UPDATE events SET headline = 'in the write-ahead log'")  # as a killed bot does

    result = bot("restore", backup, "--db", sample_db)

    assert result.returncode == 0, result.stderr
    assert f"{SAMPLE_EVENTS:,} events" in result.stdout
    kept = next(tmp_path.glob("sample.sqlite3.before-restore-*"))
    assert f"kept as {kept}" in result.stdout
    assert scalar(sample_db, "SELECT count(*) FROM events") == SAMPLE_EVENTS
    assert scalar(sample_db, "PRAGMA integrity_check") == "ok"
    assert scalar(sample_db, "SELECT count(*) FROM events WHERE headline = 'in the write-ahead log'") == 0
    assert scalar(kept, "SELECT count(*) FROM events") == SAMPLE_EVENTS - 1
    assert scalar(kept, "SELECT count(*) FROM events WHERE headline = 'in the write-ahead log'") == SAMPLE_EVENTS - 1


def test_a_backup_copied_by_hand_beside_a_stale_wal_is_refused(tmp_path: Path, sample_db: Path) -> None:
    backup = tmp_path / "backup.sqlite3"
    backup_store(sample_db, backup)
    stale = leave_a_wal(sample_db, "UPDATE events SET headline = 'changed after the backup'")
    shutil.copyfile(backup, sample_db)  # the mistake: the backup copied in, the old -wal left beside it
    Path(f"{sample_db}-wal").write_bytes(stale)
    before = digest(sample_db)

    line = one_line_error(bot("search", "syria", "--db", sample_db))

    assert "a -wal file beside it from another copy" in line and "python -m bot restore" in line
    assert digest(sample_db) == before


def test_restore_refuses_while_the_bot_runs_and_a_bad_backup(tmp_path: Path, sample_db: Path) -> None:
    write_heartbeat(sample_db.parent / "heartbeat")
    backup = tmp_path / "backup.sqlite3"
    backup_store(sample_db, backup)
    line = one_line_error(bot("restore", backup, "--db", sample_db))
    assert "the bot is running" in line
    (sample_db.parent / "heartbeat").unlink()

    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"not a database")
    with pytest.raises(StoreError, match="not an SQLite database"):
        restore_store(broken, sample_db)
    assert scalar(sample_db, "SELECT count(*) FROM events") == SAMPLE_EVENTS


def test_run_without_a_store_refuses(tmp_path: Path) -> None:
    db = tmp_path / "none.sqlite3"
    env = {**os.environ, "DISCORD_TOKEN": "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--db", str(db)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"No index at {db}. Build it first: python -m bot index --archive DIR" in result.stderr
    assert not db.exists()


# Readers that see a new generation


async def test_a_store_switches_to_a_generation_committed_elsewhere(sample_db: Path, sample_archive: Path) -> None:
    async with await Store.open(sample_db) as reader:
        first = reader.generation
        assert not await reader.refresh(force=True)
        (sample_archive / NEW_PATH).parent.mkdir(parents=True)
        (sample_archive / NEW_PATH).write_text(NEW_EVENT, encoding="utf-8")
        (sample_archive / SEED_2015).unlink()
        await asyncio.to_thread(index_archive, sample_db, sample_archive)  # as another process would

        assert [f.event.path for f in await reader.search("zorblax")] == []  # the old index, until it looks
        assert await reader.refresh(force=True)
        assert reader.generation == first + 1
        assert [f.event.path for f in await reader.search("zorblax")] == [NEW_PATH]
        assert SEED_2015 not in [f.event.path for f in await reader.search("qalamun al-qaryatain", 20)]
        assert reader.index.size == SAMPLE_EVENTS


def test_a_search_batch_sees_the_new_generation_within_seconds(sample_db: Path, sample_archive: Path) -> None:
    reader = subprocess.Popen(
        [sys.executable, "-m", "bot", "search", "-", "--json", "--db", str(sample_db)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert reader.stdin is not None and reader.stdout is not None

    def ask(query: str) -> list[str]:
        reader.stdin.write(query + "\n")
        reader.stdin.flush()
        return [event["path"] for event in json.loads(reader.stdout.readline())]

    try:
        assert ask("zorblax") == []
        (sample_archive / NEW_PATH).parent.mkdir(parents=True)
        (sample_archive / NEW_PATH).write_text(NEW_EVENT, encoding="utf-8")
        index_archive(sample_db, sample_archive)
        committed = time.monotonic()
        while (found := ask("zorblax")) == [] and time.monotonic() - committed < 10:
            time.sleep(0.1)
        assert found == [NEW_PATH]
    finally:
        reader.stdin.close()
        reader.wait(timeout=10)


async def test_the_bot_answers_from_an_index_built_by_another_process(
    fake: FakeDiscord, sample_db: Path, sample_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(fake, sample_db, sample_archive) as bot_:
        before = bot_.store.generation
        (sample_archive / NEW_PATH).parent.mkdir(parents=True)
        (sample_archive / NEW_PATH).write_text(NEW_EVENT, encoding="utf-8")
        indexed = await asyncio.to_thread(bot, "index", "--archive", sample_archive, "--db", sample_db)
        assert indexed.returncode == 0, indexed.stderr
        await fake.wait_for(lambda: bot_.store.generation == before + 1, timeout=10, what="the new generation")
        reply = await (await fake.slash("events", {"query": "zorblax"})).final()
    assert "Zorblax treaty" in json.dumps(reply)
