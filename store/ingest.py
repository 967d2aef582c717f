"""Index an archive into the store: incremental, all-or-nothing, and safe with bad files.

A run compares each file's size and modification time with what the store recorded, reads
and parses only the files that differ, and removes events whose files are gone. Everything
happens in one transaction: a crash or kill leaves the previous index whole. A file that
cannot be parsed is reported and skipped; if an earlier version of it was indexed, that
version stays (and the file is read again on the next run).

Two guards stand before any change: one run at a time per store (a lock file beside it,
released by the system when the process dies), and no run that would remove a large share
of the store without being told so (`allow_shrink`), since that is what an archive folder
mistyped, unmounted or left empty looks like.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import secrets
import socket
import sqlite3
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from corpus.archive import (
    EventFile,
    EventRecord,
    Scan,
    Unreadable,
    archive_root,
    read_event_file,
    read_event_files,
    scan_archive,
    worker_started,
)
from store.backend import is_postgres
from store.db import StoreError, connect_read_only, connect_sync, explain, generation, make_folder, transaction
from store.search import HEADLINE_SHIFT, build_rows
from store.tokens import tokenize

try:
    import fcntl
except ImportError:  # not on Windows: no lock there
    fcntl = None  # type: ignore[assignment]

BATCH = 1000
PARALLEL_FROM = 5000  # files to read before a run starts worker processes to parse them
MAX_WORKERS = 2  # the writer is the slower side: more would wait on it
CHUNK = 250  # files a worker parses at a time
IN_FLIGHT = 3  # chunks given to each worker ahead of the writer
SHRINK_SHARE = 0.10  # a run may remove at most this share of the store without allow_shrink
SHRINK_FLOOR = 10  # ... or this many events, whichever is more

Progress = Callable[[int, int], None]  # (files done, files to read)


class Connection(Protocol):
    """What a run needs of a connection: sqlite3's, or store.postgres.SyncConnection (same SQL, `?` placeholders)."""

    def execute(self, sql: str, params: Any = ...) -> Any: ...

    def executemany(self, sql: str, rows: Any) -> Any: ...


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}" if self.line else f"{self.path}: {self.reason}"


@dataclass
class IndexReport:
    run_id: int = 0
    archive: str = ""
    scanned: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    events: int = 0  # in the store after the run
    seconds: float = 0.0
    generation: int = 0  # the store's index generation after the run
    moved_from: str | None = None  # the folder of the previous run, when this one used another

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


class IndexBusy(StoreError):
    """Another index run holds the store; the message says whose and since when."""


class ShrinkRefused(StoreError):
    """The run would remove a large share of the store; nothing was changed.

    The message says what the run would do; the caller says how to confirm it."""

    def __init__(self, message: str, removing: int, events: int, files: int, archive: str, previous: str | None):
        super().__init__(message)
        self.removing = removing
        self.events = events
        self.files = files
        self.archive = archive
        self.previous = previous


def lock_path(db_path: str | Path) -> Path:
    return Path(f"{db_path}.index-lock")


