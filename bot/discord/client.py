"""The Discord client: a thin layer that loads the cogs and syncs slash commands when needed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import itertools
import json
import logging
import math
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TypeVar

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.answers import EventDetail, EventList, Refusal
from bot.charts import Charts
from bot.config import Settings, ShardRange
from bot.discord.cogs.admin import Admin
from bot.discord.cogs.ask import Ask
from bot.discord.cogs.daily import Daily
from bot.discord.cogs.events import Events
from bot.discord.cogs.follow import FollowCog
from bot.discord.cogs.meta import Meta
from bot.discord.cogs.trend import Trend
from bot.discord.render_discord import Renderer
from bot.discord.respond import tell_asker
from bot.doctor import clear_heartbeat, heartbeat_path, keep_heartbeat
from bot.follows import FollowWatch
from bot.handlers import load_page, search_as_typed, show_event
from bot.scheduler import ReindexJob, Ticker
from store import Store
from store.backend import is_postgres, shown

log = logging.getLogger("newsbot")
T = TypeVar("T")

NO_TOKEN = """No Discord token: set DISCORD_TOKEN in the environment or in a .env file.
Get one at https://discord.com/developers/applications: New Application, then Bot, then Reset Token.
To try the bot without Discord: python -m bot console"""
REFUSED_TOKEN = """Discord refused the token in DISCORD_TOKEN: it is mistyped, or it was reset since.
Get a new one at https://discord.com/developers/applications: your application, then Bot, then Reset Token
(the token, not the client secret or the public key). python -m bot doctor checks its shape."""

INDEX_CHECK_EVERY = 2.0  # seconds between looks for an index generation committed by another process
SHUTDOWN_GRACE = 5.0  # seconds a running re-index gets to stop (and roll back) or commit when the bot stops
COMMANDS_GRACE = 2.0  # seconds commands under way get to send their answer when the bot stops
STOPPING = "The bot is restarting; please try again in a minute."
# Seconds between attempts to reach Discord when it cannot be reached at start (no network, DNS,
# Discord down); the last one repeats until it answers or the bot is stopped. Once connected,
# discord.py reconnects by itself.
RETRY_DELAYS = (5.0, 15.0, 30.0, 60.0)
UNREACHABLE = (OSError, asyncio.TimeoutError, aiohttp.ClientError, discord.GatewayNotFound, discord.DiscordServerError)


class RateLimiter:
    """At most `limit` commands per user in any `window` seconds (a sliding window over their last commands)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.recent: dict[int, deque[float]] = {}

    def retry_after(self, user_id: int) -> float:
        """0 if the user may run a command now (it is counted), else how many seconds until they may."""
        now = self.clock()
        if len(self.recent) > 10_000:  # forget users idle for a whole window
            self.recent = {user: times for user, times in self.recent.items() if times[-1] > now - self.window}
        times = self.recent.setdefault(user_id, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return times[0] + self.window - now
        times.append(now)
        return 0.0

    def message(self, wait: float) -> str:
        return (
            f"Slow down: at most {self.limit} commands every {self.window:g} seconds. "
            f"Try again in {max(1, math.ceil(wait))} s."
        )


class NewsTree(app_commands.CommandTree):
    """Every slash command passes here first: refused while the bot stops, or when its user goes too fast.

    Autocomplete is never counted (Discord sends one per keystroke); buttons and menus do not pass here.
    """

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        bot = self.client
        assert isinstance(bot, NewsBot)
        autocomplete = interaction.type is discord.InteractionType.autocomplete
        if bot.stopping:
            if not autocomplete:
                await self._refuse(interaction, STOPPING)
            return False
        if autocomplete or bot.rate_limiter is None:
            return True
        wait = bot.rate_limiter.retry_after(interaction.user.id)
        if wait <= 0:
            return True
        log.info("rate limit: user %s waits %.1f s", interaction.user.id, wait)
        await self._refuse(interaction, bot.rate_limiter.message(wait))
        return False

    async def _refuse(self, interaction: discord.Interaction, text: str) -> None:
        try:
            await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException as error:
            log.warning("could not refuse a command: %s", error)


class NewsBot(commands.Bot):
    def __init__(self, store: Store, settings: Settings, sync_on_start: bool = True, **options: object) -> None:
        # This bot has no voice: discord.py's warnings that voice's libraries are missing are noise.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        options.setdefault("intents", discord.Intents.default())
        options.setdefault("tree_cls", NewsTree)
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.store = store
        self.settings = settings
        self.renderer = Renderer(settings.archive_url)
        self.sync_on_start = sync_on_start
        self.started = time.monotonic()
        self.tree.on_error = self.on_command_error
        self.ticker: Ticker | None = None  # the daily posts' loop
        self.follow_watch: FollowWatch | None = None  # posts new events to follows after index runs
        self.index_watch: asyncio.Task[None] | None = None
        self.rate_limiter = RateLimiter(*settings.rate_limit) if settings.rate_limit else None
        self.stopping = False  # set by shut_down: commands are refused from then on
        self.charts = Charts()  # /trend and /topic pictures, drawn in a worker process

    async def setup_hook(self) -> None:
        await self.add_cog(Events(self))
        await self.add_cog(Ask(self))
        daily = Daily(self)
        await self.add_cog(daily)
        await self.add_cog(Admin(self))
        await self.add_cog(Meta(self))
        await self.add_cog(Trend(self))
        follow = FollowCog(self)
        await self.add_cog(follow)
        self.ticker = Ticker(daily.poster.tick, self.wait_until_ready)
        self.ticker.start()
        self.follow_watch = follow.watch
        self.follow_watch.start()
        self.index_watch = asyncio.create_task(self.watch_index(), name="newsbot-index-watch")
        if self.sync_on_start:
            await self.sync_commands(force=False)
        # The store's search index is a few hundred thousand long-lived objects. Left in the
        # collector's care, every full collection walks them all (tens of ms, with every command
        # waiting); frozen, the collector skips them. Garbage is collected first, not frozen.
        gc.collect()
        gc.freeze()

    async def watch_index(self, every: float = INDEX_CHECK_EVERY) -> None:
        """Switch to a new search index committed by another process (`python -m bot index` from cron, or
        another bot process's /reindex): with PostgreSQL as soon as it is announced, else at the next look."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.store.backend.index_changed.wait(), every)
            try:
                await self.store.refresh(force=True)
            except Exception:
                log.exception("could not look for a new index; trying again in %.0f s", every)

    async def close(self) -> None:
        if self.ticker is not None:
            await self.ticker.stop()
        if self.follow_watch is not None:
            await self.follow_watch.stop()
        if self.index_watch is not None:
            self.index_watch.cancel()
        self.charts.close()
        await super().close()

    async def shut_down(self, grace: float = SHUTDOWN_GRACE) -> bool:
        """Stop taking commands, give a running re-index `grace` seconds to stop or commit, then close.

        False when the re-index was still running: its worker thread is abandoned with its
        transaction open, which rolls back when the process exits (the previous index stays whole).
        """
        self.stopping = True
        finished = True
        admin = self.get_cog("Admin")
        job: ReindexJob | None = getattr(admin, "job", None)
        if job is not None and job.task is not None and not job.task.done():
            log.info("stopping: the running re-index gets up to %.0f s to stop", grace)
            job.stop()  # it gives up at its next batch and rolls back
            done, _ = await asyncio.wait({job.task}, timeout=grace)
            finished = bool(done)
        if finished:  # commands under way (/reindex saying it stopped) get to send their answer
            answering = {
                task
                for task in asyncio.all_tasks()
                if task.get_name() == "CommandTree-invoker" and task is not asyncio.current_task()
            }
            if answering:
                await asyncio.wait(answering, timeout=COMMANDS_GRACE)
        await self.close()
        return finished

    async def load_page(self, listing: EventList, page: int) -> EventList:
        """Fetch one page of a list when someone pages to it."""
        return await load_page(self.store, listing, page)

    async def search_as_typed(self, listing: EventList) -> EventList | Refusal:
        """A search's words as typed, without spelling tolerance (the "Search instead for" button)."""
        return await search_as_typed(self.store, listing)

    async def open_event(self, ref: str) -> EventDetail | None:
        """One event in full, for the menus that open events."""
        answer = await show_event(self.store, ref)
        return answer if isinstance(answer, EventDetail) else None

    def command_tree_hash(self, guild: discord.abc.Snowflake | None = None) -> str:
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    async def sync_commands(self, guild_id: int | None = None, force: bool = True) -> bool:
        """Send the command tree to Discord if it changed since the last sync (or if forced).

        Discord rate-limits syncing, so the tree's hash is kept in the store.
        """
        guild = discord.Object(guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        key = f"commands_synced:{guild_id or 'global'}"
        current = self.command_tree_hash(guild)
        if not force and await self.store.setting(key) == current:
            log.info("slash commands unchanged since the last sync; not syncing")
            return False
        synced = await self.tree.sync(guild=guild)
        await self.store.set_setting(key, current)
        log.info("synced %d slash commands to %s", len(synced), f"guild {guild_id}" if guild_id else "every server")
        return True

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))

    async def on_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        name = interaction.command.name if interaction.command else "?"
        log.exception("command /%s failed", name, exc_info=error)
        try:
            await tell_asker(
                interaction, content="Something went wrong on our side while answering. Please try again in a moment."
            )
        except discord.HTTPException as refused:  # e.g. the interaction's 15-minute token expired
            log.warning("could not tell the user that /%s failed: %s", name, refused)


