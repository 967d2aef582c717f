"""Index an archive into the store: incremental, all-or-nothing, and safe with bad files.

A run compares each file's size and modification time with what the store recorded, reads
and parses only the files that differ, and removes events whose files are gone. Everything
happens in one transaction: a crash or kill leaves the previous index whole. A file that
cannot be parsed is reported and skipped; if an earlier version of it was indexed, that
version stays (and the file is read again on the next run).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from corpus import Event, ParseError, find_event_files, parse_bytes
from corpus.archive import EventFile, archive_root
from store.db import connect_sync, transaction
from store.search import build_rows, document_tokens

BATCH = 1000
PROCESS_POOL_FROM = 2000  # files to read before parsing moves to worker processes

Progress = Callable[[int, int], None]  # (files done, files to read)


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

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def _read(file: EventFile) -> tuple[EventFile, str, Event | ParseError]:
    try:
        data = Path(file.file).read_bytes()
    except OSError as error:
        return file, "", ParseError(file.path, 0, f"cannot read file: {error.strerror}")
    digest = hashlib.sha256(data).hexdigest()
    try:
        return file, digest, parse_bytes(data, file.path)
    except ParseError as error:
        return file, digest, error


def _reader_pool(files: int) -> Executor:
    """Parsing is CPU work: use every core for a big run, one thread for a few files."""
    if files < PROCESS_POOL_FROM:
        return ThreadPoolExecutor(max_workers=1)
    return ProcessPoolExecutor(max_workers=os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn"))


def index_archive(
    db_path: str | Path,
    archive: str | Path,
    requested_by: str = "cli",
    progress: Progress | None = None,
) -> IndexReport:
    """Bring the store at `db_path` up to date with the archive. Blocking: run it in a thread."""
    started = dt.datetime.now(dt.UTC)
    root = archive_root(archive)
    files = list(find_event_files(root))  # raises FileNotFoundError for a folder with no news/
    report = IndexReport(archive=str(root), scanned=len(files))
    conn = connect_sync(db_path)
    try:
        with transaction(conn):
            _index(conn, files, report, progress)
            if report.changed or not _has_search_index(conn):
                rebuild_search_index(conn)
            report.events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
            report.seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
            report.run_id = _record_run(conn, report, started, requested_by)
    finally:
        conn.close()
    return report


def _index(conn: sqlite3.Connection, files: list[EventFile], report: IndexReport, progress: Progress | None) -> None:
    known = {
        path: (event_id, mtime_ns, size, sha256)
        for event_id, path, mtime_ns, size, sha256 in conn.execute(
            "SELECT id, path, mtime_ns, size, sha256 FROM events"
        )
    }
    seen = {file.path for file in files}
    to_read = [f for f in files if f.path not in known or known[f.path][1:3] != (f.mtime_ns, f.size)]
    if progress:
        progress(0, len(to_read))
    with _reader_pool(len(to_read)) as pool:
        for start in range(0, len(to_read), BATCH):
            batch = _Batch()
            for file, digest, result in pool.map(_read, to_read[start : start + BATCH], chunksize=50):
                batch.add(file, digest, result, known.get(file.path), report)
            batch.write(conn)
            if progress:
                progress(min(start + BATCH, len(to_read)), len(to_read))
    gone = sorted(set(known) - seen)
    conn.executemany("DELETE FROM events WHERE path = ?", [(path,) for path in gone])
    report.removed.extend(gone)


class _Batch:
    """Rows for a few hundred files, written with one executemany per table."""

    def __init__(self) -> None:
        self.touched: list[tuple[int, int, int]] = []  # same content, new mtime
        self.replaced: list[int] = []  # event ids whose sources/related/topics are rewritten
        self.events: list[tuple[int | None, Event, EventFile, str]] = []

    def add(
        self,
        file: EventFile,
        digest: str,
        result: Event | ParseError,
        known: tuple[int, int, int, str] | None,
        report: IndexReport,
    ) -> None:
        if isinstance(result, ParseError):
            report.rejected.append(Problem(result.path, result.line, result.reason))
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

    def write(self, conn: sqlite3.Connection) -> None:
        conn.executemany("UPDATE events SET mtime_ns = ?, size = ? WHERE id = ?", self.touched)
        for table in ("sources", "related", "topics"):
            conn.executemany(f"DELETE FROM {table} WHERE event_id = ?", [(i,) for i in self.replaced])
        next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM events").fetchone()[0]
        events, sources, related, topics = [], [], [], []
        for known_id, event, file, digest in self.events:
            event_id = known_id
            if event_id is None:
                event_id, next_id = next_id, next_id + 1
            events.append(
                (event_id, event.path, event.date.isoformat(), event.headline, file.mtime_ns, file.size, digest)
            )
            sources += [(event_id, n, source.name, source.url) for n, source in enumerate(event.sources)]
            related += [
                (event_id, n, link.path, link.headline, ", ".join(link.contexts))
                for n, link in enumerate(event.related)
            ]
            topics += [(event_id, topic) for topic in event.topics]
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


def _has_search_index(conn: sqlite3.Connection) -> bool:
    return (
        conn.execute("SELECT count(*) FROM search_docs").fetchone()[0]
        == conn.execute("SELECT count(*) FROM events").fetchone()[0]
    )


def rebuild_search_index(conn: sqlite3.Connection) -> None:
    """Recompute the posting lists from the events table (inside the caller's transaction)."""
    topics: dict[int, list[str]] = {}
    for event_id, topic in conn.execute("SELECT event_id, topic FROM topics ORDER BY event_id"):
        topics.setdefault(event_id, []).append(topic)
    events = (
        (event_id, dt.date.fromisoformat(date), document_tokens(headline, topics.get(event_id, ())))
        for event_id, date, headline in conn.execute("SELECT id, date, headline FROM events ORDER BY id").fetchall()
    )
    rows = build_rows(events)
    conn.execute("DELETE FROM search_docs")
    conn.execute("DELETE FROM search_terms")
    conn.executemany("INSERT INTO search_docs (doc, event_id, length, day) VALUES (?, ?, ?, ?)", rows.docs)
    conn.executemany("INSERT INTO search_terms (term, variant, docs, counts) VALUES (?, ?, ?, ?)", rows.terms)


def _record_run(conn: sqlite3.Connection, report: IndexReport, started: dt.datetime, requested_by: str) -> int:
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