@contextmanager
def index_lock(db_path: str | Path, requested_by: str) -> Iterator[None]:
    """Hold the store's index lock for one run, or raise IndexBusy naming the run that holds it."""
    if fcntl is None:
        yield
        return
    path = lock_path(db_path)
    make_folder(path)
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the whole run)
    except OSError as error:
        raise StoreError(f"cannot create {path} ({error.strerror}): let this user write the store's folder") from error
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise IndexBusy(
                f"another index run is in progress on this store ({_holder(handle.read())}); wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        holder = {"by": requested_by, "pid": os.getpid(), "host": socket.gethostname(), "since": _now_text()}
        handle.write(json.dumps(holder))
        handle.flush()
        yield
        # The lock goes with the file's closing (and with the process, however it ends).


def _holder(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"started {holder['since']} UTC by {holder['by']}, process {holder['pid']} on {holder['host']}"
    except (ValueError, KeyError, TypeError):
        return "started by another process"


def _now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def index_archive(
    db_path: str | Path,
    archive: str | Path,
    requested_by: str = "cli",
    progress: Progress | None = None,
    allow_shrink: bool = False,
) -> IndexReport:
    """Bring the store at `db_path` (a file, or a postgresql:// URL) up to date with the archive.
    Blocking: run it in a thread.

    Raises FileNotFoundError for a folder with no news/, IndexBusy, ShrinkRefused, or StoreError."""
    if is_postgres(db_path):
        from store.postgres import index_archive as index_postgres

        return index_postgres(str(db_path), archive, requested_by, progress, allow_shrink)
    started = dt.datetime.now(dt.UTC)
    root = archive_root(archive).resolve()
    with index_lock(db_path, requested_by):
        scan = scan_archive(root)
        conn = connect_sync(db_path)
        try:
            with transaction(conn):
                return index_into(conn, scan, root, started, requested_by, progress, allow_shrink)
        except sqlite3.Error as error:
            raise explain(error, db_path) from error
        finally:
            conn.close()


def index_into(
    conn: Connection,
    scan: Scan,
    root: Path,
    started: dt.datetime,
    requested_by: str,
    progress: Progress | None,
    allow_shrink: bool,
) -> IndexReport:
    """The run itself, inside the caller's transaction, on either database."""
    report = IndexReport(archive=str(root), scanned=len(scan.files) + len(scan.skipped))
    report.rejected.extend(Problem(skipped.path, 0, skipped.reason) for skipped in scan.skipped)
    _index(conn, scan, report, progress, allow_shrink)
    if report.changed or not _has_search_index(conn):
        rebuild_search_index(conn)
        report.generation = _next_generation(conn)
    else:
        report.generation = generation(conn)
        if conn.execute("SELECT 1 FROM settings WHERE key = 'index_token'").fetchone() is None:
            _name_search_rows(conn)  # rows written before runs named them: named now, so their file can be used
    report.events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    report.seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    report.run_id = _record_run(conn, report, started, requested_by)
    return report


def _next_generation(conn: Connection) -> int:
    value = generation(conn) + 1
    _name_search_rows(conn)
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('index_generation', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(value),),
    )
    return value


def _name_search_rows(conn: Connection) -> None:
    """A new random name for the posting rows (index_token): the key of their file of arrays (store/index_file.py)."""
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('index_token', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (secrets.token_hex(16),),
    )


def last_event_id(conn: Connection) -> int:
    """The highest event id ever given. Ids are never reused (a removed event's id is not given
    to a new one), so an id above a number read earlier belongs to an event added since (follows)."""
    given = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    kept = conn.execute("SELECT value FROM settings WHERE key = 'last_event_id'").fetchone()
    return max(int(given), int(kept[0]) if kept else 0)


def _set_last_event_id(conn: Connection, value: int) -> None:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('last_event_id', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(value),),
    )


def remembered_archive(db_path: str | Path) -> str | None:
    """The archive folder the store at `db_path` was last indexed from (None: no store, no run)."""
    if is_postgres(db_path):
        from store.postgres import remembered_archive as remembered_postgres

        return remembered_postgres(str(db_path))
    if not Path(db_path).is_file():
        return None
    try:
        conn = connect_read_only(db_path)
        try:
            return previous_archive(conn)
        finally:
            conn.close()
    except sqlite3.Error:  # not a store, or one from before index runs: the caller decides
        return None


