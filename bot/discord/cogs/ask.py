"""/ask and /topic: plain questions, and the timeline of one topic."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import handlers, scheduler
from bot.answers import EventList
from bot.discord.respond import respond
from bot.naming import DISCORD
from bot.topics import topic_names
from store import Store

if TYPE_CHECKING:
    from bot.discord.client import NewsBot


async def topic_choices(store: Store, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete for a topic option: the closest names (any case of one counts once), with their events."""
    names = await topic_names(store)
    return [
        app_commands.Choice(name=f"{name} ({names.counts.get(name, 0)})"[:100], value=name[:100])
        for name in names.closest(current)
    ]


class Ask(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Ask a question in plain words; the archive answers if it can")
    @app_commands.describe(question="e.g. when did the Syrian army retake al-Qaryatayn?")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        started = time.monotonic()
        answer = await handlers.ask(self.bot.store, question)
        await respond(interaction, answer, self.bot, started)

    @app_commands.command(name="topic", description="The timeline of one topic, e.g. Syrian Civil War")
    @app_commands.rename(since="from", until="to")
    @app_commands.describe(
        name="Start typing and pick a topic",
        order="Oldest first (default) or newest first",
        since="Only events on or after this day (2016-04-03, 3 April 2016) or year (2016)",
        until="Only events on or before this day or year",
    )
    async def topic(
        self,
        interaction: discord.Interaction,
        name: str,
        order: Literal["oldest first", "newest first"] = "oldest first",
        since: str | None = None,
        until: str | None = None,
    ) -> None:
        started = time.monotonic()
        today = await handlers.server_today(self.bot.store, interaction.guild_id, scheduler.utc_now())
        newest = order == "newest first"
        dates = (text[:60] if text else None for text in (since, until))
        answer = await handlers.topic_timeline(self.bot.store, name, newest, DISCORD, *dates, today=today)
        chart = None
        if isinstance(answer, EventList) and answer.chart is not None:
            await interaction.response.defer(thinking=True)  # the first chart starts the drawing process
            chart = await self.bot.charts.png(answer.chart, self.bot.store.generation)
        await respond(interaction, answer, self.bot, started, chart)

    @topic.autocomplete("name")
    async def topic_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await topic_choices(self.bot.store, current)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Ask(bot))
