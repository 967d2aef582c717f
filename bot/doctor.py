"""`python -m bot doctor`: is everything in place to run the bot? And the heartbeat contract.

    python -m bot doctor            # each check as ok / failed, with what to do; exit 0 if all ok
    python -m bot doctor --health   # store readable + recent heartbeat; one line; for HEALTHCHECK

The heartbeat: while it is connected to Discord, the running bot writes the UTC time to the
file NEWSBOT_HEARTBEAT (default: `heartbeat` beside the database) at least every
HEARTBEAT_EVERY seconds (`write_heartbeat`, or `keep_heartbeat` as a background task). The
health check fails when that file is missing or older than HEARTBEAT_MAX_AGE seconds: the
bot is not running, still starting, or has lost the gateway.

Nothing here writes to the store: the database is opened read-only, and an older schema is
reported, not upgraded (the bot and `index` upgrade it when they open it).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import math
import os
import re
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from bot.config import Settings, ShardRange, choose_archive
from corpus import archive_root
from store.backend import is_postgres, shown
from store.db import SCHEMA_VERSION, TABLES, connect_read_only

HEARTBEAT_EVERY = 30  # seconds between writes by the running bot (the contract: at most 60)
HEARTBEAT_MAX_AGE = 120  # seconds: an older heartbeat fails the health check
HEARTBEAT_CLOCK_SKEW = 5  # seconds a heartbeat may seem to come from the future (clocks read apart)
TOKEN_HOWTO = (
    "set DISCORD_TOKEN in the environment or in the .env file; get it at "
    "https://discord.com/developers/applications -> your application -> Bot -> Reset Token"
)
TOKEN_PART = re.compile(r"^[A-Za-z0-9_-]+$")
OK, FAILED, NOTE = "ok", "failed", "note"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, FAILED, or NOTE (for information; does not fail the doctor)
    detail: str
    fix: str = ""


# The heartbeat


def heartbeat_path(settings: Settings) -> Path:
    """NEWSBOT_HEARTBEAT, else `heartbeat` in the database's folder (`heartbeat-0-1` for shards 0-1 of a
    range; `var/` for a PostgreSQL database)."""
    beside = Path("var") if is_postgres(settings.db) else Path(settings.db).parent
    # Processes each running a range of the shards on one machine get one file each.
    shards = settings.shards
    name = f"heartbeat-{shards.first}-{shards.last}" if isinstance(shards, ShardRange) else "heartbeat"
    return Path(os.environ.get("NEWSBOT_HEARTBEAT") or beside / name)


def write_heartbeat(path: str | Path, now: dt.datetime | None = None) -> None:
    """Record that the bot is connected: the UTC time, written atomically (write, then rename)."""
    path = Path(path)
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(moment.isoformat(timespec="seconds") + "\n", encoding="utf-8")
    os.replace(partial, path)


def clear_heartbeat(path: str | Path) -> None:
    """Remove the heartbeat (on a clean shutdown), so the health check does not wait for it to age."""
    Path(path).unlink(missing_ok=True)


def read_heartbeat(path: str | Path) -> dt.datetime | None:
    """The time in the heartbeat file, or None if there is none. Raises ValueError if unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    moment = dt.datetime.fromisoformat(text)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


class GatewayClient(Protocol):
    latency: float

    def is_ready(self) -> bool: ...

    def is_closed(self) -> bool: ...


async def keep_heartbeat(client: GatewayClient, path: str | Path, every: float = HEARTBEAT_EVERY) -> None:
    """Write the heartbeat every `every` seconds while `client` is connected, until it closes."""
    while not client.is_closed():
        if client.is_ready() and math.isfinite(client.latency):
            await asyncio.to_thread(write_heartbeat, path)
        await asyncio.sleep(every)


