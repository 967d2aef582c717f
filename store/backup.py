"""A consistent copy of the store, safe to take while the bot runs and while an index runs.

`VACUUM INTO` reads one snapshot of the database (what was committed when it started; a
write in progress in another connection is not in it) and writes a compact single file
with no -wal beside it. In WAL mode it blocks neither readers nor writers. The copy is
written under a temporary name and renamed when complete and checked, so the target is
never a half-written file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from store.backend import is_postgres, shown
from store.db import SCHEMA_VERSION, StoreError, check_file, connect_read_only
from store.index_file import index_file
from store.ingest import index_lock


@dataclass(frozen=True)
class Backup:
    path: Path
    events: int
    bytes: int
    seconds: float
    schema_version: int


def postgres_refusal(db: str, doing: str) -> StoreError:
    """backup and restore are for the SQLite file; PostgreSQL has its own tools, which do it better."""
    return StoreError(
        f"the store is the PostgreSQL database {shown(db)}: {doing} with PostgreSQL's own tools, e.g. "
        'pg_dump --format=custom --file=newsbot.dump "$NEWSBOT_DB" (a consistent snapshot while the bots run), '
        'and with the bots stopped pg_restore --clean --dbname="$NEWSBOT_DB" newsbot.dump'
    )


def backup_store(db: str | Path, target: str | Path, force: bool = False) -> Backup:
    """Copy the store at `db` to `target`; refuses to replace an existing file unless `force`."""
    if is_postgres(db):
        raise postgres_refusal(str(db), "back it up")
    db, target = Path(db), Path(target)
    if not db.is_file():
        raise StoreError(f"no database at {db}: nothing to back up (check --db or NEWSBOT_DB)")
    if target.exists() and not force:
        raise StoreError(f"{target} exists already: choose another name, or add --force to replace it")
    if target.exists() and not target.is_file():
        raise StoreError(f"{target} is not a file: give the backup a file name")
    if target.resolve() == db.resolve():
        raise StoreError(f"{target} is the database itself: give the backup another name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    source = connect_read_only(db)
    try:
        source.execute("VACUUM INTO ?", (str(partial),))
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise StoreError(f"cannot copy {db} to {target}: {error}") from error
    finally:
        source.close()
    try:
        copy = connect_read_only(partial)
        try:
            check = copy.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"the copy of {db} failed its check ({check}); the database itself may be damaged")
            version = copy.execute("PRAGMA user_version").fetchone()[0]
            events = _count_events(copy)
        finally:
            copy.close()
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Backup(target, events, target.stat().st_size, time.monotonic() - started, version)


@dataclass(frozen=True)
class Restored:
    events: int
    kept: Path | None  # where the replaced store was copied, if there was one


def restore_store(backup: str | Path, db: str | Path) -> Restored:
    """Replace the store at `db` with the copy at `backup`, never losing either.

    The copy is checked first; the current store is copied aside (or moved aside if it is too
    damaged to copy); its -wal and -shm go before the copy takes its name, so SQLite never
    applies a stale write-ahead log to the restored file. The bot must be stopped."""
    if is_postgres(db):
        raise postgres_refusal(str(db), "restore it")
    backup, db = Path(backup), Path(db)
    if not backup.is_file():
        raise StoreError(f"no backup at {backup}: give the file written by `python -m bot backup`")
    if db.exists() and backup.resolve() == db.resolve():
        raise StoreError(f"{backup} is the store itself: give the backup's file name")
    check_file(backup)
    try:
        conn = connect_read_only(backup)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            events = _count_events(conn)
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise StoreError(f"{backup} cannot be read as a store ({error}): choose another backup") from error
    if check != "ok":
        raise StoreError(f"{backup} failed its check ({check}): choose another backup")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{backup} has schema version {version}, newer than this bot's {SCHEMA_VERSION}")
    with index_lock(db, "restore"):
        kept = _keep_aside(db) if db.exists() else None
        partial = db.with_name(f".{db.name}.restoring")
        try:
            shutil.copyfile(backup, partial)
            with partial.open("rb+") as file:
                os.fsync(file.fileno())
            for side in ("-wal", "-shm", "-journal"):
                Path(f"{db}{side}").unlink(missing_ok=True)
            index_file(db).unlink(missing_ok=True)  # the arrays of the replaced index (a reload rebuilds them)
            os.replace(partial, db)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise StoreError(f"cannot write {db} ({error.strerror}); the store was not replaced") from error
    return Restored(events, kept)


def _keep_aside(db: Path) -> Path:
    """A copy of the current store beside it, before it is replaced."""
    aside = db.with_name(f"{db.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        backup_store(db, aside)
    except StoreError:  # too damaged to copy: move the file and its side files aside as they are
        for side in ("", "-wal", "-shm"):
            if Path(f"{db}{side}").exists():
                os.replace(f"{db}{side}", f"{aside}{side}")
    return aside


def _count_events(conn: sqlite3.Connection) -> int:
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.OperationalError:  # not a newsbot store, or an empty one
        return 0
