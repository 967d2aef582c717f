"""The store: incremental, all-or-nothing indexing, bad files, WAL readers, the shared archive."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import multiprocessing.context
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import SEED_2015, SEED_2016, SHARED_EVENTS
from test_operations import survivors

import store.ingest as ingest
from store.db import StoreError, connect, connect_sync, transaction
from store.ingest import DocumentFields, index_archive
from store.search import document_fields
from store.sqlite import SqliteBackend
from store.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_EVENTS = 15

PALMYRA_2017 = (
    "news/2017/03/2/the-syrian-army-and-its-allies-recapture-the-ancient-city-of-palmyra-from-the-islamic-state-of-"
    "iraq-and-the-levant.md"
)


def rows(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return [tuple(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()


def scalar(db: Path, sql: str, params: tuple[object, ...] = ()) -> object:
    return rows(db, sql, params)[0][0]


def table_counts(db: Path) -> dict[str, int]:
    tables = ("events", "sources", "related", "topics", "search_docs", "search_terms")
    return {table: int(scalar(db, f"SELECT count(*) FROM {table}")) for table in tables}


def bump_mtime(file: Path) -> None:
    """A modification time the store has surely not seen, whatever the clock's resolution."""
    stat = file.stat()
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


def rewrite(file: Path, text: str | bytes) -> None:
    if isinstance(text, str):
        file.write_text(text, encoding="utf-8")
    else:
        file.write_bytes(text)
    bump_mtime(file)


async def search_paths(db: Path, query: str, limit: int = 20) -> list[str]:
    async with await Store.open(db) as store:
        return [found.event.path for found in await store.search(query, limit)]


def event_text(day: dt.date, headline: str) -> str:
    return f"### [{day.year}-{day.month:02d}-{day.day}](/news/{day:%Y/%m}/{day.day}/index.md)\n\n# {headline} \n"