def previous_archive(conn: Connection) -> str | None:
    """The archive folder of the store's last finished run."""
    row = conn.execute("SELECT archive FROM index_runs ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row else None


def shrink_problem(events: int, files: int, removing: int, archive: str, built_from: str | None) -> str | None:
    """Why a run that would remove `removing` of `events` needs confirming, or None.

    `built_from`: the folder of the store's last run, when it is not `archive`."""
    if not removing:
        return None
    if not (built_from or files * 2 < events or removing > max(SHRINK_FLOOR, SHRINK_SHARE * events)):
        return None
    reason = f"it would remove {removing:,} of the {events:,} events in the store ({removing / events:.0%})"
    found = f"{archive} has {files:,} event file{'s' * (files != 1)}"
    built = f"; the store was built from {built_from}" if built_from else ""
    return f"Nothing was changed: {reason}. {found}{built}."


def _index(conn: Connection, scan: Scan, report: IndexReport, progress: Progress | None, allow_shrink: bool) -> None:
    known = {
        path: (event_id, mtime_ns, size, sha256)
        for event_id, path, mtime_ns, size, sha256 in conn.execute(
            "SELECT id, path, mtime_ns, size, sha256 FROM events"
        )
    }
    seen = {file.path for file in scan.files} | {skipped.path for skipped in scan.skipped}
    # An event whose folder could not be read, or whose file was skipped, is kept as it is.
    gone = sorted(path for path in set(known) - seen if scan.covers(path))
    previous = previous_archive(conn)
    if previous is not None and Path(previous).resolve() != Path(report.archive):
        report.moved_from = previous
    problem = shrink_problem(len(known), len(scan.files), len(gone), report.archive, report.moved_from)
    if problem and not allow_shrink:
        raise ShrinkRefused(problem, len(gone), len(known), len(scan.files), report.archive, previous)
    to_read = [f for f in scan.files if f.path not in known or known[f.path][1:3] != (f.mtime_ns, f.size)]
    if progress:
        progress(0, len(to_read))
    with closing(_read_files(to_read)) as results:
        for start in range(0, len(to_read), BATCH):
            batch = _Batch()
            for file, (digest, result) in zip(to_read[start : start + BATCH], results):
                batch.add(file, digest, result, known.get(file.path), report)
            batch.write(conn)
            if progress:
                progress(min(start + BATCH, len(to_read)), len(to_read))
    # Search postings go first, in one statement: they are rebuilt after any change anyway.
    if gone:
        conn.execute("DELETE FROM search_docs")
    conn.executemany("DELETE FROM events WHERE path = ?", [(path,) for path in gone])
    report.removed.extend(gone)


def _read_files(files: list[EventFile]) -> Iterator[tuple[str, EventRecord | Unreadable]]:
    """Each file read and parsed (`read_event_file`), in order. A run with many files has them
    parsed by worker processes meanwhile, where this machine has the processors to spare."""
    workers = _workers(len(files))
    pool = _start_pool(workers) if workers else None
    if pool is None:
        yield from map(read_event_file, files)
        return
    try:
        chunks = (files[start : start + CHUNK] for start in range(0, len(files), CHUNK))
        pending: deque[Future[list[tuple[str, EventRecord | Unreadable]]]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(read_event_files, chunk))
            if len(pending) > IN_FLIGHT * workers:  # bounded: parsed files wait for the writer, not in memory
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    except BrokenProcessPool as error:
        raise StoreError(f"a worker process parsing the archive stopped ({error}); nothing was changed") from error
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _workers(files: int) -> int:
    """How many worker processes parse a run's files: one per processor idle over the last
    minute, beside the one writing the store (at most MAX_WORKERS); none for a few files (starting
    them takes longer). A worker only pays on a processor of its own: sending the parsed files
    back costs a third of the parsing, so on a busy machine the run is quicker in one thread."""
    if files < PARALLEL_FROM:
        return 0
    try:
        processors = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        processors = os.cpu_count() or 1
    try:
        idle = processors - os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average here
        idle = processors
    return max(0, min(round(idle), processors - 1, MAX_WORKERS))


def _start_pool(workers: int) -> ProcessPoolExecutor | None:
    """Worker processes started afresh (never forked from a process running other threads), or None
    where they cannot be: then the run parses in its own thread, as for a few files.

    A process started afresh imports the main module again, and a script run as a file (rather
    than `python -m bot`, `-m pytest` or `-c`) would run again in it unless it keeps its work under
    `if __name__ == "__main__":`, which cannot be checked from here: such scripts get no workers."""
    main = sys.modules.get("__main__")
    if getattr(main, "__spec__", None) is None and getattr(main, "__file__", None):
        return None
    try:
        pool = ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), initializer=worker_started)
    except (OSError, ImportError, NotImplementedError, ValueError):  # no semaphores here, say
        return None
    try:  # start them all now (they start on demand), so that a system refusing them is found here
        for started in [pool.submit(int) for _ in range(workers)]:
            started.result()
    except (OSError, BrokenProcessPool):
        pool.shutdown(wait=True, cancel_futures=True)
        return None
    return pool


