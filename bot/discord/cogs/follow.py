"""/follow: new events on a search or a topic, posted to a channel after each index run."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import handlers, scheduler
from bot.answers import FollowAdded, FollowList, FollowPost, Notice, Refusal
from bot.discord.cogs.admin import send_private
from bot.discord.render_discord import CONTENT, DESCRIPTION, Renderer, clean, clip, fit_total, option_label
from bot.discord.respond import log_command, respond
from bot.discord.views import NO_MENTIONS
from bot.follows import FollowPoster, FollowWatch, Rule
from bot.scheduler import PostError
from bot.topics import topic_names
from store.follows import Follow

if TYPE_CHECKING:
    from bot.discord.client import NewsBot

LIST_RULE = 80  # characters of a follow's filters shown in /follow list


def roles_of(interaction: discord.Interaction) -> list[int]:
    return [role.id for role in getattr(interaction.user, "roles", [])]


def asker(interaction: discord.Interaction) -> str:
    return f"{interaction.user.name} ({interaction.user.id})"


def follow_line(follow: Follow) -> str:
    """One follow in /follow list: id, filters, channel, what it posted, and whether it is paused."""
    rule = clip(clean(Rule.of(follow).describe()), LIST_RULE)
    posted = f"{follow.posted:,} event{'s' * (follow.posted != 1)} posted" if follow.posted else "nothing posted yet"
    last = f", last <t:{int(follow.last_posted.timestamp())}:R>" if follow.last_posted else ""
    state = f"\n  **paused: {clip(clean(follow.paused), 200)}**" if follow.paused else ""
    return f"**#{follow.id}** {rule} → <#{follow.channel_id}> · {posted}{last}{state}"


def list_embed(answer: FollowList) -> discord.Embed:
    title = f"Follows on this server: {len(answer.follows)} of {answer.limit}"
    lines = [follow_line(follow) for follow in answer.follows]
    lines.append("`/follow why id: event:` says whether an event matched a follow, and if not, why.")
    return discord.Embed(title=title, description=clip("\n".join(lines), DESCRIPTION))


def added_message(answer: FollowAdded, renderer: Renderer) -> tuple[str, list[discord.Embed]]:
    """The reply to /follow add: what it will post, and as a preview the events of the archive's
    last days that would have matched (the first of them as embeds)."""
    follow, preview = answer.follow, answer.preview
    lines = [
        f"Follow #{follow.id} saved: new events matching {clip(clean(answer.rule), 400)} go to "
        f"<#{follow.channel_id}> after each index run, from now on (events already in the archive are never posted).",
    ]
    if not preview.total:
        lines.append(
            f"Preview: nothing in {preview.title} matches. If you expected some, check the words "
            f"(`/follow remove id:{follow.id}`, then add it again)."
        )
        return clip("\n".join(lines), CONTENT), []
    count = f"{preview.total} event{'s' * (preview.total != 1)}"
    lines.append(f"Preview: {count} of {preview.title} match (shown here, not posted):")
    if preview.total > len(preview.loaded):
        lines.append(f"The first {len(preview.loaded)} are shown; `python -m bot follow-check` lists them all.")
    embeds = fit_total([renderer.event_embed(event) for event in preview.events])
    return clip("\n".join(lines), CONTENT), embeds


class FollowCog(commands.Cog, name="Follow"):
    follow = app_commands.Group(
        name="follow", description="Post new events on a search or a topic to a channel", guild_only=True
    )

    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot
        self.poster = FollowPoster(bot.store, self.send_post)
        self.watch = FollowWatch(self.poster, bot.wait_until_ready, lambda: scheduler.utc_now())

    async def cog_unload(self) -> None:
        await self.watch.stop()

    @follow.command(name="add", description="Follow a search or a topic: its new events go to a channel")
    @app_commands.describe(
        channel="The channel to post new events in",
        query="Words every new event must have, as in /events (at most 200 characters)",
        topic="A topic the new events must have; start typing and pick one",
        exclude="Leave out events with any of these words",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        query: str | None = None,
        topic: str | None = None,
        exclude: str | None = None,
    ) -> None:
        started = time.monotonic()
        mine = channel.permissions_for(channel.guild.me)
        answer = await handlers.add_follow(
            self.bot.store,
            interaction.guild_id or 0,
            interaction.permissions.manage_guild,
            roles_of(interaction),
            channel.id,
            mine.view_channel and mine.send_messages and mine.embed_links,
            query,
            topic,
            exclude,
            scheduler.utc_now(),
            asker(interaction),
        )
        if isinstance(answer, Refusal):
            await respond(interaction, answer, self.bot, started)
        else:
            content, embeds = added_message(answer, self.bot.renderer)
            await interaction.response.send_message(
                content=content, embeds=embeds, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            log_command(interaction, answer.preview, started)

    @add.autocomplete("topic")
    async def topic_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        counts = dict(await self.bot.store.topic_names())
        names = (await topic_names(self.bot.store)).closest(current)
        return [app_commands.Choice(name=clip(f"{n} ({counts[n]})", 100), value=n[:100]) for n in names]

    @follow.command(name="list", description="This server's follows: filters, channels, what each posted")
    async def list_follows(self, interaction: discord.Interaction) -> None:
        started = time.monotonic()
        answer = await handlers.list_follows(
            self.bot.store, interaction.guild_id or 0, interaction.permissions.manage_guild, roles_of(interaction)
        )
        if isinstance(answer, Refusal):
            await respond(interaction, answer, self.bot, started)
        elif not answer.follows:
            text = "This server follows nothing yet. Add a follow with `/follow add channel:#news query:earthquake`."
            await send_private(interaction, text, answer, started)
        else:
            await interaction.response.send_message(
                embed=list_embed(answer), ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            log_command(interaction, None, started)

    async def change(self, interaction: discord.Interaction, follow_id: int, action: str) -> None:
        started = time.monotonic()
        answer = await handlers.change_follow(
            self.bot.store,
            interaction.guild_id or 0,
            interaction.permissions.manage_guild,
            roles_of(interaction),
            follow_id,
            action,
            scheduler.utc_now(),
            asker(interaction),
        )
        await self.reply(interaction, answer, started)

    @follow.command(name="remove", description="Stop a follow and forget it")
    @app_commands.rename(follow_id="id")
    @app_commands.describe(follow_id="The follow's number, from /follow list")
    async def remove(self, interaction: discord.Interaction, follow_id: int) -> None:
        await self.change(interaction, follow_id, "remove")

    @follow.command(name="pause", description="Stop a follow posting for now")
    @app_commands.rename(follow_id="id")
    @app_commands.describe(follow_id="The follow's number, from /follow list")
    async def pause(self, interaction: discord.Interaction, follow_id: int) -> None:
        await self.change(interaction, follow_id, "pause")

    @follow.command(name="resume", description="Turn a paused follow on again, from now")
    @app_commands.rename(follow_id="id")
    @app_commands.describe(follow_id="The follow's number, from /follow list")
    async def resume(self, interaction: discord.Interaction, follow_id: int) -> None:
        await self.change(interaction, follow_id, "resume")

    @follow.command(name="why", description="Whether an event matched a follow, and if not, why")
    @app_commands.rename(follow_id="id")
    @app_commands.describe(
        follow_id="The follow's number, from /follow list", event="Start typing words from the headline and pick one"
    )
    async def why(self, interaction: discord.Interaction, follow_id: int, event: str) -> None:
        started = time.monotonic()
        answer = await handlers.why_follow(
            self.bot.store,
            interaction.guild_id or 0,
            interaction.permissions.manage_guild,
            roles_of(interaction),
            follow_id,
            event,
        )
        await self.reply(interaction, answer, started)

    @why.autocomplete("event")
    async def event_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        if not current.strip():
            return []
        found = await self.bot.store.search(current[: handlers.MAX_QUERY_LENGTH], limit=25)
        return [app_commands.Choice(name=option_label(f.event), value=str(f.event_id)) for f in found]

    async def reply(self, interaction: discord.Interaction, answer: Notice | Refusal, started: float) -> None:
        if isinstance(answer, Refusal):
            await respond(interaction, answer, self.bot, started)
        else:
            await send_private(interaction, answer.message, answer, started)

    async def send_post(self, follow: Follow, post: FollowPost) -> int:
        """Send one follow's new events (called by the poster); PostError says why it could not go out."""
        count = f"{post.matched} new event{'s' * (post.matched != 1)}"
        header = f"**New in the archive: {clip(clean(post.rule), 300)}** (follow #{post.follow_id}) — {count}"
        if post.more:
            header += f"\n… and {post.matched - post.events.total} more: `{clip(post.more.replace('`', ''), 300)}`"
        embeds = fit_total([self.bot.renderer.event_embed(event) for event in post.events.events])
        try:
            channel = self.bot.get_channel(follow.channel_id) or await self.bot.fetch_channel(follow.channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                raise PostError(f"<#{follow.channel_id}> is not a channel I can post messages in")
            message = await channel.send(content=clip(header, CONTENT), embeds=embeds, allowed_mentions=NO_MENTIONS)
        except discord.NotFound:
            raise PostError("the channel no longer exists; remove the follow and add it again elsewhere") from None
        except discord.Forbidden:
            raise PostError(
                f"I may not post in <#{follow.channel_id}>: give me View Channel, Send Messages and Embed Links "
                f"there, then `/follow resume id:{follow.id}`"
            ) from None
        except discord.HTTPException as error:
            raise PostError(f"Discord refused the post ({error.status}: {error.text or 'no reason given'})") from None
        return message.id


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(FollowCog(bot))
