"""The store in PostgreSQL (psycopg 3): bot processes on several machines sharing one database.

- Reads and changes go through a connection pool; each change is one transaction.
- An index run holds a session advisory lock (one run at a time across every process; it goes
  with the connection, so a killed process frees it), writes the new generation in one
  transaction and announces it with NOTIFY; every process LISTENs and reloads its search index.
- The schema is created or upgraded at open, in one transaction under a transaction advisory
  lock (two processes starting together do it once); DDL is transactional, so a failed upgrade
  leaves the old schema whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from store import migrations
from store.backend import Backend, Changes, Row, shown
from store.db import SCHEMA_VERSION, StoreError
from store.ingest import IndexBusy, IndexReport, Progress, generation, index_into, previous_archive
from store.search import IndexRows, SearchIndex

log = logging.getLogger("newsbot.store")

SCHEMA = (Path(__file__).parent / "schema_postgres.sql").read_text(encoding="utf-8")
CHANNEL = "newsbot_index"  # NOTIFY payload: the new index generation
INDEX_LOCK = 0x6E657773  # advisory lock key of index runs ("news")
SCHEMA_LOCK = 0x6E657774  # advisory lock key of schema creation and upgrades
HOLDER = "index_run_holder"  # settings key: who runs the index now, and how far it got
POOL_SIZE = 8
CONNECT_TIMEOUT = 10  # seconds
RELISTEN_AFTER = 2.0  # seconds before listening again after the connection was lost


@functools.lru_cache(maxsize=512)
def to_postgres(sql: str) -> str:
    """The store's SQL (`?` placeholders) as psycopg takes it (`%s`; a literal % doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def explain(error: psycopg.Error | PoolTimeout, url: str) -> StoreError:
    """One line for a PostgreSQL error: what is wrong, and what to do."""
    text = " ".join(str(error).split()) or type(error).__name__
    where = shown(url)
    if isinstance(error, psycopg.OperationalError | PoolTimeout):
        return StoreError(
            f"cannot use the PostgreSQL database {where} ({text}): check the URL in NEWSBOT_DB (or --db), "
            "that the server runs, and that it lets this user in"
        )
    return StoreError(f"{where}: {text}")


def connect_sync(url: str, autocommit: bool = False) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.Error as error:
        raise explain(error, url) from error


class SyncConnection:
    """A psycopg connection that takes the store's SQL, for the index run's worker thread (store/ingest.py)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(to_postgres(sql), params) if params else self.conn.execute(sql)

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(to_postgres(sql), rows)


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The schema's version: 0 for a database without the store's tables."""
    found = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def prepare(url: str) -> None:
    """Create the schema in an empty database, or upgrade an older one (POSTGRES_MIGRATIONS).

    A database at this version is left alone: DDL would wait for the locks of a running index run."""
    with connect_sync(url) as conn:
        try:
            if schema_version(conn) == SCHEMA_VERSION:
                return
            conn.rollback()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                _create_or_upgrade(conn, url, schema_version(conn))  # again: another process may have done it
        except migrations.MigrationError as error:
            raise StoreError(f"{shown(url)}: {error}") from error
        except psycopg.Error as error:
            raise explain(error, url) from error


def _create_or_upgrade(conn: psycopg.Connection[Any], url: str, version: int) -> None:
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{shown(url)} has schema version {version}, newer than this bot's {SCHEMA_VERSION}: "
            "upgrade the bot, or point it at another database"
        )
    # A new database (version 0) is created from the newest schema directly.
    plan = migrations.steps(version, SCHEMA_VERSION, migrations.POSTGRES_MIGRATIONS) if version else []
    for number, step in plan:
        try:
            conn.execute(step)  # type: ignore[arg-type]
        except psycopg.Error as error:
            raise StoreError(
                f"{shown(url)}: migration to schema version {number} failed ({' '.join(str(error).split())}); "
                "nothing was changed "
                f"(it is still at schema version {version}). Please report this with the message above."
            ) from error
    conn.execute(SCHEMA)  # type: ignore[arg-type]
    conn.execute("DELETE FROM schema_version")
    conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))