def event_path(day: dt.date, headline: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", headline.lower()).strip("-")[:140]
    return f"news/{day:%Y/%m}/{day.day}/{slug}.md"


def add_generated_events(archive: Path, count: int) -> list[str]:
    """`count` valid event files, one to a few a day from 2019 on; returns their paths."""
    paths = []
    for number in range(count):
        day = dt.date(2019, 1, 1) + dt.timedelta(days=number // 3)
        headline = f"Generated event number {number} about the harbour of Xanadu {number % 7}"
        path = event_path(day, headline)
        file = archive / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(event_text(day, headline), encoding="utf-8")
        paths.append(path)
    return paths


# Incremental runs


def test_first_run_adds_every_event_and_a_second_run_changes_nothing(tmp_path: Path, sample_archive: Path) -> None:
    db = tmp_path / "store.sqlite3"
    first = index_archive(db, sample_archive)
    assert first.scanned == SAMPLE_EVENTS
    assert len(first.added) == SAMPLE_EVENTS
    assert (first.updated, first.removed, first.rejected) == ([], [], [])
    assert first.changed
    assert first.events == SAMPLE_EVENTS
    assert SEED_2015 in first.added and SEED_2016 in first.added
    counts = table_counts(db)
    assert counts["events"] == counts["search_docs"] == SAMPLE_EVENTS

    second = index_archive(db, sample_archive)
    assert not second.changed
    assert (second.added, second.updated, second.removed, second.rejected) == ([], [], [], [])
    assert second.scanned == SAMPLE_EVENTS and second.events == SAMPLE_EVENTS
    assert table_counts(db) == counts
    runs = rows(db, "SELECT id, scanned, added, updated, removed, rejected, finished_at FROM index_runs ORDER BY id")
    assert [run[:6] for run in runs] == [
        (first.run_id, SAMPLE_EVENTS, SAMPLE_EVENTS, 0, 0, 0),
        (second.run_id, SAMPLE_EVENTS, 0, 0, 0, 0),
    ]
    assert all(run[6] for run in runs)


def test_a_touched_file_with_the_same_content_updates_nothing(tmp_path: Path, sample_archive: Path) -> None:
    db = tmp_path / "store.sqlite3"
    index_archive(db, sample_archive)
    before = rows(db, "SELECT id, path, date, headline, size, sha256 FROM events ORDER BY id")
    file = sample_archive / PALMYRA_2017
    bump_mtime(file)

    report = index_archive(db, sample_archive)
    assert not report.changed
    assert (report.added, report.updated, report.removed, report.rejected) == ([], [], [], [])
    assert rows(db, "SELECT id, path, date, headline, size, sha256 FROM events ORDER BY id") == before
    # The new time is recorded, so the next run does not read the file again.
    assert scalar(db, "SELECT mtime_ns FROM events WHERE path = ?", (PALMYRA_2017,)) == file.stat().st_mtime_ns


async def test_an_edited_headline_updates_exactly_that_event(tmp_path: Path, sample_archive: Path) -> None:
    db = tmp_path / "store.sqlite3"
    index_archive(db, sample_archive)
    assert await search_paths(db, "ancient") == [PALMYRA_2017]
    assert await search_paths(db, "zenobian") == []
    event_id = scalar(db, "SELECT id FROM events WHERE path = ?", (PALMYRA_2017,))
    others = rows(db, "SELECT id, path, headline, sha256 FROM events WHERE path != ? ORDER BY id", (PALMYRA_2017,))

    file = sample_archive / PALMYRA_2017
    rewrite(file, file.read_text(encoding="utf-8").replace("the ancient city", "the zenobian city"))
    report = index_archive(db, sample_archive)

    assert report.updated == [PALMYRA_2017]
    assert (report.added, report.removed, report.rejected) == ([], [], [])
    assert report.events == SAMPLE_EVENTS
    assert scalar(db, "SELECT id FROM events WHERE path = ?", (PALMYRA_2017,)) == event_id
    assert "the zenobian city of Palmyra" in str(scalar(db, "SELECT headline FROM events WHERE id = ?", (event_id,)))
    assert (
        rows(db, "SELECT id, path, headline, sha256 FROM events WHERE path != ? ORDER BY id", (PALMYRA_2017,)) == others
    )
    assert await search_paths(db, "zenobian") == [PALMYRA_2017]
    assert await search_paths(db, "ancient") == []


async def test_a_deleted_file_removes_exactly_its_event_and_rows(tmp_path: Path, sample_archive: Path) -> None:
    db = tmp_path / "store.sqlite3"
    index_archive(db, sample_archive)
    event_id = scalar(db, "SELECT id FROM events WHERE path = ?", (SEED_2016,))
    own = {
        table: scalar(db, f"SELECT count(*) FROM {table} WHERE event_id = ?", (event_id,))
        for table in ("sources", "related", "topics")
    }
    assert own == {"sources": 2, "related": 10, "topics": 4}
    before = table_counts(db)
    assert SEED_2016 in await search_paths(db, "qaryatayn")

    (sample_archive / SEED_2016).unlink()
    report = index_archive(db, sample_archive)

    assert report.removed == [SEED_2016]
    assert (report.added, report.updated, report.rejected) == ([], [], [])
    assert report.events == SAMPLE_EVENTS - 1
    after = table_counts(db)
    for table in ("sources", "related", "topics"):
        assert scalar(db, f"SELECT count(*) FROM {table} WHERE event_id = ?", (event_id,)) == 0
        assert after[table] == before[table] - own[table]
    assert after["events"] == after["search_docs"] == SAMPLE_EVENTS - 1
    assert scalar(db, "SELECT count(*) FROM search_docs WHERE event_id = ?", (event_id,)) == 0
    assert SEED_2016 not in await search_paths(db, "qaryatayn")
    async with await Store.open(db) as store:
        assert await store.event(SEED_2016) is None
        assert await store.existing([SEED_2015, SEED_2016]) == {SEED_2015}


# Bad files


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda text: text.encode() + b"\x00\x00garbage", "NUL bytes"),
        (lambda text: "\n".join(line for line in text.splitlines() if not line.startswith("# ")), "no headline"),
        (lambda text: text.replace("Qalamun", "Qalam\xfcn").encode("latin-1"), "not UTF-8"),
    ],
    ids=["nul-bytes", "headline-removed", "not-utf8"],
)
async def test_a_corrupted_file_is_rejected_and_its_last_good_version_stays(
    tmp_path: Path, sample_archive: Path, damage, reason: str
) -> None:
    db = tmp_path / "store.sqlite3"
    index_archive(db, sample_archive)
    good = rows(db, "SELECT id, headline, sha256 FROM events WHERE path = ?", (SEED_2015,))
    file = sample_archive / SEED_2015
    original = file.read_text(encoding="utf-8")

    rewrite(file, damage(original))
    report = index_archive(db, sample_archive)

    assert [problem.path for problem in report.rejected] == [SEED_2015]
    assert reason in report.rejected[0].reason
    assert SEED_2015 in str(report.rejected[0])
    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert report.events == SAMPLE_EVENTS
    problems = rows(db, "SELECT path, reason, rejected FROM index_problems WHERE run_id = ?", (report.run_id,))
    assert len(problems) == 1
    assert problems[0][0] == SEED_2015 and reason in str(problems[0][1]) and problems[0][2] == 1
    assert scalar(db, "SELECT rejected FROM index_runs WHERE id = ?", (report.run_id,)) == 1
    assert rows(db, "SELECT id, headline, sha256 FROM events WHERE path = ?", (SEED_2015,)) == good
    assert SEED_2015 in await search_paths(db, "qalamun")
    async with await Store.open(db) as store:
        found = await store.event(SEED_2015)
        assert found is not None
        kept, _ = found
        assert "Qalamun" in kept.headline and len(kept.related) == 5

    # Still broken: reported again on the next run, and still kept.
    again = index_archive(db, sample_archive)
    assert [problem.path for problem in again.rejected] == [SEED_2015]
    assert SEED_2015 in await search_paths(db, "qalamun")

    # Fixed (with a new word): the event is updated.
    rewrite(file, original.replace("the Qalamun region", "the Qalamoun mountains"))
    fixed = index_archive(db, sample_archive)
    assert fixed.rejected == []
    assert fixed.updated == [SEED_2015]
    assert scalar(db, "SELECT id FROM events WHERE path = ?", (SEED_2015,)) == good[0][0]
    assert SEED_2015 in await search_paths(db, "mountains")
    assert SEED_2015 not in await search_paths(db, "region")


