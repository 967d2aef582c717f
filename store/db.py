"""The one place that opens SQLite connections, so every connection gets the same settings."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite

from store import migrations

SCHEMA = (Path(__file__).parent / "schema.sql").read_text(encoding="utf-8")
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
TABLES = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA))
INDEXES = set(re.findall(r"CREATE INDEX IF NOT EXISTS (\w+)", SCHEMA))
NAMES_SQL = "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')"


SQLITE_HEADER = b"SQLite format 3\x00"
RESTORE_HINT = "restore a backup with: python -m bot restore BACKUP"


class StoreError(RuntimeError):
    """The database cannot be used as it is; the message says what to do."""


def explain(error: sqlite3.Error, path: str | Path) -> StoreError:
    """One line for an SQLite error: what is wrong with the store at `path`, and what to do."""
    text = str(error)
    if "disk is full" in text or "disk I/O error" in text:
        return StoreError(f"{text} while writing {path}: free some space and run again; nothing was changed")
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return StoreError(
            f"{path} cannot be written ({text}): let this user write the file and its folder, or choose another --db"
        )
    if "not a database" in text or "malformed" in text:
        return StoreError(f"{path} is damaged ({text}): {RESTORE_HINT}, or index the archive into a new file")
    if "locked" in text or "busy" in text:
        return StoreError(f"{path} is busy ({text}): another program holds it; try again in a moment")
    return StoreError(f"{path}: {text}")


def check_file(path: str | Path) -> None:
    """Refuse, before SQLite opens it, a path that is not this bot's store (or cannot become one).

    Opening switches the journal mode to WAL, a write: never do that to a folder, another
    program's file, or a restored copy with a stale -wal beside it (SQLite would apply it).

    Call it only where this process holds no connection to the file yet (Store.open, the
    command line's index run, restore): it opens and closes the file, and closing any
    descriptor of a file drops every lock the process holds on it (POSIX), the open
    connections' included; another process's index run could then delete the write-ahead log
    under them, which damages the store."""
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"{path} is a folder: give the database a file name, e.g. {path / 'newsbot.sqlite3'}")
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with path.open("rb") as file:
            header = file.read(100)
    except OSError as error:
        raise StoreError(f"{path} cannot be read ({error.strerror}): let this user read and write it") from error
    if not header.startswith(SQLITE_HEADER):
        raise StoreError(f"{path} is not an SQLite database: point --db (or NEWSBOT_DB) at the bot's store")
    wal = Path(f"{path}-wal")
    if len(header) > 18 and header[18] == 1 and wal.exists() and wal.stat().st_size > 0:
        raise StoreError(
            f"{path} has a -wal file beside it from another copy of the database (a backup copied over the store?): "
            f"opening it would damage it. Restore with: python -m bot restore COPY; or, if {path} is the copy "
            f"you want, delete {wal} and {path}-shm"
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise explain(error, path) from error
    if tables and "events" not in tables:
        raise StoreError(
            f"{path} is another program's database (tables: {', '.join(sorted(tables)[:5])}): "
            "point --db (or NEWSBOT_DB) at the bot's own store or a new file"
        )


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


def make_folder(path: str | Path) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create the folder of {path} ({error.strerror}): choose another --db") from error


def _open_sync(path: str | Path) -> sqlite3.Connection:
    make_folder(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise explain(error, path) from error
    try:
        conn.row_factory = sqlite3.Row
        for pragma in _pragmas():
            conn.execute(pragma)
    except sqlite3.Error as error:
        conn.close()
        raise explain(error, path) from error
    return conn


def prepare_file(path: str | Path) -> None:
    """Bring the database file at `path` to this bot's schema (see store/migrations.py)."""
    conn = _open_sync(path)
    try:
        _prepare(conn, path)
    except sqlite3.Error as error:
        raise explain(error, path) from error
    finally:
        conn.close()


def connect_sync(path: str | Path) -> sqlite3.Connection:
    """A plain connection, for batch work in a worker thread (the index run)."""
    conn = _open_sync(path)
    try:
        _prepare(conn, path)
    except sqlite3.Error as error:
        conn.close()
        raise explain(error, path) from error
    except BaseException:
        conn.close()
        raise
    return conn


def connect_read_only(path: str | Path, shared: bool = False) -> sqlite3.Connection:
    """A connection that can only read, and changes nothing about the file: for checks, backups
    and the store's lookups (`shared`: usable from any thread, one statement at a time).

    It does not create, upgrade or switch the journal mode of the database, so it is safe on a
    file in use by the bot, an older or newer schema, or a copy being checked."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=not shared)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def generation(conn: sqlite3.Connection | Any) -> int:
    """The store's index generation: 0 before the first run that changed anything (on an sqlite3
    connection, or store.postgres.SyncConnection: the same SQL)."""
    row = conn.execute("SELECT value FROM settings WHERE key = 'index_generation'").fetchone()
    return int(row[0]) if row else 0


async def connect(path: str | Path) -> aiosqlite.Connection:
    """An asyncio connection, for the bot and the command line (the first one after check_file)."""
    make_folder(path)
    try:
        conn = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as error:
        raise explain(error, path) from error
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
    except sqlite3.Error as error:
        await conn.close()
        raise explain(error, path) from error
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
        if kind is None:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        else:
            self._rollback()

    def _rollback(self) -> None:
        # SQLite has already rolled back after some errors (a full disk): a second ROLLBACK
        # would fail and hide the error that matters.
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
