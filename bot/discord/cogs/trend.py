"""/trend: a chart of how many events match words over time, and the message menu "Search the archive"."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import handlers
from bot.answers import TrendAnswer
from bot.discord.cogs.events import cut
from bot.discord.respond import respond

if TYPE_CHECKING:
    from bot.discord.client import NewsBot

SEARCH_MESSAGE = "Search the archive"


class Trend(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=SEARCH_MESSAGE, callback=self.search_message)
        bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="trend", description="A chart of how many events match words, per month or year")
    @app_commands.rename(since="from", until="to")
    @app_commands.describe(
        words="Words to count; commas separate lines, e.g. ukraine, syria, iraq",
        since="From this day (2016-04-03, 3 April 2016) or year (2016); default: the archive's first",
        until="To this day or year; default: the archive's last",
    )
    async def trend(
        self, interaction: discord.Interaction, words: str, since: str | None = None, until: str | None = None
    ) -> None:
        started = time.monotonic()
        answer = await handlers.trend(self.bot.store, words, cut(since), cut(until))
        chart = None
        if isinstance(answer, TrendAnswer):
            await interaction.response.defer(thinking=True)  # the first chart starts the drawing process
            chart = await self.bot.charts.png(answer, self.bot.store.generation)
        await respond(interaction, answer, self.bot, started, chart)

    async def search_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Apps -> Search the archive on any message: its words searched, answered only to the asker."""
        started = time.monotonic()
        text = message.content or " ".join(f"{e.title or ''} {e.description or ''}" for e in message.embeds)
        answer = await handlers.search_message(self.bot.store, text)
        await respond(interaction, answer, self.bot, started, ephemeral=True)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Trend(bot))
