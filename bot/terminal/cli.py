"""The command line: `python -m bot index|search|on|show|ask|topic|trend|follow-check|console|run|doctor|...`."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from bot.answers import Answer, EventList, Refusal, TrendAnswer
from bot.config import Settings, choose_archive
from bot.handlers import ask, day_events, load_all, search_events, show_event, topic_timeline
from bot.naming import CLI
from bot.terminal.render_text import answer_json, render_text, search_json
from store import Store, StoreError
from store.backend import is_postgres, shown

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
EXIT_REFUSED = 3  # the index run would remove much of the store: confirm with --allow-shrink
EXIT_BUSY = 4  # another index run holds the store
MAX_LIMIT = 1000
DB_HELP = "SQLite file, or postgresql:// URL (default: $NEWSBOT_DB, else var/newsbot.sqlite3)"


def version() -> str:
    import importlib.metadata  # here: reading the package's metadata costs every other command ~10 ms

    try:
        return importlib.metadata.version("newsbot")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


class VersionAction(argparse.Action):
    """--version: prints the version, looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"newsbot {version()}")
        parser.exit()


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def limit_value(text: str) -> int:
    """--limit: a whole number from 1 to MAX_LIMIT."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 1 <= number <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{text} is not between 1 and {MAX_LIMIT}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="A Discord bot for a news archive.")
    parser.add_argument("--version", action=VersionAction)
    parser.add_argument("--db", help=DB_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        # SUPPRESS: a --db given before the command (python -m bot --db FILE search ...) is kept.
        sub.add_argument("--db", default=argparse.SUPPRESS, help=DB_HELP)
        return sub

    index = command("index", "index the archive into the store (only what changed)")
    index.add_argument(
        "--archive",
        help="archive folder holding news/ (default: $NEWSBOT_ARCHIVE, else the folder the store was built from, "
        "else the bundled sample)",
    )
    index.add_argument(
        "--allow-shrink",
        action="store_true",
        help="let the run remove more than 10%% of the store, or switch to another archive folder that lacks events",
    )

    search = command("search", "search events by words ('-' reads one query a line, writes JSON Lines)")
    search.add_argument("query", nargs="+", help="words to search for, or - for queries on stdin")
    search.add_argument("--limit", type=limit_value, default=10, help=f"how many events, 1-{MAX_LIMIT} (default 10)")
    search.add_argument("--from", dest="since", metavar="DATE", help="only events on or after DATE (or a year)")
    search.add_argument("--to", dest="until", metavar="DATE", help="only events on or before DATE (or a year)")
    search.add_argument("--year", help="only events of this year (instead of --from and --to)")
    search.add_argument("--topic", help="only events of this topic (spelling need not be exact)")
    search.add_argument(
        "--exact", action="store_true", help="the words as typed only: no other spellings, typos or word forms"
    )
    search.add_argument("--json", action="store_true", help="print JSON: an array of events")
    search.add_argument(
        "--json-object",
        action="store_true",
        help='print JSON: {"query", "showing_results_for", "search_instead_for", "note", "events"}',
    )

    on = command("on", "every event of one day")
    on.add_argument(
        "date", nargs="+", help="2016-04-03, '3 April 2016', 3/4/2016 (day first), yesterday, 'last Friday'"
    )
    on.add_argument("--json", action="store_true", help="print JSON")

    show = command("show", "one event in full")
    show.add_argument("path", help="the event's path, news/YYYY/MM/D/<slug>.md")
    show.add_argument("--json", action="store_true", help="print JSON")

    ask = command("ask", "answer a plain question from the archive")
    ask.add_argument("question", nargs="+", help='e.g. "when did the Syrian army retake al-Qaryatayn?"')
    ask.add_argument("--json", action="store_true", help="print JSON: answer, date, confidence, events")

    topic = command("topic", "a timeline of one topic, e.g. 'Syrian Civil War'")
    topic.add_argument("name", nargs="+", help="the topic (spelling need not be exact)")
    topic.add_argument("--newest", action="store_true", help="newest first (default: oldest first)")
    topic.add_argument("--from", dest="since", metavar="DATE", help="only events on or after DATE (or a year)")
    topic.add_argument("--to", dest="until", metavar="DATE", help="only events on or before DATE (or a year)")
    topic.add_argument("--json", action="store_true", help="print JSON")

    trend = command("trend", "how many events match each search per month (or year, or day), as a chart")
    trend.add_argument("words", nargs="+", help='searches separated by commas, e.g. "ukraine, syria"')
    trend.add_argument("--from", dest="since", metavar="DATE", help="from DATE or year (default: the archive's first)")
    trend.add_argument("--to", dest="until", metavar="DATE", help="to DATE or year (default: the archive's last)")
    trend.add_argument("--out", metavar="FILE.png", help="write the chart to this PNG file")
    trend.add_argument("--json", action="store_true", help="print the counts as JSON")

    follow_check = command("follow-check", "which events a follow with these filters would post (a dry run)")
    follow_check.add_argument("--query", help="words every event must have, as in search (at most 200 characters)")
    follow_check.add_argument("--topic", help="a topic every event must have (spelling need not be exact)")
    follow_check.add_argument("--exclude", help="leave out events with any of these words")
    follow_check.add_argument(
        "--since", metavar="DATE", help="events dated from DATE or a year (default: the archive's last 30 days)"
    )
    follow_check.add_argument("--json", action="store_true", help="print JSON")

    command("console", "the bot's commands at a text prompt, without Discord")
    command("run", "connect to Discord and answer slash commands (token from $DISCORD_TOKEN or .env)")
    sync = command("sync", "send the slash commands to Discord now (otherwise done at start when they changed)")
    sync.add_argument("--guild", type=int, help="sync to this one server only (instant; for testing)")

    doctor = command("doctor", "check the token, database, archive and time zones; say what to fix")
    doctor.add_argument("--archive", help="archive folder holding news/ (default: $NEWSBOT_ARCHIVE, else the sample)")
    doctor.add_argument(
        "--health", action="store_true", help="only the store and the running bot's heartbeat: one line, exit code"
    )
    backup = command("backup", "copy the store to FILE, consistently, even while the bot runs")
    backup.add_argument("file", metavar="FILE", help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    restore = command("restore", "replace the store with a backup, keeping a copy of the current one; bot stopped")
    restore.add_argument("file", metavar="BACKUP", help="a copy made by `python -m bot backup`")
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # text the terminal's encoding cannot show is escaped, not a crash
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    for arg in sys.argv[1:] if argv is None else argv:
        if not is_utf8(arg):  # bytes the shell passed that are not UTF-8 (Python keeps them as surrogates)
            parser.error(f"{arg!a} is not UTF-8 text; type it again, or check the terminal's encoding")
    args = parser.parse_args(argv)
    if args.command == "search" and args.year and (args.since or args.until):
        parser.error("search: give --year, or --from and --to, not both (--year 2016 is --from 2016 --to 2016)")
    settings = Settings.load(archive=getattr(args, "archive", None), db=args.db)
    try:
        if args.command == "index":
            return run_index(settings, args.allow_shrink)
        if args.command == "doctor":
            from bot.doctor import run_doctor, run_health

            return run_health(settings) if args.health else run_doctor(settings)
        if args.command == "backup":
            return run_backup(settings, Path(args.file), args.force)
        if args.command == "restore":
            return run_restore(settings, Path(args.file))
        if args.command in ("run", "sync"):
            return run_discord(settings, args)
        if args.command == "console":
            from bot.terminal.console import run_console

            return run_console(settings.db, sys.stdin, sys.stdout) if has_store(settings) else EXIT_PROBLEM
        if args.command == "search" and args.query == ["-"]:
            batch = lambda store: search_lines(store, args, sys.stdin.buffer, sys.stdout)  # noqa: E731
            return asyncio.run(with_store(settings, batch))
        if args.command == "follow-check":
            return asyncio.run(with_store(settings, lambda store: run_follow_check(store, args)))
        if args.command == "trend":
            return asyncio.run(with_store(settings, lambda store: run_trend(store, args)))
        return asyncio.run(with_store(settings, lambda store: answer_command(store, args)))
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_PROBLEM


def run_discord(settings: Settings, args: argparse.Namespace) -> int:
    """`run` and `sync`: the settings and the token's shape are checked before anything connects."""
    from bot.doctor import token_problem

    if args.command == "run" and settings.problems:
        for problem in settings.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    problem, _ = token_problem(settings.token)
    if settings.token and problem:
        print(
            f"error: DISCORD_TOKEN is not a bot token: {problem}. Copy it again from "
            "https://discord.com/developers/applications (your application, Bot, Reset Token); "
            "python -m bot doctor checks it.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from bot.discord.client import run_async, run_bot, sync_only

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_async(run_bot(settings) if args.command == "run" else sync_only(settings, args.guild))


def has_store(settings: Settings) -> bool:
    """True if the store's file exists (or it is a PostgreSQL database); else says how to build it."""
    if is_postgres(settings.db) or Path(settings.db).exists():
        return True
    print(
        f"No index at {settings.db}. Build it first: python -m bot index --archive DIR --db {settings.db} "
        "(or make demo, for the bundled sample archive)",
        file=sys.stderr,
    )
    return False


async def with_store(settings: Settings, job: Callable[[Store], Awaitable[int]]) -> int:
    if not has_store(settings):
        return EXIT_PROBLEM
    async with await Store.open(settings.db) as store:
        return await job(store)


async def answer_command(store: Store, args: argparse.Namespace) -> int:
    answer = await command_answer(store, args, " ".join(args.query) if args.command == "search" else None)
    if isinstance(answer, EventList):
        await load_all(store, answer)
    if getattr(args, "json_object", False):
        print(json.dumps(search_json(answer), ensure_ascii=False))
    elif args.json:
        if isinstance(answer, EventList) and answer.showing:  # the array stays as it was; people see the reading
            print(f"note: {answer.note}", file=sys.stderr)
        print(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        print(render_text(answer))
    return EXIT_PROBLEM if isinstance(answer, Refusal) else EXIT_OK


def search_bounds(args: argparse.Namespace) -> tuple[str | None, str | None]:
    return (args.year, args.year) if args.year else (args.since, args.until)


async def command_answer(store: Store, args: argparse.Namespace, query: str | None) -> Answer:
    if args.command == "search":
        since, until = search_bounds(args)
        return await search_events(
            store, query or "", since, until, limit=args.limit, naming=CLI, exact=args.exact, topic=args.topic
        )
    if args.command == "on":
        return await day_events(store, " ".join(args.date), naming=CLI)
    if args.command == "ask":
        return await ask(store, " ".join(args.question), naming=CLI)
    if args.command == "topic":
        return await topic_timeline(store, " ".join(args.name), args.newest, CLI, args.since, args.until)
    return await show_event(store, args.path, naming=CLI)


async def run_trend(store: Store, args: argparse.Namespace) -> int:
    """`trend`: print the counts (text or JSON) and, with --out, write the chart."""
    from bot.handlers import trend

    answer = await trend(store, " ".join(args.words), args.since, args.until)
    if isinstance(answer, TrendAnswer) and args.out:
        from bot.charts import draw

        try:
            Path(args.out).write_bytes(draw(answer))
        except OSError as error:
            answer = Refusal(f"Cannot write {args.out}: {error.strerror}. Choose another --out file.")
    print(json.dumps(answer_json(answer), ensure_ascii=False) if args.json else render_text(answer))
    if isinstance(answer, TrendAnswer) and args.out and not args.json:
        print(f"\nChart written to {args.out}.")
    return EXIT_PROBLEM if isinstance(answer, Refusal) else EXIT_OK


async def run_follow_check(store: Store, args: argparse.Namespace) -> int:
    """`follow-check`: the events a follow with these filters would post, as search prints them."""
    from bot.handlers import follow_check

    answer = await follow_check(store, args.query, args.topic, args.exclude, args.since)
    print(json.dumps(answer_json(answer), ensure_ascii=False) if args.json else render_text(answer))
    return EXIT_PROBLEM if isinstance(answer, Refusal) else EXIT_OK


async def search_lines(store: Store, args: argparse.Namespace, lines: BinaryIO, out: TextIO) -> int:
    """Answer one query per input line with one JSON line: the array of events (`[]`: no match),
    or `{"error": ...}` for a line that cannot be searched. Bad options stop before any line is read."""
    from bot.handlers import read_bound
    from corpus import DateError

    since, until = search_bounds(args)
    try:
        read_bound(since), read_bound(until, end=True)
    except DateError as error:
        print(f"error: {error} A year such as 2016 works too.", file=sys.stderr)
        return EXIT_USAGE
    failed = 0
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            result = {"error": f"line {number} is not UTF-8 text; it was skipped."}
        else:
            await store.refresh()  # a new index committed meanwhile (at most one look a second)
            answer = await command_answer(store, args, line)
            if isinstance(answer, EventList):
                await load_all(store, answer)
            if args.json_object:
                result = search_json(answer)
            else:
                result = [] if isinstance(answer, Refusal) and answer.empty else answer_json(answer)
        failed += isinstance(result, dict) and "error" in result
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return EXIT_PROBLEM if failed else EXIT_OK


def run_index(settings: Settings, allow_shrink: bool = False) -> int:
    from store.db import check_file
    from store.ingest import IndexBusy, ShrinkRefused, index_archive, remembered_archive

    if not is_postgres(settings.db):
        check_file(settings.db)  # before anything opens it (a StoreError is printed by main)
    archive, chosen = choose_archive(settings.archive, remembered_archive(settings.db))
    how = "" if chosen == "given" else f" ({chosen})"
    print(f"Indexing {archive}{how} into {shown(settings.db)}", file=sys.stderr)
    try:
        with stopped_by_signals():
            report = index_archive(settings.db, archive, "cli", progress_printer(sys.stderr), allow_shrink)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ShrinkRefused as error:
        print(f"error: {error} If that is what you want, run again with --allow-shrink.", file=sys.stderr)
        return EXIT_REFUSED
    except IndexBusy as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BUSY
    except Stopped as stop:
        print(f"\nStopped ({stop}): nothing was changed; the previous index is intact.", file=sys.stderr)
        return 128 + stop.signal
    if report.moved_from:
        print(f"The archive folder was {report.moved_from}; the store now follows {report.archive}.")
    print(
        f"{report.scanned} files scanned in {report.seconds:.1f} s: {len(report.added)} added, "
        f"{len(report.updated)} updated, {len(report.removed)} removed, {len(report.rejected)} rejected; "
        f"{report.events} events in the store."
    )
    for title, paths in (("added", report.added), ("updated", report.updated), ("removed", report.removed)):
        for path in paths[:10]:
            print(f"  {title}: {path}")
        if len(paths) > 10:
            print(f"  ... and {len(paths) - 10} more {title}")
    for problem in report.rejected:
        print(f"  rejected: {problem}")
    for problem in report.warnings[:20]:
        print(f"  warning: {problem}")
    if len(report.warnings) > 20:
        print(f"  ... and {len(report.warnings) - 20} more warnings")
    return EXIT_PROBLEM if report.rejected else EXIT_OK


class Stopped(Exception):
    """Ctrl-C or SIGTERM during an index run: raised where the run is, so its transaction rolls back."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal = signal_number


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into Stopped for the length of the block (main thread only)."""

    def stop(number: int, _frame: object) -> None:
        raise Stopped(number)

    before = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def run_restore(settings: Settings, backup: Path) -> int:
    from bot.doctor import check_heartbeat, heartbeat_path
    from store.backup import restore_store

    if check_heartbeat(heartbeat_path(settings), required=False).status == "ok":
        print(
            "error: the bot is running on this store (its heartbeat is fresh): stop it first, then restore",
            file=sys.stderr,
        )
        return EXIT_PROBLEM
    done = restore_store(backup, settings.db)  # a StoreError is printed by main
    kept = f"; the replaced store is kept as {done.kept}" if done.kept else ""
    print(f"Restored {settings.db} from {backup}: {done.events:,} events{kept}.")
    return EXIT_OK


def run_backup(settings: Settings, target: Path, force: bool) -> int:
    from store.backup import backup_store

    copy = backup_store(settings.db, target, force)  # a StoreError is printed by main
    print(
        f"Copied {settings.db} to {copy.path}: {copy.events:,} events, {copy.bytes / 1e6:.1f} MB, "
        f"schema version {copy.schema_version}, checked, in {copy.seconds:.1f} s."
    )
    return EXIT_OK


def progress_printer(stream: TextIO) -> Callable[[int, int], None]:
    """A progress bar on a terminal; a plain line every 10% otherwise."""
    tty = stream.isatty()
    started = time.monotonic()
    last_tenth = -1

    def show(done: int, total: int) -> None:
        nonlocal last_tenth
        if total == 0:
            return
        if tty:
            filled = 30 * done // total
            stream.write(
                f"\r  [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} files {time.monotonic() - started:5.1f} s"
            )
            if done == total:
                stream.write("\n")
        elif 10 * done // total != last_tenth:
            last_tenth = 10 * done // total
            stream.write(f"  read {done}/{total} files\n")
        stream.flush()

    return show
