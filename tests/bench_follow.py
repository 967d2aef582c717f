"""Follow benchmark (`make bench-follow`): 25 follows on one server, then an index run in another
process (as `python -m bot index` from cron) that adds 1,000 events to the shared archive.

It measures, through the fake Discord with the bot in the same process (as in the tests):
- the index run itself, from start to its process's exit;
- the time from the end of the run to the bot's switch to the new index, to its first follow post
  and to its last one;
- the slash commands meanwhile: /events is sent 4 at a time without pause from the start of the
  run until the last post, and the time from INTERACTION_CREATE to the callback is measured;
  the p95 is given for the commands sent between the end of the run and the last post.

The store is a copy of the shared archive's index from `make bench-discord`'s cache ($NEWSBOT_CACHE,
default ~/.cache/newsbot; built once if missing); the archive is a copy made of hard links in
<cache>/bench-follow, to which the 1,000 new event files are added (new paths, the dates of
December 2026, headlines and topics of existing events) and from which they are removed after the run.

It prints the figures; it is a benchmark, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

from aiohttp import web

from bot import follows
from bot.config import Settings
from bot.discord.client import NewsBot
from store import Store
from tests.bench_discord import CACHE, TimedFake, cached_index, percentile, run_one, workload

NEW_EVENTS = 1000
FOLLOWS = 25
CONCURRENCY = 4
QUERIES = [
    ("syria", None, None),
    ("ukraine", None, None),
    ("earthquake", None, None),
    ("election", None, "local"),
    ("iraq", None, None),
    ("afghanistan", None, None),
    ("israel", None, None),
    ("russia", None, None),
    ("china", None, None),
    ("killed", None, "syria iraq"),
    ("president", None, None),
    ("police", None, None),
    ("court", None, None),
    ("protest", None, None),
    ("attack", None, None),
    ("minister", None, None),
    ("united states", None, None),
    ("iran", None, None),
    ("bomb", None, None),
    ("flood", None, None),
    (None, "Syrian civil war", None),
    (None, "Russian invasion of Ukraine", None),
    ("india", None, None),
    ("government", None, "election"),
    ("military", None, None),
]


class PostingFake(TimedFake):
    """The timed fake, noting when each channel message arrives."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self.posted_at: list[float] = []

    async def _post_channel_message(self, request: web.Request) -> web.Response:
        response = await super()._post_channel_message(request)
        self.posted_at.append(asyncio.get_running_loop().time())
        return response


def linked_archive(source: Path, target: Path) -> Path:
    """A copy of the archive made of hard links (seconds, no space), made once."""
    if not (target / "news").is_dir():
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial, copy_function=os.link)
        partial.rename(target)
    return target


def add_events(archive: Path, db: Path, count: int) -> list[Path]:
    """`count` new event files: existing events' text under new paths dated December 2026."""
    rng = random.Random(16)
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        paths = [row[0] for row in conn.execute("SELECT path FROM events ORDER BY id")]
    written = []
    for n, path in enumerate(rng.sample(paths, count)):
        day = 1 + n % 28
        text = (archive / path).read_text(encoding="utf-8").split("\n", 1)[1]
        target = archive / f"news/2026/12/{day}/bench-follow-{n:04d}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"### [2026-12-{day}](/news/2026/12/{day}/index.md)\n{text}", encoding="utf-8")
        written.append(target)
    return written


async def load(fake: TimedFake, commands: list[tuple[str, dict[str, str]]], done: asyncio.Event) -> list:
    """/events without pause, CONCURRENCY at a time, until `done`: (sent at, latency ms or None)."""
    results: list[tuple[float, float | None]] = []
    queue = itertools.cycle(commands)

    async def worker() -> None:
        while not done.is_set():
            command, options = next(queue)
            sent = asyncio.get_running_loop().time()
            outcome = await run_one(fake, command, options)
            results.append((sent, outcome.latency_ms))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return results


async def bench(db: Path, archive: Path) -> None:
    async with PostingFake(interaction_deadline=None) as fake:
        channels = [fake.add_channel(f"follow-{n}") for n in range(FOLLOWS)]
        settings = Settings(archive=archive, db=db, archive_url=None, token=None)
        async with await Store.open(db) as store:
            bot = NewsBot(store, settings, guild_ready_timeout=0.05)
            async with fake.running(bot):
                for channel, (query, topic, exclude) in zip(channels, QUERIES, strict=True):
                    filters = {"query": query, "topic": topic, "exclude": exclude}
                    options = {"channel": channel, **{key: value for key, value in filters.items() if value}}
                    reply = await (await fake.slash("follow add", options, user=fake.admin)).final(timeout=30)
                    assert reply["content"].startswith("Follow #"), reply["content"]
                commands = [c for c in workload(db, 400) if c[0] == "events"]
                poster = bot.get_cog("Follow").poster
                before = store.generation
                done = asyncio.Event()
                loop = asyncio.get_running_loop()
                load_task = asyncio.create_task(load(fake, commands, done))
                started = loop.time()
                index = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "index",
                    "--archive",
                    str(archive),
                    "--db",
                    str(db),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
                output, _ = await index.communicate()
                ended = loop.time()
                print(output.decode().splitlines()[0])
                while store.generation == before:
                    await asyncio.sleep(0.01)
                switched = loop.time()
                while poster.handled_generation != store.generation or poster.lock.locked():
                    await asyncio.sleep(0.01)
                finished = loop.time()
                done.set()
                results = await load_task
        posts = [t for t in fake.posted_at if t >= ended]
        rows = await asyncio.to_thread(_follow_rows, db)
    during = [ms for sent, ms in results if ended <= sent <= (max(posts) if posts else finished) and ms is not None]
    everything = [ms for _, ms in results if ms is not None]
    failed = sum(1 for _, ms in results if ms is None)
    print(f"index run (another process): {ended - started:.1f} s, adding {NEW_EVENTS:,} events")
    print(f"end of the run -> the bot switched to the new index: {switched - ended:.2f} s")
    if posts:
        print(f"end of the run -> first post: {min(posts) - ended:.2f} s; -> last post: {max(posts) - ended:.2f} s")
    print(f"pass over {FOLLOWS} follows (match, claim, send): {finished - switched:.2f} s; {len(posts)} posts")
    print(f"events posted (incl. 'and N more'): {rows}")
    if during:
        print(
            f"/events while posting (end of run to last post): n={len(during)}, median "
            f"{statistics.median(during):.1f} ms, p95 {percentile(during, 0.95):.1f} ms, max {max(during):.1f} ms"
        )
    print(
        f"/events over the whole run: n={len(everything)}, median {statistics.median(everything):.1f} ms, "
        f"p95 {percentile(everything, 0.95):.1f} ms; no callback: {failed}"
    )


def _follow_rows(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT count(*) FROM follow_posts WHERE sent_at IS NOT NULL").fetchone()[0]


def main() -> None:
    base = cached_index()
    work = CACHE / "bench-follow"
    work.mkdir(parents=True, exist_ok=True)
    archive = linked_archive(CACHE / "current-events", work / "archive")
    db = work / "run.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, db)
    follows.CHECK_EVERY = 2.0
    added = add_events(archive, db, NEW_EVENTS)
    try:
        asyncio.run(bench(db, archive))
    finally:
        for path in added:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