class ShardedNewsBot(NewsBot, commands.AutoShardedBot):
    """NewsBot over discord.py's AutoShardedClient: one gateway connection per shard (NEWSBOT_SHARDS)."""


def make_bot(store: Store, settings: Settings, **options: object) -> NewsBot:
    """A NewsBot, or a ShardedNewsBot when NEWSBOT_SHARDS is set ("auto": as many as Discord advises;
    a range: those shards of the count, the others run by other processes sharing the database)."""
    if settings.shards is None:
        return NewsBot(store, settings, **options)
    if isinstance(settings.shards, ShardRange):
        options.setdefault("shard_ids", settings.shards.ids)
        options.setdefault("shard_count", settings.shards.count)
    elif isinstance(settings.shards, int):
        options.setdefault("shard_count", settings.shards)
    return ShardedNewsBot(store, settings, **options)


async def serve(bot: NewsBot, token: str, stop: asyncio.Event, grace: float = SHUTDOWN_GRACE) -> bool:
    """Run `bot` until it ends by itself or `stop` is set, then shut it down (see NewsBot.shut_down).

    Returns False when a running re-index had to be abandoned.
    """
    gateway = asyncio.create_task(bot.start(token), name="newsbot-gateway")
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({gateway, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if gateway.done():
        gateway.result()  # re-raises a failed login and the like
        return True
    log.info("stopping: no new commands; closing the connection and the database")
    finished = await bot.shut_down(grace)
    await asyncio.wait({gateway}, timeout=1.0)  # bot.start returns once the bot is closed
    if not gateway.done():
        gateway.cancel()
    return finished


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM (systemd, docker stop) and SIGINT (Ctrl-C) set `stop`; a second one exits at once."""
    loop = asyncio.get_running_loop()

    def handle(number: int) -> None:
        if stop.is_set():
            log.warning("%s again: exiting now", signal.Signals(number).name)
            exit_now(1)
        log.info("%s received: shutting down", signal.Signals(number).name)
        stop.set()

    installed = []
    for number in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(number, handle, number)
            installed.append(number)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    try:
        yield
    finally:
        for number in installed:
            loop.remove_signal_handler(number)


def exit_now(code: int) -> None:
    """End the process without waiting for worker threads (an abandoned re-index rolls back)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_async(main: Coroutine[object, object, T]) -> T:
    """asyncio.run, on uvloop where it is installed (everywhere but Windows): the same asyncio
    with its event loop and sockets in C, which takes about a tenth off each command's CPU."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def unreachable_line(error: BaseException, wait: float) -> str:
    """One line for a failed attempt to reach Discord, and when the next one is."""
    reason = str(error) or type(error).__name__
    return f"cannot reach Discord ({reason}); trying again in {wait:.0f} s (Ctrl-C stops)"


async def run_bot(settings: Settings, retry_delays: tuple[float, ...] = RETRY_DELAYS) -> int:
    if not settings.token:
        print(NO_TOKEN)
        return 2
    if not is_postgres(settings.db) and not Path(settings.db).is_file():
        print(
            f"No index at {settings.db}. Build it first: python -m bot index --archive DIR --db {settings.db}",
            file=sys.stderr,
        )
        return 1
    stop = asyncio.Event()
    with stop_on_signals(stop):
        async with await Store.open(settings.db) as store:
            if (await store.stats()).events == 0:
                log.warning("the store at %s is empty: run 'python -m bot index' (or /reindex)", shown(settings.db))
            for attempt in itertools.count():
                async with make_bot(store, settings) as bot:  # a new client for each attempt
                    beat = heartbeat_path(settings)  # read by `doctor --health` (the container's health check)
                    heartbeat = asyncio.create_task(keep_heartbeat(bot, beat))
                    try:
                        finished = await serve(bot, settings.token, stop)
                        break
                    except discord.LoginFailure:
                        print(REFUSED_TOKEN, file=sys.stderr)
                        return 2  # a setting to fix: no restart (the systemd unit stops on 2)
                    except UNREACHABLE as error:
                        wait = retry_delays[min(attempt, len(retry_delays) - 1)]
                        log.warning(unreachable_line(error, wait))
                    finally:
                        heartbeat.cancel()
                        clear_heartbeat(beat)
                try:
                    await asyncio.wait_for(stop.wait(), wait)
                    log.info("stopped before Discord could be reached")
                    return 1
                except TimeoutError:
                    continue
    if not finished:
        log.warning("the re-index did not stop within %.0f s: abandoned; its transaction rolls back", SHUTDOWN_GRACE)
        exit_now(0)
    log.info("stopped")
    return 0


async def sync_only(settings: Settings, guild_id: int | None) -> int:
    """Log in over HTTP only, sync the slash commands, and stop."""
    if not settings.token:
        print(NO_TOKEN)
        return 2
    async with await Store.open(settings.db) as store, NewsBot(store, settings, sync_on_start=False) as bot:
        try:
            await bot.login(settings.token)  # runs setup_hook, which adds the cogs
        except discord.LoginFailure:
            print(REFUSED_TOKEN, file=sys.stderr)
            return 2
        await bot.sync_commands(guild_id, force=True)
    return 0
