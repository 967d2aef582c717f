"""/events, /on and /event: searching and browsing the archive."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import handlers, scheduler
from bot.discord.cogs.ask import topic_choices
from bot.discord.render_discord import option_label
from bot.discord.respond import respond

if TYPE_CHECKING:
    from bot.discord.client import NewsBot

# A date is never longer; the error message quotes what was typed, so longer text is cut first.
MAX_DATE_LENGTH = 60


def cut(text: str | None) -> str | None:
    return text[:MAX_DATE_LENGTH] if text else text


class Events(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @app_commands.command(name="events", description="Search the archive's events by words")
    @app_commands.rename(since="from", until="to")
    @app_commands.describe(
        query="Words to look for, e.g. al-qaryatain; spelling variants are found too",
        since="Only events on or after this day (2016-04-03, 3 April 2016, last Friday) or year (2016)",
        until="Only events on or before this day or year",
        topic="Only events of this topic: start typing and pick one",
    )
    async def events(
        self,
        interaction: discord.Interaction,
        query: str,
        since: str | None = None,
        until: str | None = None,
        topic: str | None = None,
    ) -> None:
        started = time.monotonic()
        today = await handlers.server_today(self.bot.store, interaction.guild_id, scheduler.utc_now())
        answer = await handlers.search_events(
            self.bot.store, query, cut(since), cut(until), today=today, topic=topic[:200] if topic else None
        )
        await respond(interaction, answer, self.bot, started)

    @events.autocomplete("topic")
    async def topic_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await topic_choices(self.bot.store, current)

    @app_commands.command(name="on", description="Every event of one day")
    @app_commands.describe(date="The day: 2016-04-03, 3 April 2016, 3/4/2016 (day first), yesterday or last Friday")
    async def on(self, interaction: discord.Interaction, date: str) -> None:
        started = time.monotonic()
        today = await handlers.server_today(self.bot.store, interaction.guild_id, scheduler.utc_now())
        answer = await handlers.day_events(self.bot.store, cut(date) or "", today=today)
        await respond(interaction, answer, self.bot, started)

    @app_commands.command(name="event", description="One event in full, with its sources and related events")
    @app_commands.describe(event="Start typing words from the headline and pick the event")
    async def event(self, interaction: discord.Interaction, event: str) -> None:
        started = time.monotonic()
        answer = await handlers.show_event(self.bot.store, event)
        await respond(interaction, answer, self.bot, started)

    @event.autocomplete("event")
    async def event_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        if not current.strip():
            return []
        found = await self.bot.store.search(current[: handlers.MAX_QUERY_LENGTH], limit=25)
        return [app_commands.Choice(name=option_label(f.event), value=str(f.event_id)) for f in found]


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Events(bot))