def check_heartbeat(path: Path, now: dt.datetime | None = None, required: bool = True) -> Check:
    """Recent heartbeat: ok. Missing or old: failed if `required`, else a note (the bot may be stopped)."""
    now = now or dt.datetime.now(dt.UTC)
    bad = FAILED if required else NOTE
    try:
        beat = read_heartbeat(path)
    except (OSError, ValueError) as error:
        return Check("heartbeat", FAILED, f"{path} cannot be read: {error}", "delete it; the running bot rewrites it")
    if beat is None:
        return Check(
            "heartbeat",
            bad,
            f"no heartbeat file at {path}: the bot is not running, or has not connected yet",
            "start the bot (python -m bot run); it writes this file while connected to Discord",
        )
    age = (now - beat).total_seconds()
    if age < -HEARTBEAT_CLOCK_SKEW:
        return Check(
            "heartbeat",
            FAILED,
            f"the heartbeat is dated {_duration(-age)} in the future (at {beat.isoformat(timespec='seconds')}): "
            "it was not written by the running bot, or this machine's clock is wrong",
            f"check the clock (timedatectl) and delete {path}; the running bot rewrites it",
        )
    if age > HEARTBEAT_MAX_AGE:
        return Check(
            "heartbeat",
            bad,
            f"last heartbeat {_duration(age)} ago (at {beat.isoformat(timespec='seconds')}), "
            f"more than {HEARTBEAT_MAX_AGE} s: the bot is stopped or not connected to Discord",
            "look at the bot's log; restart it",
        )
    return Check("heartbeat", OK, f"last heartbeat {max(age, 0):.0f} s ago: the bot is connected")


# The Discord token


def token_problem(token: str | None) -> tuple[str | None, int | None]:
    """(what is wrong with the token's shape, or None; the bot's user id it names, if any).

    A bot token is three base64url parts joined by dots; the first is the bot's user id.
    Only the shape is checked: whether Discord accepts it shows when the bot logs in.
    """
    if not token:
        return "DISCORD_TOKEN is not set", None
    if token != token.strip() or token[0] in "\"'" or token[-1] in "\"'":
        return "it has spaces or quotes around it: remove them", None
    if token.lower().startswith("bot "):
        return "it starts with 'Bot ': give the token alone", None
    parts = token.split(".")
    if len(parts) != 3:
        return (
            f"it has {len(parts)} dot-separated part{'s' * (len(parts) != 1)}, a bot token has 3 "
            "(the application id, public key and client secret are not the token)",
            None,
        )
    if not all(TOKEN_PART.match(part) for part in parts):
        return "it holds characters a bot token never has (only letters, digits, - and _ between the dots)", None
    try:
        first = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        first = ""
    if not first.isdigit():
        return "its first part is not a bot id: copy the whole token again", None
    return None, int(first)


def check_token(token: str | None) -> Check:
    problem, bot_id = token_problem(token)
    if problem:
        return Check("Discord token", FAILED, problem, TOKEN_HOWTO)
    return Check("Discord token", OK, f"has the shape of a bot token (for bot user {bot_id}; not checked with Discord)")


# The store


@dataclass
class StoreState:
    path: Path | str  # an SQLite file, or a PostgreSQL URL
    exists: bool = False
    error: str | None = None
    version: int = 0
    missing_tables: tuple[str, ...] = ()
    events: int = 0
    searchable: int = 0
    first_day: str | None = None
    last_day: str | None = None
    last_scanned: int | None = None
    last_archive: str | None = None
    last_run_at: str | None = None
    last_rejected: int = 0
    size: int = 0


