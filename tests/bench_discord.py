"""Slash-command benchmark over the fake Discord: `python -m tests.bench_discord`.

It indexes the shared archive (112,655 events) once into a cache folder ($NEWSBOT_CACHE, default
~/.cache/newsbot: the archive is unpacked to <cache>/current-events, as tests/bench_search.py does,
and indexed to <cache>/discord.sqlite3, which later runs reuse), starts the fake Discord and the
real bot, and sends slash commands the way Discord does: INTERACTION_CREATE over the gateway,
answered by a POST to the interaction's callback.

The commands are a deterministic mix of /events (words from headlines, some with a year range),
/on (days in several date forms, a few without events) and /event (by path or by the id that
autocomplete gives), sent `CONCURRENCY` at a time. For each it measures the time from the
dispatch of INTERACTION_CREATE to the callback's arrival at the fake, and counts failures: no
callback within the fake's 3 s interaction deadline, a callback the fake refused, or the bot's
"something went wrong" message.

By default the bot runs in its own process, as it does in production, where Discord's work is
done on Discord's machines; the fake then has the other core. With `--same-process` the fake and
the bot share one event loop, as in the tests, so the fake's own work (sending the gateway event,
answering REST calls) is inside the figures too. In its own process the fake's garbage
collector is paused while timing, so that its pauses (it keeps every payload) are not counted
as the bot's; the bot's collector runs as in production, and its full collections are printed.

It prints the figures; it is a benchmark, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import platform
import random
import re
import signal
import sqlite3
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import yarl
from aiohttp import web

from bot.config import Settings
from bot.discord.client import NewsBot, run_async
from store import Store
from store.ingest import index_archive
from tests.conftest import SHARED_ARCHIVE, SHARED_EVENTS, unpack_shared_archive
from tests.fake_discord import FakeDiscord

CACHE = Path(os.environ.get("NEWSBOT_CACHE") or Path.home() / ".cache" / "newsbot")
COMMANDS = 600
WARM_UP = 20
CONCURRENCY = 20
SEED = 20160403
DEADLINE = 3.0  # the fake's interaction deadline, as Discord's
TARGET_P95_MS = 50.0
WENT_WRONG = "Something went wrong"
FORMS = ("{d:%Y-%m-%d}", "{d.year}-{d:%m}-{d.day}", "{d.day} {d:%B %Y}", "{d:%B} {d.day}, {d.year}")
WORD = re.compile(r"[a-z]{4,}")
COMMON = {"with", "from", "that", "this", "have", "been", "were", "their", "after", "over", "into", "says", "said"}


class TimedFake(FakeDiscord):
    """The fake Discord, noting when each interaction's callback arrives."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.arrived: dict[int, float] = {}
        self._answered: dict[int, asyncio.Future[None]] = {}

    def answered(self, interaction_id: int) -> asyncio.Future[None]:
        """Done once the interaction's first callback was handled (cheaper than polling the records)."""
        return self._answered.setdefault(interaction_id, asyncio.get_running_loop().create_future())

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        interaction_id = int(request.match_info["interaction_id"])
        self.arrived.setdefault(interaction_id, asyncio.get_running_loop().time())
        try:
            return await super()._interaction_callback(request)
        finally:
            if not self.answered(interaction_id).done():
                self.answered(interaction_id).set_result(None)


