"""/ask and /topic: plain questions, and the timeline of one topic."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import handlers
from bot.answers import EventList
from bot.discord.render_discord import clip
from bot.discord.respond import respond
from bot.topics import topic_names

if TYPE_CHECKING:
    from bot.discord.client import NewsBot


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
    @app_commands.describe(name="Start typing and pick a topic", order="Oldest first (default) or newest first")
    async def topic(
        self,
        interaction: discord.Interaction,
        name: str,
        order: Literal["oldest first", "newest first"] = "oldest first",
    ) -> None:
        started = time.monotonic()
        answer = await handlers.topic_timeline(self.bot.store, name, newest_first=order == "newest first")
        chart = None
        if isinstance(answer, EventList) and answer.chart is not None:
            await interaction.response.defer(thinking=True)  # the first chart starts the drawing process
            chart = await self.bot.charts.png(answer.chart, self.bot.store.generation)
        await respond(interaction, answer, self.bot, started, chart)

    @topic.autocomplete("name")
    async def topic_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        topics = await self.bot.store.topic_names()
        counts = dict(topics)
        names = (await topic_names(self.bot.store)).closest(current)
        return [app_commands.Choice(name=clip(f"{n} ({counts[n]})", 100), value=n[:100]) for n in names]


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Ask(bot))
