"""Background work: the daily "on this day" post and the re-index run, without discord.py.

The daily post is sent through a `send` callable the cog provides, and the time comes in as
an argument, so tests drive `DailyPoster.tick` with a fake Discord and instants of their choice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.answers import IndexProgress
from bot.config import choose_archive
from store import Store
from store.guilds import DailySettings, Guilds

if TYPE_CHECKING:
    from store import IndexReport

log = logging.getLogger("newsbot.scheduler")

TICK_SECONDS = 30.0  # how often the loop looks for due posts
LATE_AFTER = dt.timedelta(hours=1)  # a post sent later than this says it is late
CLOCK = re.compile(r"^([01]?\d|2[0-3])[:.h]?([0-5]\d)$")


def utc_now() -> dt.datetime:
    """The real clock (tests replace it)."""
    return dt.datetime.now(dt.UTC)


def parse_clock(text: str) -> dt.time | None:
    """A time of day in 24-hour form: 08:00, 8:00, 0800 or 8h00."""
    match = CLOCK.match(text.strip())
    return dt.time(int(match[1]), int(match[2])) if match else None


def zone(name: str) -> ZoneInfo | None:
    """The IANA time zone of that name, or None."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None


def due_at(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    """When a post set for `time` goes out on the local `day`, in UTC.

    A time skipped when clocks spring forward posts at the first minute after the gap; a time
    that happens twice when clocks fall back posts at the first of the two.
    """
    local = dt.datetime.combine(day, time)
    while local.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != local:
        local += dt.timedelta(minutes=1)
    return local.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)


def next_post(daily: DailySettings, now: dt.datetime, posted_today: bool) -> dt.datetime:
    """When the next daily post goes out (now, if today's is due and not sent yet)."""
    tz, time = ZoneInfo(daily.timezone), parse_clock(daily.time) or dt.time(0)
    today = now.astimezone(tz).date()
    due = due_at(today, time, tz)
    if not posted_today and due >= daily.since:
        return max(due, now)
    return due_at(today + dt.timedelta(days=1), time, tz)


# (settings, local day, late) -> id of the message sent; raises PostError when it cannot be posted.
Send = Callable[[DailySettings, dt.date, bool], Awaitable[int]]


class PostError(Exception):
    """The post cannot go out (channel gone, no permission); the message says why, for moderators."""


class DailyPoster:
    """Sends each server's daily post once per local day, at its local time or late after downtime."""

    def __init__(self, store: Store, send: Send) -> None:
        self.guilds = Guilds(store)
        self.send = send

    async def tick(self, now: dt.datetime) -> int:
        """One pass over the servers: send the posts that are due and not yet claimed; how many went out."""
        sent = 0
        for daily in await self.guilds.daily_all():
            try:
                sent += await self._post_if_due(daily, now)
            except Exception:
                log.exception("daily post for guild %s: check failed; trying again on the next pass", daily.guild_id)
        return sent

    async def _post_if_due(self, daily: DailySettings, now: dt.datetime) -> bool:
        tz, time = zone(daily.timezone), parse_clock(daily.time)
        if tz is None or time is None:
            log.warning("daily post for guild %s: bad setting %s %s", daily.guild_id, daily.time, daily.timezone)
            return False
        day = now.astimezone(tz).date()
        due = due_at(day, time, tz)
        if now < due or due < daily.since or await self.guilds.posted(daily.guild_id, day):
            return False
        late = now - due
        # Claimed (committed) before sending: after a restart, even within the same minute, it is not sent again.
        if not await self.guilds.claim_post(daily, day, now, int(late.total_seconds() // 60)):
            return False
        try:
            message_id = await self.send(daily, day, late > LATE_AFTER)
        except Exception as error:
            reason = str(error) if isinstance(error, PostError) else f"unexpected error: {error!r}"
            log.warning("daily post for guild %s on %s not sent: %s", daily.guild_id, day, reason)
            await self.guilds.finish_post(daily.guild_id, day, now, error=reason)
            return False
        await self.guilds.finish_post(daily.guild_id, day, now, message_id=message_id)
        log.info("daily post for guild %s on %s sent to channel %s", daily.guild_id, day, daily.channel_id)
        return True


class BackgroundLoop:
    """A task that runs `_run` from `start()` until `stop()` (the daily posts', the follows')."""

    name = "newsbot-loop"

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None

    async def _run(self) -> None:
        raise NotImplementedError


class Ticker(BackgroundLoop):
    """Calls `tick(utc_now())` once the bot is ready, then every TICK_SECONDS, until stopped."""

    name = "newsbot-daily-posts"

    def __init__(self, tick: Callable[[dt.datetime], Awaitable[object]], ready: Callable[[], Awaitable[object]]):
        super().__init__()
        self.tick = tick
        self.ready = ready

    async def _run(self) -> None:
        await self.ready()
        while True:
            try:
                await self.tick(utc_now())
            except Exception:
                log.exception("daily posts: the pass failed; trying again in %.0f s", TICK_SECONDS)
            await asyncio.sleep(TICK_SECONDS)


class ReindexStopped(Exception):
    """The bot is shutting down: the run stopped at a batch boundary and its transaction rolled back."""


class ReindexJob:
    """At most one index run at a time, in a worker thread; `progress` can be read while it runs.

    `archive` None: the folder the store was last indexed from (else the bundled sample)."""

    def __init__(self, store: Store, archive: Path | None) -> None:
        self.store = store
        self.archive = archive
        self.progress: IndexProgress | None = None
        self.task: asyncio.Task[IndexReport] | None = None
        self.stopping = False

    def stop(self) -> None:
        """Ask a running index to give up at its next batch (its transaction then rolls back)."""
        self.stopping = True

    @property
    def running(self) -> IndexProgress | None:
        return self.progress if self.task is not None and not self.task.done() else None

    def start(self, requested_by: str, now: dt.datetime, allow_shrink: bool = False) -> asyncio.Task[IndexReport]:
        if self.running:
            raise RuntimeError("an index run is already under way")
        self.progress = IndexProgress(requested_by, now)
        self.task = asyncio.create_task(self._run(self.progress, allow_shrink), name="newsbot-reindex")
        return self.task

    async def _run(self, start: IndexProgress, allow_shrink: bool) -> IndexReport:
        def report(done: int, total: int) -> None:
            # Called in the worker thread: one attribute set to a new frozen object, safe to read anywhere.
            if self.stopping:  # raised in the worker thread, inside the run's transaction: it rolls back
                raise ReindexStopped("the bot is shutting down")
            self.progress = dataclasses.replace(start, done=done, total=total)

        last = await self.store.last_run()
        archive, _ = choose_archive(self.archive, last.archive if last else None)
        try:
            return await self.store.index_archive(archive, start.requested_by, report, allow_shrink)
        finally:
            self.progress = None
