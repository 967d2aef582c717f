"""/onthisday, /settings, and sending the daily post (the scheduler decides when)."""

from __future__ import annotations

import datetime as dt
from time import monotonic
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import handlers, scheduler
from bot.answers import EventList, Notice, Refusal, ServerSettings
from bot.discord.cogs.admin import run_line, send_private, when
from bot.discord.render_discord import CONTENT, clip
from bot.discord.respond import respond
from bot.discord.views import NO_MENTIONS
from bot.scheduler import DailyPoster, PostError
from corpus import human_date
from store.guilds import DailyPost, DailySettings

if TYPE_CHECKING:
    from bot.discord.client import NewsBot

MANAGE_SERVER = discord.Permissions(manage_guild=True)


def asker(interaction: discord.Interaction) -> str:
    return f"{interaction.user.name} ({interaction.user.id})"


def last_post_line(post: DailyPost | None) -> str:
    if post is None:
        return "none yet"
    day = human_date(post.day)
    if post.error:
        return (
            f"**{day}: not posted: {post.error}.** Pick a channel I can post in with `/settings daily set` "
            "(I need View Channel, Send Messages and Embed Links there). I try again on the next day."
        )
    if post.sent_at is None:
        return f"{day}: sending began {when(post.claimed_at)}, not confirmed (if this stays, the bot stopped mid-send)"
    late = f", {post.late_min} min late (the bot was offline)" if post.late_min >= 60 else ""
    return f"{day}: sent {when(post.sent_at)} in <#{post.channel_id}>{late}"


def settings_text(answer: ServerSettings) -> str:
    daily, role_id = answer.settings.daily, answer.settings.reindex_role_id
    if daily is None:
        post = "off. Turn it on with `/settings daily set`."
    else:
        post = f"in <#{daily.channel_id}> at {daily.time} ({daily.timezone})"
        if answer.next_post:
            post += f"; next {when(answer.next_post)}"
    role = f"members with Manage Server or <@&{role_id}>" if role_id else "members with Manage Server"
    return "\n".join(
        [
            "**Settings for this server**",
            f"Daily post: {post}",
            f"Last daily post: {last_post_line(answer.last_post)}",
            f"Who may `/reindex`: {role} (change with `/settings reindex-role`)",
            f"Last index run: {run_line(answer.last_run)}",
        ]
    )


class Daily(commands.Cog):
    settings = app_commands.Group(
        name="settings",
        description="This server's settings for the news bot (Manage Server)",
        default_permissions=MANAGE_SERVER,
        guild_only=True,
    )
    daily = app_commands.Group(name="daily", description="The daily 'on this day' post", parent=settings)

    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot
        self.poster = DailyPoster(bot.store, self.send_post)

    @app_commands.command(name="onthisday", description="What happened on this day in earlier years")
    @app_commands.describe(date="A day: 3 April, April 3, 04-03 or a full date (default: today)")
    async def onthisday(self, interaction: discord.Interaction, date: str | None = None) -> None:
        started = monotonic()
        today = await handlers.server_today(self.bot.store, interaction.guild_id, scheduler.utc_now())
        answer = await handlers.on_this_day(self.bot.store, date, today)
        await respond(interaction, answer, self.bot, started)

    @daily.command(name="set", description="Post 'on this day' every day in a channel, at a local time")
    @app_commands.describe(
        channel="The channel to post in",
        time="Local time, 24-hour HH:MM, e.g. 08:00",
        timezone="Time zone, e.g. Europe/Berlin (default: the one set before, else UTC)",
    )
    async def daily_set(
        self, interaction: discord.Interaction, channel: discord.TextChannel, time: str, timezone: str | None = None
    ) -> None:
        started = monotonic()
        mine = channel.permissions_for(channel.guild.me)
        answer = await handlers.save_daily(
            self.bot.store,
            interaction.guild_id or 0,
            interaction.permissions.manage_guild,
            channel.id,
            mine.view_channel and mine.send_messages and mine.embed_links,
            time,
            timezone,
            scheduler.utc_now(),
            asker(interaction),
        )
        await self.reply(interaction, answer, started)

    @daily_set.autocomplete("timezone")
    async def timezone_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=name, value=name) for name in handlers.zone_choices(current)]

    @daily.command(name="off", description="Stop the daily post")
    async def daily_off(self, interaction: discord.Interaction) -> None:
        started = monotonic()
        answer = await handlers.daily_off(
            self.bot.store,
            interaction.guild_id or 0,
            interaction.permissions.manage_guild,
            scheduler.utc_now(),
            asker(interaction),
        )
        await self.reply(interaction, answer, started)

    @settings.command(name="reindex-role", description="A role whose members may /reindex (leave empty to clear)")
    @app_commands.describe(role="Members with this role may /reindex, besides those with Manage Server")
    async def reindex_role(self, interaction: discord.Interaction, role: discord.Role | None = None) -> None:
        started = monotonic()
        answer = await handlers.set_reindex_role(
            self.bot.store,
            interaction.guild_id or 0,
            interaction.permissions.manage_guild,
            role.id if role else None,
            scheduler.utc_now(),
            asker(interaction),
        )
        await self.reply(interaction, answer, started)

    @settings.command(name="show", description="The daily post, who may /reindex, and what went wrong lately")
    async def show(self, interaction: discord.Interaction) -> None:
        started = monotonic()
        answer = await handlers.show_settings(
            self.bot.store, interaction.guild_id or 0, interaction.permissions.manage_guild, scheduler.utc_now()
        )
        await self.reply(interaction, answer, started)

    async def reply(
        self, interaction: discord.Interaction, answer: Notice | ServerSettings | Refusal, started: float
    ) -> None:
        if isinstance(answer, Refusal):
            await respond(interaction, answer, self.bot, started)
        elif isinstance(answer, ServerSettings):
            await send_private(interaction, settings_text(answer), answer, started)
        else:
            await send_private(interaction, answer.message, answer, started)

    async def send_post(self, daily: DailySettings, day: dt.date, late: bool) -> int:
        """Send one daily post (called by the scheduler); PostError says why it could not go out."""
        answer = await handlers.daily_post(self.bot.store, day, f"{daily.time} ({daily.timezone})" if late else None)
        if isinstance(answer, EventList):
            content, embeds = self.bot.renderer.list_page(answer, 0)
        else:
            content, embeds = clip(answer.message, CONTENT), []
        try:
            channel = self.bot.get_channel(daily.channel_id) or await self.bot.fetch_channel(daily.channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                raise PostError(f"<#{daily.channel_id}> is not a channel I can post messages in")
            message = await channel.send(content=content, embeds=embeds, allowed_mentions=NO_MENTIONS)
        except discord.NotFound:
            raise PostError("the channel no longer exists") from None
        except discord.Forbidden:
            raise PostError(f"I may not post in <#{daily.channel_id}>") from None
        except discord.HTTPException as error:
            raise PostError(f"Discord refused the post ({error.status}: {error.text or 'no reason given'})") from None
        return message.id


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Daily(bot))
