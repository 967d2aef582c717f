"""The one place that opens SQLite connections, so every connection gets the same settings."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import aiosqlite

SCHEMA = (Path(__file__).parent / "schema.sql").read_text(encoding="utf-8")
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
TABLES = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA))
CREATE_SCRIPT = f"BEGIN IMMEDIATE;\n{SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"


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


def connect_sync(path: str | Path) -> sqlite3.Connection:
    """A plain connection, for batch work in a worker thread (the index run)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    for pragma in _pragmas():
        conn.execute(pragma)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    _check_version(version, str(path))
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version < SCHEMA_VERSION or not tables >= TABLES:
        conn.executescript(CREATE_SCRIPT)
    return conn


async def connect(path: str | Path) -> aiosqlite.Connection:
    """An asyncio connection, for the bot and the command line."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    for pragma in _pragmas():
        await conn.execute(pragma)
    async with conn.execute("PRAGMA user_version") as cursor:
        version = (await cursor.fetchone())[0]
    _check_version(version, str(path))
    tables = {row[0] for row in await conn.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version < SCHEMA_VERSION or not tables >= TABLES:
        await conn.executescript(CREATE_SCRIPT)
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