class _Transaction(Changes):
    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def fetch(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        cursor = await _execute(self.conn, sql, params)
        return await cursor.fetchall()

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        return (await _execute(self.conn, sql, params)).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        async with self.conn.cursor() as cursor:
            await cursor.executemany(to_postgres(sql), rows)


async def _execute(conn: psycopg.AsyncConnection[Any], sql: str, params: Sequence[object]) -> psycopg.AsyncCursor[Any]:
    return await (conn.execute(to_postgres(sql), params) if params else conn.execute(sql))


class PostgresBackend(Backend):
    dialect = "postgres"

    def __init__(self, pool: AsyncConnectionPool, url: str) -> None:
        super().__init__()
        self.pool = pool
        self.url = url
        self.target = url
        self._listener: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str) -> PostgresBackend:
        await asyncio.to_thread(prepare, url)  # also the first check that the server can be reached
        pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            # The store's queries are small: JIT compiling one (PostgreSQL's default above a cost) took 7 ms.
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT, "options": "-c jit=off"},
            open=False,
            name="newsbot",
        )
        await pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        return cls(pool, url)

    async def fetch(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        async with self._connection() as conn:
            return await (await _execute(conn, sql, params)).fetchall()

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        async with self._connection() as conn:
            return (await _execute(conn, sql, params)).rowcount

    @contextlib.asynccontextmanager
    async def change(self) -> AsyncIterator[Changes]:
        async with self._connection() as conn, conn.transaction():
            yield _Transaction(conn)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection from the pool; a lost server is a StoreError that says what to do."""
        try:
            async with self.pool.connection(timeout=CONNECT_TIMEOUT) as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise explain(error, self.url) from error

    def load_search_index(self) -> tuple[int, SearchIndex]:
        """One REPEATABLE READ transaction: the generation and its postings from one snapshot."""
        with connect_sync(self.url, autocommit=True) as conn:
            try:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                number = generation(SyncConnection(conn))
                docs = conn.execute("SELECT doc, event_id, length, day FROM search_docs ORDER BY doc").fetchall()
                terms = conn.execute("SELECT term, variant, docs, counts FROM search_terms ORDER BY term").fetchall()
                conn.execute("COMMIT")
            except psycopg.Error as error:
                raise explain(error, self.url) from error
        return number, SearchIndex(IndexRows(docs, terms))

    async def listen(self) -> None:
        ready = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(ready), name="newsbot-index-listen")
        await asyncio.wait({self._listener, asyncio.create_task(ready.wait())}, return_when=asyncio.FIRST_COMPLETED)

    async def _listen(self, ready: asyncio.Event) -> None:
        """LISTEN for new index generations; on a lost connection, listen again (and look, in case one was missed)."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if ready.is_set():
                        self.index_changed.set()
                    ready.set()
                    async for _ in conn.notifies():
                        self.index_changed.set()
            except psycopg.Error as error:
                log.warning("listening for new indexes: %s; again in %.0f s", error, RELISTEN_AFTER)
                ready.set()
            await asyncio.sleep(RELISTEN_AFTER)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.pool.close()


@contextlib.contextmanager
def index_lock(url: str, requested_by: str) -> Iterator[psycopg.Connection[Any]]:
    """Hold the index runs' advisory lock for one run (on a connection of its own, which it yields:
    progress is written there, outside the run's transaction), or raise IndexBusy naming the holder."""
    with connect_sync(url, autocommit=True) as conn:
        locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (INDEX_LOCK,)).fetchone()
        if not locked or not locked[0]:
            row = conn.execute("SELECT value FROM settings WHERE key = %s", (HOLDER,)).fetchone()
            raise IndexBusy(
                f"another index run is in progress on this store ({_holder(row[0] if row else '')}); "
                "wait for it to finish"
            )
        holder = {
            "by": requested_by,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        _set_holder(conn, holder)
        try:
            yield conn
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (INDEX_LOCK,))


def _set_holder(conn: psycopg.Connection[Any], holder: dict[str, object]) -> None:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (HOLDER, json.dumps(holder)),
    )


def _holder(text: str) -> str:
    try:
        holder = json.loads(text)
        where = f"started {holder['since']} UTC by {holder['by']}, process {holder['pid']} on {holder['host']}"
    except (ValueError, KeyError, TypeError):
        return "started by another process"
    if "total" in holder:
        where += f"; {holder['done']:,} of {holder['total']:,} changed files read"
    return where


def index_archive(
    url: str,
    archive: str | Path,
    requested_by: str = "cli",
    progress: Progress | None = None,
    allow_shrink: bool = False,
) -> IndexReport:
    """store.ingest.index_archive on PostgreSQL: one run at a time anywhere; the new generation is NOTIFY'd."""
    from corpus.archive import archive_root, scan_archive

    started = dt.datetime.now(dt.UTC)
    root = archive_root(archive).resolve()
    prepare(url)
    with index_lock(url, requested_by) as lock:
        holder = json.loads(lock.execute("SELECT value FROM settings WHERE key = %s", (HOLDER,)).fetchone()[0])

        def tracked(done: int, total: int) -> None:
            with contextlib.suppress(psycopg.Error):  # progress is news, not part of the run
                _set_holder(lock, {**holder, "done": done, "total": total})
            if progress:
                progress(done, total)

        scan = scan_archive(root)
        with connect_sync(url) as conn:
            try:
                with conn.transaction():
                    report = index_into(SyncConnection(conn), scan, root, started, requested_by, tracked, allow_shrink)
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(report.generation)))
            except psycopg.Error as error:
                raise explain(error, url) from error
        if report.changed:  # fresh statistics for the planner (autovacuum would get there later)
            with contextlib.suppress(psycopg.Error):
                lock.execute("ANALYZE")
    return report


def remembered_archive(url: str) -> str | None:
    """The archive folder of the store's last run (None: no run, or no store yet)."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT) as conn:
            if not schema_version(conn):
                return None
            return previous_archive(SyncConnection(conn))
    except psycopg.Error:  # the index run that follows says what is wrong
        return None