def test_a_new_corrupted_file_is_rejected_and_not_added(tmp_path: Path, sample_archive: Path) -> None:
    db = tmp_path / "store.sqlite3"
    index_archive(db, sample_archive)
    path = "news/2018/01/2/a-broken-event.md"
    (sample_archive / path).parent.mkdir(parents=True)
    (sample_archive / path).write_text("no date line here\n# A broken event\n", encoding="utf-8")

    report = index_archive(db, sample_archive)
    assert [(problem.path, problem.line) for problem in report.rejected] == [(path, 1)]
    assert "date line" in report.rejected[0].reason
    assert not report.changed
    assert scalar(db, "SELECT count(*) FROM events WHERE path = ?", (path,)) == 0
    assert rows(db, "SELECT path, line FROM index_problems WHERE run_id = ? AND rejected = 1", (report.run_id,)) == [
        (path, 1)
    ]


# All or nothing

KILLED_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import store.ingest
    from store.ingest import index_archive

    db, archive, marker, workers = sys.argv[1:5]
    store.ingest._workers = lambda files: int(workers)  # however many processors this machine has

    def progress(done, total):
        Path(marker).write_text(f"{done} {total}")
        if done > 0:
            time.sleep(600)  # a batch is written inside the run's transaction: wait here to be killed

    index_archive(db, archive, progress=progress)
    print("the run finished, it should have been killed", file=sys.stderr)
    """
)


@pytest.mark.parametrize("workers", [0, 2], ids=["parsing in its thread", "parsing in worker processes"])
async def test_a_run_killed_midway_leaves_the_previous_index_whole(
    tmp_path: Path, sample_archive: Path, workers: int
) -> None:
    db = tmp_path / "store.sqlite3"
    index_archive(db, sample_archive)
    before = table_counts(db)
    generated = add_generated_events(sample_archive, 3000)

    marker = tmp_path / "progress.txt"
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(db), str(sample_archive), str(marker), str(workers)],
        cwd=ROOT,
        start_new_session=True,  # its own process group: nothing it starts may outlive it
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while not (marker.exists() and marker.read_text().startswith("1000 ")):
            assert process.poll() is None, f"the run ended before it was killed: {process.stderr.read()!r}"
            assert time.monotonic() < deadline, "the run never got past its first batch"
            time.sleep(0.05)
        assert marker.read_text() == "1000 3000"
        # Mid-run, with 1000 events written but not committed: readers see the old index.
        assert scalar(db, "SELECT count(*) FROM events") == SAMPLE_EVENTS
        assert len(processes_of(process.pid)) == 1 + workers + (workers > 0)  # and the semaphores' tracker
        os.kill(process.pid, signal.SIGKILL)  # the run's process alone: its workers end with it
        process.wait()
        assert survivors(process.pid) == ""
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    assert table_counts(db) == before
    assert scalar(db, "PRAGMA integrity_check") == "ok"
    assert scalar(db, "SELECT count(*) FROM index_runs") == 1
    assert scalar(db, "SELECT count(*) FROM events WHERE headline LIKE 'Generated event%'") == 0
    assert await search_paths(db, "qalamun") == [SEED_2015]
    assert await search_paths(db, "xanadu") == []

    # The next run does the whole job.
    report = index_archive(db, sample_archive)
    assert sorted(report.added) == sorted(generated)
    assert report.events == SAMPLE_EVENTS + 3000
    assert scalar(db, "SELECT count(*) FROM index_runs") == 2
    assert len(await search_paths(db, "xanadu", limit=5)) == 5


def processes_of(group: int) -> list[str]:
    """The live (not zombie) processes of a process group, as `ps` lists them."""
    ps = subprocess.run(["ps", "-o", "stat=,pid=,args=", "-g", str(group)], capture_output=True, text=True)
    return [line for line in ps.stdout.splitlines() if not line.lstrip().startswith("Z")]


def store_rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row an index run writes, but for the times of the run and its random index token."""
    tables = {
        "events": "*",
        "sources": "*",
        "related": "*",
        "topics": "*",
        "search_docs": "*",
        "search_terms": "*",
        "settings": "*",
        "index_runs": "id, archive, requested_by, scanned, added, updated, removed, rejected",
        "index_problems": "*",
    }
    where = {"settings": "WHERE key != 'index_token'"}
    return {
        table: rows(db, f"SELECT {columns} FROM {table} {where.get(table, '')} ORDER BY 1, 2")
        for table, columns in tables.items()
    }


