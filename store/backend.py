"""Where the store lives: an SQLite file (one machine) or a PostgreSQL database (several), behind one interface.

The store's SQL is written once, with `?` placeholders, in the part of SQL both databases
share (`INSERT ... ON CONFLICT`, `RETURNING`, `CASE` rather than SQLite's two-argument max);
the PostgreSQL backend turns the placeholders into its own. The few queries that cannot be
shared (an event's sources as a JSON array) are chosen by `Backend.dialect`.

Which backend: a `postgresql://` (or `postgres://`) URL in NEWSBOT_DB / --db, else a file path.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from store.search import SearchIndex

Row = Sequence[Any]
Target = str | Path  # an SQLite file, or a PostgreSQL URL


def is_postgres(target: Target) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def shown(target: Target) -> str:
    """The store's name for messages: a URL without its password."""
    if not is_postgres(target):
        return str(target)
    from urllib.parse import urlsplit

    parts = urlsplit(str(target))
    if parts.password:
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return parts.geturl()


class Changes(Protocol):
    """One transaction: what it reads sees its own writes; all of it commits, or none."""

    async def fetch(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...


class Backend(abc.ABC):
    """The store's database as the bot uses it: reads, short transactions, the index and its news."""

    dialect: str  # "sqlite" or "postgres": for the few queries written twice
    target: Target

    def __init__(self) -> None:
        self.index_changed = asyncio.Event()  # set when another process announces a new index generation

    @abc.abstractmethod
    async def fetch(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Rows of one query, outside any transaction."""

    async def lookup(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Rows of a short read by key (a few events by id): as `fetch`, or quicker where the
        database can answer it without a trip to another thread (SQLite)."""
        return await self.fetch(sql, params)

    @abc.abstractmethod
    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """One statement, committed on its own; the number of rows it changed."""

    @abc.abstractmethod
    def change(self) -> AbstractAsyncContextManager[Changes]:
        """`async with backend.change() as tx:` one transaction, committed at the end, rolled back on any error."""

    @abc.abstractmethod
    def load_search_index(self) -> tuple[int, SearchIndex]:
        """The index generation and its posting lists, read in one snapshot. Blocking: run it in a thread."""

    async def listen(self) -> None:  # noqa: B027 (only PostgreSQL has anything to do)
        """Start hearing about index runs of other processes (sets `index_changed`); nothing to do for SQLite."""

    @abc.abstractmethod
    async def close(self) -> None: ...


async def open_backend(target: Target) -> Backend:
    """The backend for `target`, connected, its schema created or upgraded."""
    if is_postgres(target):
        from store.postgres import PostgresBackend

        return await PostgresBackend.open(str(target))
    from store.sqlite import SqliteBackend

    return await SqliteBackend.open(Path(target))