def _read_totals(conn: Any, state: StoreState) -> None:
    """The events, the search index's size and the last run, on either backend's connection."""
    state.events, state.first_day, state.last_day = conn.execute(
        "SELECT count(*), min(date), max(date) FROM events"
    ).fetchone()
    state.searchable = conn.execute("SELECT count(*) FROM search_docs").fetchone()[0]
    run = conn.execute(
        "SELECT scanned, finished_at, rejected, archive FROM index_runs ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if run:
        state.last_scanned, state.last_run_at, state.last_rejected, state.last_archive = run


def inspect_store(path: Path | str, quick: bool = False) -> StoreState:
    """What is in the database at `path`, read-only. `quick` skips the counts (for --health)."""
    if is_postgres(path):
        return inspect_postgres(str(path), quick)
    path = Path(path)
    state = StoreState(path, exists=path.is_file())
    if not state.exists:
        return state
    state.size = path.stat().st_size
    try:
        conn = connect_read_only(path)
        try:
            state.version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            state.missing_tables = tuple(sorted(TABLES - tables))
            if "events" in tables:
                conn.execute("SELECT max(id) FROM events").fetchone()  # reads the table's b-tree
            if quick or state.missing_tables:
                return state
            _read_totals(conn, state)
        finally:
            conn.close()
    except sqlite3.Error as error:
        state.error = str(error)
    return state


def inspect_postgres(url: str, quick: bool = False) -> StoreState:
    """inspect_store for a PostgreSQL database: in a read-only transaction; nothing is created or upgraded."""
    import psycopg

    from store.postgres import CONNECT_TIMEOUT, schema_version

    state = StoreState(shown(url), exists=True)
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
            conn.execute("BEGIN READ ONLY")
            state.version = schema_version(conn)
            tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            state.missing_tables = tuple(sorted(TABLES - tables))
            state.size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            if quick or state.missing_tables:
                return state
            _read_totals(conn, state)
    except psycopg.OperationalError as error:
        state.exists = False
        state.error = " ".join(str(error).split())
    except psycopg.Error as error:
        state.error = " ".join(str(error).split())
    return state


def check_store(state: StoreState) -> list[Check]:
    path = state.path
    index_it = f"python -m bot index --archive DIR --db {path}"
    if not state.exists and state.error:  # PostgreSQL
        return [
            Check(
                "database",
                FAILED,
                f"cannot connect to {path}: {state.error}",
                "check the URL in NEWSBOT_DB, that PostgreSQL runs and that it lets this user in",
            )
        ]
    if not state.exists:
        return [Check("database", FAILED, f"no database at {path}", f"build it: {index_it}")]
    if state.error:
        return [
            Check(
                "database",
                FAILED,
                f"{path} cannot be read: {state.error}",
                "check NEWSBOT_DB points at the bot's SQLite file and that this user may read it; "
                "restore a backup if it is damaged",
            )
        ]
    if state.version > SCHEMA_VERSION:
        return [
            Check(
                "database",
                FAILED,
                f"{path} has schema version {state.version}, newer than this bot's {SCHEMA_VERSION}",
                "upgrade the bot, or point NEWSBOT_DB at another database file",
            )
        ]
    if 0 < state.version < SCHEMA_VERSION:
        return [
            Check(
                "database",
                FAILED,
                f"{path} has schema version {state.version}; this bot uses {SCHEMA_VERSION}",
                "it is upgraded when the bot or `python -m bot index` opens it "
                f"(a backup is made first, {path}.v{state.version}.bak)",
            )
        ]
    if state.missing_tables:
        return [
            Check(
                "database",
                FAILED,
                f"{path} lacks the tables {', '.join(state.missing_tables)}",
                f"create them: {index_it}",
            )
        ]
    kind = "PostgreSQL " if is_postgres(str(path)) else ""
    checks = [Check("database", OK, f"{kind}{path}: schema version {state.version}, {state.size / 1e6:.1f} MB")]
    if state.events == 0:
        checks.append(Check("events", FAILED, "the database holds no events", f"index the archive: {index_it}"))
    elif state.searchable != state.events:
        checks.append(
            Check(
                "events",
                FAILED,
                f"{state.events:,} events, but the search index covers {state.searchable:,}",
                f"rebuild it: {index_it}",
            )
        )
    else:
        last = f"; last index run {state.last_run_at}" if state.last_run_at else ""
        checks.append(Check("events", OK, f"{state.events:,} events, {state.first_day} to {state.last_day}{last}"))
    return checks


# The archive


def count_event_files(news: Path) -> int:
    """Event files below `news/` (index.md day pages left out), without a stat per file."""
    count = 0
    stack = [str(news)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.name.endswith(".md") and entry.name != "index.md":
                    count += 1
    return count


def check_archive(given: Path | None, state: StoreState | None = None) -> Check:
    """The archive an index run would read (see choose_archive), and whether it fits the store."""
    archive, chosen = choose_archive(given, state.last_archive if state else None)
    root = archive_root(archive)
    set_it = "set NEWSBOT_ARCHIVE (or --archive) to the folder that holds news/, or mount it there"
    if not root.is_dir():
        return Check("archive", FAILED, f"{archive} does not exist (or is not a folder)", set_it)
    if not (root / "news").is_dir():
        return Check("archive", FAILED, f"{root} has no news/ folder: is it the archive?", set_it)
    try:
        files = count_event_files(root / "news")
    except OSError as error:
        return Check("archive", FAILED, f"{root}/news cannot be read: {error}", "let this user read the archive")
    if files == 0:
        return Check("archive", FAILED, f"{root}/news holds no event files", set_it)
    detail = f"{files:,} event files in {root}" + ("" if chosen == "given" else f" ({chosen})")
    if state is None:
        return Check("archive", OK, detail)
    built_from = Path(state.last_archive).resolve() if state.last_archive else None
    if built_from is not None and built_from != root.resolve():
        return Check(
            "archive",
            FAILED,
            f"{detail}, but the store ({state.events:,} events) was built from {built_from}",
            f"point NEWSBOT_ARCHIVE at {built_from}, or unset it; an index run here would be refused",
        )
    if state.events and files * 2 < state.events:
        return Check(
            "archive",
            FAILED,
            f"{detail}, under half the store's {state.events:,} events: a failed mount, or the wrong folder?",
            "mount the archive there, or point NEWSBOT_ARCHIVE at it; an index run here would be refused",
        )
    if state.last_scanned is not None and state.last_scanned != files:
        detail += (
            f" (the last index run saw {state.last_scanned:,}: "
            "run `python -m bot index` or /reindex to bring the store up to date)"
        )
    return Check("archive", OK, detail)


# Time zones


def check_timezones() -> Check:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    fix = "install the tzdata package (pip install tzdata; it is one of newsbot's dependencies)"
    try:
        import tzdata  # noqa: F401  (the IANA database as a package, for systems without /usr/share/zoneinfo)
    except ImportError:
        return Check("time zones", FAILED, "the tzdata package is not installed", fix)
    try:
        berlin = ZoneInfo("Europe/Berlin")
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        return Check("time zones", FAILED, f"Europe/Berlin cannot be loaded: {error}", fix)
    summer = dt.datetime(2024, 7, 1, 12, tzinfo=berlin).utcoffset()
    if summer != dt.timedelta(hours=2):
        return Check("time zones", FAILED, f"Europe/Berlin has the wrong summer offset ({summer})", fix)
    return Check("time zones", OK, "time zone data present (Europe/Berlin loads)")


# The commands


def check_settings(settings: Settings) -> list[Check]:
    """The settings only `run` reads (the other commands work without them)."""
    fix = "correct it in the environment or the .env file, or remove it for the default"
    return [Check("setting", FAILED, f"{problem}; the bot will not start", fix) for problem in settings.problems]


def check_shards(settings: Settings) -> list[Check]:
    """NEWSBOT_SHARDS, and whether a range of shards (one process of several) has a database to share."""
    shards = settings.shards
    if not isinstance(shards, ShardRange):
        return []
    others = f"other processes must run the rest of the {shards.count} shards"
    if is_postgres(settings.db):
        return [Check("shards", OK, f"shards {shards} in this process; {others}, with the same NEWSBOT_DB")]
    return [
        Check(
            "shards",
            FAILED,
            f"shards {shards} in this process, but the store is the SQLite file {settings.db}, "
            "which processes on other machines cannot share",
            "set NEWSBOT_DB to a postgresql:// URL that every process uses, or NEWSBOT_SHARDS to auto",
        )
    ]


def doctor_checks(settings: Settings, now: dt.datetime | None = None) -> list[Check]:
    state = inspect_store(settings.db)
    return [
        check_token(settings.token),
        *check_settings(settings),
        *check_shards(settings),
        *check_store(state),
        check_archive(
            settings.archive, state if state.exists and not state.error and not state.missing_tables else None
        ),
        check_timezones(),
        check_heartbeat(heartbeat_path(settings), now, required=False),
    ]


def health_checks(settings: Settings, now: dt.datetime | None = None) -> list[Check]:
    state = inspect_store(settings.db, quick=True)
    store = check_store(state)[0]
    return [store, check_heartbeat(heartbeat_path(settings), now, required=True)]


def print_checks(checks: Iterable[Check], out: TextIO) -> None:
    for check in checks:
        out.write(f"{check.status:<7} {check.name}: {check.detail}\n")
        if check.fix and check.status != OK:
            out.write(f"{'':<7} what to do: {check.fix}\n")


def run_doctor(settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    checks = doctor_checks(settings)
    out.write("newsbot doctor\n")
    print_checks(checks, out)
    failed = [check for check in checks if check.status == FAILED]
    out.write(f"{len(failed)} of {len(checks)} checks failed.\n" if failed else "All checks passed.\n")
    return 1 if failed else 0


def run_health(settings: Settings, out: TextIO | None = None) -> int:
    """One line and an exit code, for Docker's HEALTHCHECK or a monitoring probe."""
    out = out or sys.stdout
    checks = health_checks(settings)
    failed = [check for check in checks if check.status != OK]
    if failed:
        out.write("unhealthy: " + "; ".join(f"{check.name}: {check.detail}" for check in failed) + "\n")
        return 1
    out.write("healthy: " + "; ".join(check.detail for check in checks) + "\n")
    return 0


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