class _Batch:
    """Rows for a few hundred files, written with one executemany per table."""

    def __init__(self) -> None:
        self.touched: list[tuple[int, int, int]] = []  # same content, new mtime
        self.replaced: list[int] = []  # event ids whose sources/related/topics are rewritten
        self.events: list[tuple[int | None, EventRecord, EventFile, str]] = []

    def add(
        self,
        file: EventFile,
        digest: str,
        result: EventRecord | Unreadable,
        known: tuple[int, int, int, str] | None,
        report: IndexReport,
    ) -> None:
        if isinstance(result, Unreadable):
            report.rejected.append(Problem(*result))
            return
        report.warnings.extend(Problem(file.path, 0, warning) for warning in result.warnings)
        if known is not None and known[3] == digest:
            self.touched.append((file.mtime_ns, file.size, known[0]))
            return
        if known is None:
            report.added.append(file.path)
        else:
            report.updated.append(file.path)
            self.replaced.append(known[0])
        self.events.append((known[0] if known else None, result, file, digest))

    def write(self, conn: Connection) -> None:
        conn.executemany("UPDATE events SET mtime_ns = ?, size = ? WHERE id = ?", self.touched)
        for table in ("sources", "related", "topics"):
            conn.executemany(f"DELETE FROM {table} WHERE event_id = ?", [(i,) for i in self.replaced])
        next_id = last_event_id(conn) + 1
        events, sources, related, topics = [], [], [], []
        for known_id, event, file, digest in self.events:
            event_id = known_id
            if event_id is None:
                event_id, next_id = next_id, next_id + 1
            events.append((event_id, event.path, event.date, event.headline, file.mtime_ns, file.size, digest))
            sources += [(event_id, n, name, url) for n, (name, url) in enumerate(event.sources)]
            related += [
                (event_id, n, path, headline, ", ".join(contexts))
                for n, (path, headline, contexts) in enumerate(event.related)
            ]
            topics += [(event_id, topic) for topic in event.topics]
        if next_id > last_event_id(conn) + 1:
            _set_last_event_id(conn, next_id - 1)
        conn.executemany(
            "INSERT INTO events (id, path, date, headline, mtime_ns, size, sha256) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET date = excluded.date, headline = excluded.headline, "
            "mtime_ns = excluded.mtime_ns, size = excluded.size, sha256 = excluded.sha256",
            events,
        )
        conn.executemany("INSERT INTO sources (event_id, position, name, url) VALUES (?, ?, ?, ?)", sources)
        conn.executemany(
            "INSERT INTO related (event_id, position, path, headline, contexts) VALUES (?, ?, ?, ?, ?)", related
        )
        conn.executemany("INSERT INTO topics (event_id, topic) VALUES (?, ?)", topics)


def _has_search_index(conn: Connection) -> bool:
    """Whether the posting lists cover every event, in the layout that counts the headline apart
    (a store written before that is rebuilt once)."""
    docs, longest = conn.execute("SELECT count(*), max(length) FROM search_docs").fetchone()
    return docs == conn.execute("SELECT count(*) FROM events").fetchone()[0] and (
        docs == 0 or longest >= 1 << HEADLINE_SHIFT
    )


def rebuild_search_index(conn: Connection) -> None:
    """Recompute the posting lists from the events table (inside the caller's transaction)."""
    topics: dict[int, list[str]] = {}
    for event_id, topic in conn.execute("SELECT event_id, topic FROM topics ORDER BY event_id"):
        topics.setdefault(event_id, []).append(topic)
    fields = DocumentFields()
    events = (
        (event_id, dt.date.fromisoformat(date), *fields(headline, topics.get(event_id, ())))
        for event_id, date, headline in conn.execute("SELECT id, date, headline FROM events ORDER BY id").fetchall()
    )
    rows = build_rows(events)
    conn.execute("DELETE FROM search_docs")
    conn.execute("DELETE FROM search_terms")
    conn.executemany("INSERT INTO search_docs (doc, event_id, length, day) VALUES (?, ?, ?, ?)", rows.docs)
    conn.executemany("INSERT INTO search_terms (term, variant, docs, counts) VALUES (?, ?, ?, ?)", rows.terms)


class DocumentFields:
    """`document_fields`, with each topic cut into tokens once: a few thousand topics are named by
    most of the events. The topics' tokens are those of their joined text, as a space ends every
    word and no apostrophe or possessive reaches across it."""

    def __init__(self) -> None:
        self.topic_tokens: dict[str, list[str]] = {}

    def __call__(self, headline: str, topics: Iterable[str]) -> tuple[list[str], int]:
        words = tokenize(headline)
        in_headline = len(words)
        for topic in topics:
            cut = self.topic_tokens.get(topic)
            if cut is None:
                cut = self.topic_tokens[topic] = tokenize(topic)
            words += cut
        return words, in_headline


def _record_run(conn: Connection, report: IndexReport, started: dt.datetime, requested_by: str) -> int:
    run_id = conn.execute(
        "INSERT INTO index_runs (started_at, finished_at, archive, requested_by,"
        " scanned, added, updated, removed, rejected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            started.isoformat(timespec="seconds"),
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            report.archive,
            requested_by,
            report.scanned,
            len(report.added),
            len(report.updated),
            len(report.removed),
            len(report.rejected),
        ),
    ).fetchone()[0]
    conn.executemany(
        "INSERT INTO index_problems (run_id, path, line, reason, rejected) VALUES (?, ?, ?, ?, ?)",
        [(run_id, p.path, p.line, p.reason, 1) for p in report.rejected]
        + [(run_id, p.path, p.line, p.reason, 0) for p in report.warnings],
    )
    return run_id
