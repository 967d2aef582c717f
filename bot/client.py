"""The Discord client: a thin layer that loads the cogs and syncs slash commands when needed."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot.answers import EventDetail, EventList
from bot.cogs.admin import Admin
from bot.cogs.ask import Ask
from bot.cogs.daily import Daily
from bot.cogs.events import Events
from bot.config import Settings
from bot.doctor import clear_heartbeat, heartbeat_path, keep_heartbeat
from bot.handlers import load_page, show_event
from bot.render_discord import Renderer
from bot.scheduler import Ticker
from store import Store

log = logging.getLogger("newsbot")

NO_TOKEN = """No Discord token: set DISCORD_TOKEN in the environment or in a .env file.
Get one at https://discord.com/developers/applications: New Application, then Bot, then Reset Token.
To try the bot without Discord: python -m bot console"""


class NewsBot(commands.Bot):
    def __init__(self, store: Store, settings: Settings, sync_on_start: bool = True, **options: object) -> None:
        options.setdefault("intents", discord.Intents.default())
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

    async def setup_hook(self) -> None:
        await self.add_cog(Events(self))
        await self.add_cog(Ask(self))
        daily = Daily(self)
        await self.add_cog(daily)
        await self.add_cog(Admin(self))
        self.ticker = Ticker(daily.poster.tick, self.wait_until_ready)
        self.ticker.start()
        if self.sync_on_start:
            await self.sync_commands(force=False)
        # The store's search index is a few hundred thousand long-lived objects. Left in the
        # collector's care, every full collection walks them all (tens of ms, with every command
        # waiting); frozen, the collector skips them. Garbage is collected first, not frozen.
        gc.collect()
        gc.freeze()

    async def close(self) -> None:
        if self.ticker is not None:
            await self.ticker.stop()
        await super().close()

    async def load_page(self, listing: EventList, page: int) -> EventList:
        """Fetch one page of a list when someone pages to it."""
        return await load_page(self.store, listing, page)

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
        log.exception("command /%s failed", interaction.command.name if interaction.command else "?", exc_info=error)
        message = "Something went wrong on our side while answering. Please try again in a moment."
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)


async def run_bot(settings: Settings) -> int:
    if not settings.token:
        print(NO_TOKEN)
        return 2
    async with await Store.open(settings.db) as store:
        if (await store.stats()).events == 0:
            log.warning("the store at %s is empty: run 'python -m bot index' (or /reindex)", settings.db)
        async with NewsBot(store, settings) as bot:
            beat = heartbeat_path(settings)  # read by `doctor --health` (the container's health check)
            heartbeat = asyncio.create_task(keep_heartbeat(bot, beat))
            try:
                await bot.start(settings.token)
            finally:
                heartbeat.cancel()
                clear_heartbeat(beat)
    return 0


async def sync_only(settings: Settings, guild_id: int | None) -> int:
    """Log in over HTTP only, sync the slash commands, and stop."""
    if not settings.token:
        print(NO_TOKEN)
        return 2
    async with await Store.open(settings.db) as store, NewsBot(store, settings, sync_on_start=False) as bot:
        await bot.login(settings.token)  # runs setup_hook, which adds the cogs
        await bot.sync_commands(guild_id, force=True)
    return 0
