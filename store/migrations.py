"""Schema migrations: how a store written by an older bot is brought up to this bot's schema.

`store/schema.sql` always describes the newest schema; a new database is created from it
directly. A database at an older version (its `PRAGMA user_version`) is upgraded when it
is opened:

1. a backup copy is made first with `VACUUM INTO '<db>.v<old>.bak'` (a consistent
   snapshot; if that file exists already, a time-stamped name is used);
2. in one transaction, every migration above the old version runs in order, then
   schema.sql (`CREATE ... IF NOT EXISTS`, so tables and indexes that are simply new need
   no migration of their own), then `user_version` is set to the new version;
3. any error rolls the whole upgrade back: the database stays at its old version, whole,
   and the backup stays beside it.

To change the schema: raise `store.db.SCHEMA_VERSION`, change schema.sql, and append
`(new version, step)` to MIGRATIONS. A step is SQL (any number of statements) or a function
given the connection, for changes SQL alone cannot express. Foreign keys are off while the
steps run (so a table can be rebuilt the way SQLite recommends: create the new table, copy,
drop the old one, rename) and checked before the commit.

    MIGRATIONS = [
        (2, "ALTER TABLE events ADD COLUMN summary TEXT;"),
        (3, rebuild_sources_with_position_index),
    ]
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

Step = str | Callable[[sqlite3.Connection], None]

# (version the step upgrades to, step), in ascending order. Version 1 is the first schema:
# there is nothing to migrate yet.
MIGRATIONS: list[tuple[int, Step]] = []
# The same for PostgreSQL (store/schema_postgres.sql), SQL only; they run in one transaction with
# schema_postgres.sql after them (store/postgres.py: PostgreSQL's DDL is transactional, so no copy
# is made first; take one with pg_dump before upgrading the bot).
POSTGRES_MIGRATIONS: list[tuple[int, str]] = []


class MigrationError(RuntimeError):
    """The upgrade failed and was rolled back; the message says what to do."""


def steps(old: int, new: int, migrations: Sequence[tuple[int, Step]] | None = None) -> list[tuple[int, Step]]:
    """The migrations (MIGRATIONS unless given) that take a database from version `old` to `new`, in order."""
    migrations = MIGRATIONS if migrations is None else migrations
    chosen = [(version, step) for version, step in migrations if old < version <= new]
    if [version for version, _ in chosen] != list(range(old + 1, new + 1)):
        raise MigrationError(
            f"no way to upgrade the schema from version {old} to {new}: "
            f"store/migrations.py has steps for versions {[version for version, _ in migrations]}"
        )
    return chosen


def backup_path(db: str | Path, version: int) -> Path:
    """`<db>.v<version>.bak`, or a time-stamped name beside it if that is taken."""
    path = Path(f"{db}.v{version}.bak")
    if path.exists():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        path = Path(f"{db}.v{version}.{stamp}.bak")
    return path


def upgrade(conn: sqlite3.Connection, db: str | Path, old: int, new: int, schema: str) -> Path | None:
    """Upgrade the database behind `conn` (autocommit, no open transaction) from `old` to `new`.

    Returns the backup file, or None when another process finished the upgrade first.
    """
    plan = steps(old, new)
    backup = backup_path(db, old)
    try:
        conn.execute("VACUUM INTO ?", (str(backup),))
    except sqlite3.Error as error:
        raise MigrationError(
            f"cannot make a backup of {db} before upgrading its schema (to {backup}): {error}. "
            "Free some disk space or make the folder writable, then start again."
        ) from error
    conn.execute("PRAGMA foreign_keys = OFF")  # has no effect inside a transaction
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:  # busy: another process is writing (or upgrading)
            raise MigrationError(
                f"cannot lock {db} to upgrade its schema ({error}): another process is using it; "
                "stop it (the bot, or an index run) and start again"
            ) from error
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current != old:  # upgraded meanwhile by another process
                conn.execute("ROLLBACK")
                return None
            for version, step in plan:
                try:
                    if callable(step):
                        step(conn)
                    else:
                        execute_script(conn, step)
                except sqlite3.Error as error:
                    raise MigrationError(f"migration to schema version {version} failed: {error}") from error
            execute_script(conn, schema)
            problems = conn.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise MigrationError(f"the upgraded database breaks {len(problems)} foreign keys, e.g. {problems[0]}")
            conn.execute(f"PRAGMA user_version = {int(new)}")
            conn.execute("COMMIT")
        except BaseException as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(error, MigrationError):
                raise MigrationError(
                    f"{db}: {error}. Nothing was changed (it is still at schema version {old}); "
                    f"a backup is at {backup}. Please report this with the message above."
                ) from error
            raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    return backup


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run SQL statements one by one inside the caller's transaction.

    `executescript` would commit the open transaction first, so the script is split at the
    semicolons SQLite itself sees as statement ends (not those in strings or comments).
    """
    start = 0
    for end, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : end + 1]):
            conn.execute(script[start : end + 1])
            start = end + 1
    if script[start:].strip():  # a last statement without its semicolon, or only comments
        conn.execute(script[start:])
