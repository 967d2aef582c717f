"""A consistent copy of the store, safe to take while the bot runs and while an index runs.

`VACUUM INTO` reads one snapshot of the database (what was committed when it started; a
write in progress in another connection is not in it) and writes a compact single file
with no -wal beside it. In WAL mode it blocks neither readers nor writers. The copy is
written under a temporary name and renamed when complete and checked, so the target is
never a half-written file.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from store.db import StoreError, connect_read_only


@dataclass(frozen=True)
class Backup:
    path: Path
    events: int
    bytes: int
    seconds: float
    schema_version: int


def backup_store(db: str | Path, target: str | Path, force: bool = False) -> Backup:
    """Copy the store at `db` to `target`; refuses to replace an existing file unless `force`."""
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


def _count_events(conn: sqlite3.Connection) -> int:
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.OperationalError:  # not a newsbot store, or an empty one
        return 0