class Collections:
    """Pauses of the garbage collector's full (generation 2) collections while it is on."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self.on = False
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        elif self.on and info["generation"] == 2:
            self.pauses.append((time.perf_counter() - self._start) * 1000)


@dataclass
class Outcome:
    command: str
    latency_ms: float | None  # None: no callback
    kind: str  # list, detail, refusal, error, none


def cached_index() -> Path:
    """The shared archive indexed into the cache; reused when it holds the whole archive."""
    CACHE.mkdir(parents=True, exist_ok=True)
    archive_dir, db = CACHE / "current-events", CACHE / "discord.sqlite3"
    if db.exists() and event_count(db) == SHARED_EVENTS:
        print(f"Reusing the index {db}", file=sys.stderr)
        return db
    print(f"Unpacking {SHARED_ARCHIVE} into {archive_dir} (once)...", file=sys.stderr)
    unpack_shared_archive(archive_dir)
    print(f"Indexing into {db}...", file=sys.stderr)
    report = index_archive(db, archive_dir)
    print(f"Indexed {report.events} events in {report.seconds:.1f} s", file=sys.stderr)
    return db


def event_count(db: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.Error:
        return -1


def workload(db: Path, count: int, seed: int = SEED) -> list[tuple[str, dict[str, str]]]:
    """A deterministic mix: 40% /events, 30% /on, 30% /event."""
    rng = random.Random(seed)
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT id, path, date, headline FROM events ORDER BY id").fetchall()
    picked = rng.sample(rows, count)
    commands: list[tuple[str, dict[str, str]]] = []
    for n, (row_id, path, day, headline) in enumerate(picked):
        kind = n % 10
        if kind < 4:
            words = [w for w in WORD.findall(headline.lower()) if w not in COMMON] or ["syria"]
            query = " ".join(rng.sample(words, min(len(words), rng.choice((1, 2, 2, 3)))))
            options = {"query": query}
            if kind == 3:
                year = int(day[:4])
                options |= {"from": str(year - 1), "to": str(year + 1)}
            commands.append(("events", options))
        elif kind < 7:
            date = dt.date.fromisoformat(day)
            if kind == 6 and n % 20 == 6:  # a day before the archive: nearest days instead
                date = date.replace(year=1990)
            commands.append(("on", {"date": rng.choice(FORMS).format(d=date)}))
        else:
            commands.append(("event", {"event": str(row_id) if kind == 9 else path}))
    return commands


async def run_one(fake: TimedFake, command: str, options: dict[str, str]) -> Outcome:
    record = await fake.slash(command, options)
    try:
        await asyncio.wait_for(fake.answered(record.id), DEADLINE + 2)
    except TimeoutError:
        return Outcome(command, None, "none")
    if not record.callbacks:  # refused by the fake (too late, or already answered)
        return Outcome(command, None, "error")
    callback = record.callbacks[0]
    latency = (fake.arrived[record.id] - record.created_at) * 1000
    data = callback.get("data") or {}
    content = data.get("content") or ""
    if WENT_WRONG in content or latency > DEADLINE * 1000:
        kind = "error"
    elif data.get("flags", 0) & 64:
        kind = "refusal"
    elif len(data.get("embeds") or []) == 1 and command == "event":
        kind = "detail"
    else:
        kind = "list"
    return Outcome(command, latency, kind)


async def run_batches(
    fake: TimedFake, commands: list[tuple[str, dict[str, str]]], concurrency: int = CONCURRENCY
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for start in range(0, len(commands), concurrency):
        batch = commands[start : start + concurrency]
        outcomes += await asyncio.gather(*(run_one(fake, command, options) for command, options in batch))
    return outcomes


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def pauses(durations: list[float]) -> str:
    return f"{len(durations)} ({sum(durations):.0f} ms in all, longest {max(durations, default=0):.0f} ms)"


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    return f"{os.cpu_count()} cores{f' ({model})' if model else ''}, Python {platform.python_version()}"


async def bench(db: Path, count: int, concurrency: int = CONCURRENCY, same_process: bool = False) -> int:
    commands = workload(db, WARM_UP + count)
    started = time.perf_counter()
    settings = Settings(archive=CACHE / "current-events", db=db, archive_url=None, token=None)
    # Checking each body against Discord's specification is the tests' job (the suite's fake is strict):
    # here its milliseconds would be counted as the bot's, before the callback is noted as arrived.
    async with TimedFake(interaction_deadline=DEADLINE, strict=False) as fake:
        if same_process:
            store = await Store.open(db)
            opened = time.perf_counter() - started
            try:
                async with fake.running(NewsBot(store, settings, guild_ready_timeout=0.05)):
                    wall, cpu, collections, outcomes = await timed_run(fake, commands, concurrency, False)
                bot_cpu, bot_pauses = cpu, collections.pauses
            finally:
                await store.close()
        else:
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                *os.environ.get("NEWSBOT_BENCH_BOT_PYTHON_ARGS", "").split(),
                "-m",
                "tests.bench_discord",
                "--serve-bot",
                fake.rest_url,
                fake.gateway_url,
                fake.token,
                str(db),
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                await fake.wait_ready(timeout=120)
                opened = time.perf_counter() - started
                bot_cpu = process_cpu(child.pid)
                wall, cpu, collections, outcomes = await timed_run(fake, commands, concurrency, True)
                bot_cpu = process_cpu(child.pid) - bot_cpu
            finally:
                child.terminate()
                reported = (await child.communicate())[0].decode().strip().splitlines()
            bot_pauses = json.loads(reported[-1]) if reported else []
        unhandled = list(fake.unhandled)
    where = "the fake and the bot in one process" if same_process else "the bot in its own process"
    times = [o.latency_ms for o in outcomes if o.latency_ms is not None and o.kind != "error"]
    failures = [o for o in outcomes if o.kind in ("none", "error")]
    kinds = Counter(o.kind for o in outcomes)
    print(f"Discord round trip over the shared archive ({event_count(db):,} events), {machine()}")
    print(f"{where}; ready in {opened:.2f} s; {len(outcomes)} slash commands after {WARM_UP} warm-up,", end=" ")
    print(f"{concurrency} at a time")
    print(f"answers: {dict(kinds)}; wall time {wall:.1f} s ({len(outcomes) / wall:.0f} commands/s)")
    print(
        f"CPU per command: the bot {bot_cpu * 1000 / len(outcomes):.1f} ms"
        + (" with the fake" if same_process else f", the fake {cpu * 1000 / len(outcomes):.1f} ms")
        + f"; load average"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"full garbage collections of the bot: {pauses(bot_pauses)}", end="")
    print("" if same_process else " (the fake's collector is paused while timing)")
    print()
    print("| command | count | median ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for name in ("events", "on", "event", "all"):
        chosen = [o.latency_ms for o in outcomes if o.latency_ms is not None and name in (o.command, "all")]
        if chosen:
            print(
                f"| {'/' + name if name != 'all' else 'all'} | {len(chosen)} | {statistics.median(chosen):.1f}"
                f" | {percentile(chosen, 0.95):.1f} | {max(chosen):.1f} |"
            )
    print()
    p95 = percentile(times, 0.95) if times else float("inf")
    print(f"median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms (target < {TARGET_P95_MS:.0f} ms)")
    print(f"failures: {len(failures)} (no callback: {kinds['none']}, error: {kinds['error']});", end=" ")
    print(f"unhandled routes: {unhandled}")
    return 0


async def timed_run(
    fake: TimedFake, commands: list[tuple[str, dict[str, str]]], concurrency: int, pause_collector: bool
) -> tuple[float, float, Collections, list[Outcome]]:
    """Warm up, then time the rest: (wall s, CPU s of this process, GC pauses, outcomes).

    With `pause_collector`, this process's garbage collector is off while timing: the fake
    keeps every payload, and a full collection of them would be counted as the bot's latency.
    """
    await run_batches(fake, commands[:WARM_UP], concurrency)
    collections = Collections()
    gc.callbacks.append(collections)
    collections.on = True
    if pause_collector:
        gc.disable()
    began, cpu = time.perf_counter(), time.process_time()
    try:
        outcomes = await run_batches(fake, commands[WARM_UP:], concurrency)
    finally:
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        gc.enable()
        collections.on = False
        gc.callbacks.remove(collections)
    await asyncio.sleep(0.2)  # let the bot finish its last replies
    return wall, cpu, collections, outcomes


async def serve_bot(rest_url: str, gateway_url: str, token: str, db: Path) -> int:
    """The bot's side of the benchmark, in its own process, pointed at the parent's fake.

    On SIGTERM it closes, and writes the pauses of its own full collections to stdout as JSON."""
    discord.http.Route.BASE = rest_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    settings = Settings(archive=CACHE / "current-events", db=db, archive_url=None, token=token)
    collections = Collections()
    gc.callbacks.append(collections)
    async with await Store.open(db) as store, NewsBot(store, settings, guild_ready_timeout=0.05) as newsbot:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(newsbot.close()))
        await newsbot.login(token)
        collections.on = True
        await newsbot.connect(reconnect=False)
    print(json.dumps(collections.pauses), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=COMMANDS, help=f"commands to time (default {COMMANDS})")
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help=f"commands in flight at once (default {CONCURRENCY})"
    )
    parser.add_argument("--same-process", action="store_true", help="run the bot in this process, beside the fake")
    parser.add_argument("--serve-bot", nargs=4, metavar=("REST", "GATEWAY", "TOKEN", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bot:
        rest, gateway, token, db = args.serve_bot
        return run_async(serve_bot(rest, gateway, token, Path(db)))
    return asyncio.run(bench(cached_index(), args.commands, args.concurrency, args.same_process))


if __name__ == "__main__":
    sys.exit(main())
