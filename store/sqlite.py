"""The store in one SQLite file (store/db.py opens its connections): one machine, one or more processes.

Reads share one connection; short reads by key (`lookup`) use a second, read-only one on the
calling thread (see SqliteBackend.lookup). Each change opens its own short-lived connection and runs in
BEGIN IMMEDIATE ... COMMIT: while an index run holds the write lock, a change waits (up to
the busy timeout) without holding up the searches queued on the shared connection. Another
process's index run is seen by polling the index generation (Store.refresh).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiosqlite

from store.backend import Backend, Changes, Row
from store.db import check_file, connect, connect_read_only, explain, generation
from store.index_file import index_file, read_index_file, write_index_file
from store.search import ARRAYS, IndexRows, SearchIndex

log = logging.getLogger("newsbot.store")


class _Transaction(Changes):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def fetch(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        cursor = await self.conn.execute(sql, params)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        await self.conn.executemany(sql, rows)


class SqliteBackend(Backend):
    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        super().__init__()
        self.conn = conn  # the shared read connection
        self.path = path
        self.target = path
        self._lookups: sqlite3.Connection | None = None  # opened by the first lookup

    @classmethod
    async def open(cls, path: Path) -> SqliteBackend:
        check_file(path)  # once, before this process holds any connection to the file
        return cls(await connect(path), path)

    async def fetch(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def lookup(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """A read of a few rows by key, run here rather than in the connection's thread: it takes
        0.05-0.2 ms, less than the hop there and back (about 0.15 ms), and in WAL mode a reader
        does not wait for a writer. Its own read-only connection, in autocommit: each read sees
        the last commit."""
        if self._lookups is None:
            self._lookups = connect_read_only(self.path, shared=True)
        try:
            return self._lookups.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise explain(error, self.path) from error

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        cursor = await self.conn.execute(sql, params)
        return cursor.rowcount

    @contextlib.asynccontextmanager
    async def change(self) -> AsyncIterator[Changes]:
        conn = await connect(self.path)
        try:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Transaction(conn)
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
        finally:
            await conn.close()

    def load_search_index(self) -> tuple[int, SearchIndex]:
        return load_search_index(self.path)

    async def close(self) -> None:
        if self._lookups is not None:
            self._lookups.close()
        await self.conn.close()


def load_search_index(path: str | Path) -> tuple[int, SearchIndex]:
    """The index generation and its search index, read in one snapshot.

    One read transaction: an index run committing meanwhile is either wholly in it or not at all.
    The index comes from the file of arrays beside the store (store/index_file.py) when that
    file was written for the index run whose rows are in the snapshot; otherwise it is built
    from the posting rows (a few hundred ms) and the file written for the next load."""
    file = index_file(path)
    conn = connect_read_only(path)
    index = None
    try:
        conn.execute("BEGIN")
        number = generation(conn)
        row = conn.execute("SELECT value FROM settings WHERE key = 'index_token'").fetchone()
        token = row[0] if row else None  # None: a store whose last index run wrote no token
        arrays = read_index_file(file, token, ARRAYS) if token else None
        if arrays is not None:
            try:
                index = SearchIndex.from_arrays(arrays)
            except ValueError as error:
                log.info("search index file %s not used (%s): rebuilding it", file, error)
        if index is None:
            docs = conn.execute("SELECT doc, event_id, length, day FROM search_docs ORDER BY doc").fetchall()
            terms = conn.execute("SELECT term, variant, docs, counts FROM search_terms ORDER BY term").fetchall()
        conn.execute("COMMIT")
    except sqlite3.Error as error:
        raise explain(error, path) from error
    finally:
        conn.close()
    if index is None:
        index = SearchIndex(IndexRows(docs, terms))
        if token:
            try:
                write_index_file(file, token, index.arrays)
            except OSError as error:  # a read-only folder, a full disk: the next load builds it again
                log.warning("could not write the search index file %s: %s", file, error)
    return number, index