def test_worker_processes_write_what_the_run_writes_in_its_own_thread(
    tmp_path: Path, sample_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_generated_events(sample_archive, 300)
    broken = sample_archive / "news/2018/01/2/a-broken-event.md"
    broken.parent.mkdir(parents=True)
    broken.write_text("no date line here\n# A broken event\n", encoding="utf-8")
    (sample_archive / "news/2018/01/2/not-utf8.md").write_bytes(
        b"### [2018-01-2](/news/2018/01/2/index.md)\n\n# \xff\n"
    )
    warned = sample_archive / "news/2018/01/3/a-warned-event.md"
    warned.parent.mkdir(parents=True)
    warned.write_text(event_text(dt.date(2018, 1, 4), "A warned event") + "\nstray text\n", encoding="utf-8")
    started: list[object] = []
    start_pool = ingest._start_pool
    monkeypatch.setattr(ingest, "_start_pool", lambda workers: started.append(start_pool(workers)) or started[-1])

    own_thread, workers = tmp_path / "own-thread.sqlite3", tmp_path / "workers.sqlite3"
    monkeypatch.setattr(ingest, "_workers", lambda files: 0)
    expected = index_archive(own_thread, sample_archive)
    monkeypatch.setattr(ingest, "_workers", lambda files: 2)
    monkeypatch.setattr(ingest, "CHUNK", 7)  # many chunks, to come back in order
    report = index_archive(workers, sample_archive)

    assert started and all(pool is not None for pool in started)
    assert store_rows(workers) == store_rows(own_thread)
    assert (report.added, report.rejected, report.warnings) == (expected.added, expected.rejected, expected.warnings)
    assert {problem.path for problem in report.rejected} == {
        "news/2018/01/2/a-broken-event.md",
        "news/2018/01/2/not-utf8.md",
    }
    assert [problem.path for problem in report.warnings] == ["news/2018/01/3/a-warned-event.md"] * 2

    rewrite(
        sample_archive / SEED_2015, (sample_archive / SEED_2015).read_text(encoding="utf-8").replace("Qalamun", "Q")
    )
    monkeypatch.setattr(ingest, "_workers", lambda files: 0)
    expected = index_archive(own_thread, sample_archive)
    monkeypatch.setattr(ingest, "_workers", lambda files: 2)
    report = index_archive(workers, sample_archive)
    assert report.updated == expected.updated == [SEED_2015]
    assert store_rows(workers) == store_rows(own_thread)


def test_a_run_parses_in_its_own_thread_where_worker_processes_cannot_start(
    tmp_path: Path, sample_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(process: object) -> object:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "_Popen", staticmethod(refuse))
    monkeypatch.setattr(ingest, "_workers", lambda files: 2)
    started: list[object] = []
    start_pool = ingest._start_pool
    monkeypatch.setattr(ingest, "_start_pool", lambda workers: started.append(start_pool(workers)) or started[-1])

    report = index_archive(tmp_path / "store.sqlite3", sample_archive)
    assert started == [None]
    assert report.events == SAMPLE_EVENTS and report.rejected == []


@pytest.mark.parametrize(
    ("processors", "load", "files", "workers"),
    [
        (2, 0.2, 100_000, 1),  # one processor idle beside the writer
        (2, 1.2, 100_000, 1),  # mostly idle
        (2, 1.6, 100_000, 0),  # a busy machine: one thread is quicker
        (1, 0.0, 100_000, 0),
        (8, 0.5, 100_000, 2),  # at most MAX_WORKERS
        (8, 5.5, 100_000, 2),
        (8, 0.0, 3_000, 0),  # too few files to be worth starting processes
    ],
)
def test_worker_processes_only_where_processors_are_idle(
    monkeypatch: pytest.MonkeyPatch, processors: int, load: float, files: int, workers: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(processors)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert ingest._workers(files) == workers


def test_a_worker_process_that_dies_stops_the_run_and_changes_nothing(
    tmp_path: Path, sample_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "store.sqlite3"
    index_archive(db, sample_archive)
    before = store_rows(db)
    add_generated_events(sample_archive, 2500)
    monkeypatch.setattr(ingest, "_workers", lambda files: 1)
    monkeypatch.setattr(ingest, "CHUNK", 50)

    def kill_the_workers(done: int, total: int) -> None:
        if done:
            for pid in worker_processes():
                os.kill(pid, signal.SIGKILL)

    with pytest.raises(StoreError, match=r"a worker process parsing the archive stopped .*; nothing was changed"):
        index_archive(db, sample_archive, progress=kill_the_workers)
    assert store_rows(db) == before


def worker_processes() -> list[int]:
    """The worker processes this process started (multiprocessing's, started afresh)."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and b"spawn_main" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize(
    "topics",
    [
        [],
        ["Syrian Civil War", "ISIL"],
        ["O'Brien's party", "Côte d’Ivoire", "Iran's", "'s", "x'", "s"],
        ["ǅemal Straße", "İstanbul", "ΣΊΣΥΦΟΣ"],
        ["", "  ", "a_b", "1990–1991 Gulf War"],
    ],
)
def test_topics_cut_once_give_the_tokens_of_the_joined_topics(topics: list[str]) -> None:
    fields = DocumentFields()
    for headline in ("The Syrian Army retakes al-Qaryatayn", "Iran's O'Brien"):
        assert fields(headline, topics) == document_fields(headline, topics)
        assert fields(headline, topics) == document_fields(headline, topics)  # from the cache


def test_a_failing_run_rolls_back_everything(tmp_path: Path, sample_archive: Path) -> None:
    db = tmp_path / "store.sqlite3"
    index_archive(db, sample_archive)
    before = table_counts(db)
    add_generated_events(sample_archive, 20)

    def progress(done: int, total: int) -> None:
        if done:
            raise RuntimeError("stopped after the batch was written")

    with pytest.raises(RuntimeError, match="stopped after"):
        index_archive(db, sample_archive, progress=progress)
    assert table_counts(db) == before
    assert scalar(db, "SELECT count(*) FROM index_runs") == 1


# Concurrent readers


async def test_wal_mode_lets_readers_see_the_old_data_during_a_write(tmp_path: Path, sample_db: Path) -> None:
    writer = connect_sync(sample_db)
    reader = sqlite3.connect(sample_db)
    store = await Store.open(sample_db)
    try:
        assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert (await store.backend.conn.execute_fetchall("PRAGMA journal_mode"))[0][0] == "wal"
        reader.execute("PRAGMA busy_timeout = 100")  # a blocked reader fails at once instead of waiting
        # A tiny page cache makes the writer spill its changes to disk before it commits: with a
        # rollback journal that locks readers out; with WAL it does not.
        writer.execute("PRAGMA cache_size = 5")
        with transaction(writer):
            writer.execute("DELETE FROM events WHERE path = ?", (SEED_2015,))
            writer.execute("UPDATE events SET headline = 'rewritten'")
            writer.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?)", [(f"filler {n}", "x" * 2000) for n in range(500)]
            )
            assert writer.execute("SELECT count(*) FROM events").fetchone()[0] == SAMPLE_EVENTS - 1
            assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == SAMPLE_EVENTS
            assert reader.execute("SELECT count(*) FROM events WHERE headline = 'rewritten'").fetchone()[0] == 0
            assert reader.execute("SELECT count(*) FROM settings WHERE key LIKE 'filler%'").fetchone()[0] == 0
            found = await store.search("qalamun")
            assert [f.event.path for f in found] == [SEED_2015]
            assert "Qalamun" in found[0].event.headline
        # Committed: new reads see it.
        assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == SAMPLE_EVENTS - 1
        assert await store.event(SEED_2015) is None
    finally:
        await store.close()
        reader.close()
        writer.close()


# The shared archive (112,655 events)


@pytest.mark.archive
def test_the_shared_archive_indexes_completely(shared_index) -> None:
    db, report = shared_index
    assert report.events == SHARED_EVENTS
    assert report.scanned == SHARED_EVENTS
    assert report.rejected == []
    assert len(report.added) == SHARED_EVENTS
    assert scalar(db, "SELECT count(*) FROM events") == SHARED_EVENTS
    assert scalar(db, "SELECT count(*) FROM search_docs") == SHARED_EVENTS
    assert scalar(db, "SELECT count(*) FROM index_problems WHERE rejected = 1") == 0
    assert scalar(db, "PRAGMA quick_check") == "ok"


@pytest.mark.archive
def test_every_related_link_of_the_shared_archive_is_in_the_store(shared_index) -> None:
    db, _ = shared_index
    assert scalar(db, "SELECT count(*) FROM related") > 100_000
    missing = rows(db, "SELECT DISTINCT path FROM related WHERE path NOT IN (SELECT path FROM events) LIMIT 5")
    assert missing == []


@pytest.mark.archive
async def test_days_of_the_shared_archive(shared_index) -> None:
    db, _ = shared_index
    dates = sorted(dt.date.fromisoformat(str(row[0])) for row in rows(db, "SELECT DISTINCT date FROM events"))
    first, last = dates[0], dates[-1]
    gaps = sorted(set(first + dt.timedelta(days=n) for n in range((last - first).days)) - set(dates))
    assert gaps, "the archive has days without events"
    gap = gaps[len(gaps) // 2]
    store = Store(SqliteBackend(await connect(db), db))  # without loading the search index
    try:
        seeds = [event.path for event in (await store.events_on(dt.date(2016, 4, 3))).values()]
        assert SEED_2016 in seeds
        assert len(seeds) == scalar(db, "SELECT count(*) FROM events WHERE date = '2016-04-03'")
        assert seeds == sorted(seeds)
        found = await store.event(SEED_2016)
        assert found is not None
        seed, linked = found
        assert "al-Qaryatayn" in seed.headline and seed.date == dt.date(2016, 4, 3)
        related = {link.path for link in seed.related}
        assert linked == await store.existing(related)  # read with the event, in the same query
        assert linked and linked <= related
        assert SEED_2015 in [event.path for event in (await store.events_on(dt.date(2015, 8, 6))).values()]

        assert await store.events_on(gap) == {}
        before, after = await store.nearest_days(gap)
        assert before == max(day for day in dates if day < gap)
        assert after == min(day for day in dates if day > gap)
        assert await store.nearest_days(dt.date(2016, 4, 3)) == (
            max(day for day in dates if day < dt.date(2016, 4, 3)),
            min(day for day in dates if day > dt.date(2016, 4, 3)),
        )
        assert await store.nearest_days(first - dt.timedelta(days=1)) == (None, first)
        assert await store.nearest_days(last + dt.timedelta(days=1)) == (last, None)
    finally:
        await store.close()
