"""The store in one SQLite file (store/db.py opens its connections): one machine, one or more processes.

Reads share one connection. Each change opens its own short-lived connection and runs in
BEGIN IMMEDIATE ... COMMIT: while an index run holds the write lock, a change waits (up to
the busy timeout) without holding up the searches queued on the shared connection. Another
process's index run is seen by polling the index generation (Store.refresh).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiosqlite

from store.backend import Backend, Changes, Row
from store.db import check_file, connect, connect_read_only, explain
from store.search import IndexRows, SearchIndex


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

    @classmethod
    async def open(cls, path: Path) -> SqliteBackend:
        check_file(path)  # once, before this process holds any connection to the file
        return cls(await connect(path), path)

    async def fetch(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return list(await self.conn.execute_fetchall(sql, params))

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
        await self.conn.close()


def load_search_index(path: str | Path) -> tuple[int, SearchIndex]:
    """The index generation and its posting lists, read in one snapshot (a few hundred ms).

    One read transaction: an index run committing meanwhile is either wholly in it or not at all."""
    from store.ingest import generation

    conn = connect_read_only(path)
    try:
        conn.execute("BEGIN")
        number = generation(conn)
        docs = conn.execute("SELECT doc, event_id, length, day FROM search_docs ORDER BY doc").fetchall()
        terms = conn.execute("SELECT term, variant, docs, counts FROM search_terms ORDER BY term").fetchall()
        conn.execute("COMMIT")
    except sqlite3.Error as error:
        raise explain(error, path) from error
    finally:
        conn.close()
    return number, SearchIndex(IndexRows(docs, terms))
