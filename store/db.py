"""The one place that opens SQLite connections, so every connection gets the same settings."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import aiosqlite

from store import migrations

SCHEMA = (Path(__file__).parent / "schema.sql").read_text(encoding="utf-8")
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
TABLES = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA))
INDEXES = set(re.findall(r"CREATE INDEX IF NOT EXISTS (\w+)", SCHEMA))
NAMES_SQL = "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')"


class StoreError(RuntimeError):
    """The database cannot be used as it is; the message says what to do."""


def _pragmas() -> list[str]:
    return [
        "PRAGMA journal_mode = WAL",  # readers are not blocked by a running index
        "PRAGMA synchronous = NORMAL",
        "PRAGMA foreign_keys = ON",
        f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    ]


def _check_version(version: int, path: str) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, newer than this bot's {SCHEMA_VERSION}: "
            "upgrade the bot, or point it at another database file"
        )


def _needs_work(version: int, names: set[str]) -> bool:
    """An older schema, or tables or indexes new to this version (created without a migration)."""
    return version != SCHEMA_VERSION or not names >= TABLES | INDEXES


def _prepare(conn: sqlite3.Connection, path: str | Path) -> None:
    """Create the schema in a new database, upgrade an older one, add tables and indexes new to this version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    _check_version(version, str(path))
    if 0 < version < SCHEMA_VERSION:
        try:
            migrations.upgrade(conn, path, version, SCHEMA_VERSION, SCHEMA)
        except migrations.MigrationError as error:
            raise StoreError(str(error)) from error
        return
    if _needs_work(version, {row[0] for row in conn.execute(NAMES_SQL)}):
        conn.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;")


def _open_sync(path: str | Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    for pragma in _pragmas():
        conn.execute(pragma)
    return conn


def prepare_file(path: str | Path) -> None:
    """Bring the database file at `path` to this bot's schema (see store/migrations.py)."""
    conn = _open_sync(path)
    try:
        _prepare(conn, path)
    finally:
        conn.close()


def connect_sync(path: str | Path) -> sqlite3.Connection:
    """A plain connection, for batch work in a worker thread (the index run)."""
    conn = _open_sync(path)
    try:
        _prepare(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """A connection that can only read, and changes nothing about the file: for checks and backups.

    It does not create, upgrade or switch the journal mode of the database, so it is safe on a
    file in use by the bot, an older or newer schema, or a copy being checked."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


async def connect(path: str | Path) -> aiosqlite.Connection:
    """An asyncio connection, for the bot and the command line."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        for pragma in _pragmas():
            await conn.execute(pragma)
        async with conn.execute("PRAGMA user_version") as cursor:
            version = (await cursor.fetchone())[0]
        _check_version(version, str(path))
        if _needs_work(version, {row[0] for row in await conn.execute_fetchall(NAMES_SQL)}):
            # An upgrade copies and rewrites the file: a plain connection in a worker thread.
            await asyncio.to_thread(prepare_file, path)
    except BaseException:
        await conn.close()
        raise
    return conn


class transaction:
    """`with transaction(conn):` BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
