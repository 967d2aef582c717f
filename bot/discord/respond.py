"""Sending an answer to a Discord interaction, and the one log line per command."""

from __future__ import annotations

import io
import logging
import time

import discord

from bot.answers import Answer, AskAnswer, EventDetail, EventList, Help, Refusal, TrendAnswer
from bot.charts import describe
from bot.discord.render_discord import TOPIC_CHART_FILE, TREND_FILE
from bot.discord.views import NO_MENTIONS, TIMEOUT, Browser, EventListView, send_detail

log = logging.getLogger("newsbot.commands")

CLOSED = "This command could not finish. Only the person who ran it was told why."

PAGING = (
    "On a list, Previous and Next turn the page and the menu opens one event in full. Only the person "
    f"who asked can use the buttons; they stop after {TIMEOUT / 60:.0f} minutes."
)


async def respond(
    interaction: discord.Interaction,
    answer: Answer,
    browser: Browser,
    started: float,
    chart: bytes | None = None,
    ephemeral: bool = False,
) -> None:
    """Reply (or fill in a deferred reply) with the answer; refusals and help only the asker sees,
    the rest too with `ephemeral`. `chart` is the PNG of a list's chart (a topic's events per month)
    or of a trend."""
    if isinstance(answer, Refusal):
        await _send(interaction, content=browser.renderer.refusal(answer), ephemeral=True)
    elif isinstance(answer, Help):
        await _send(interaction, embed=browser.renderer.help(answer, PAGING), ephemeral=True)
    elif isinstance(answer, EventDetail):
        await send_detail(interaction, answer, browser)
    elif isinstance(answer, TrendAnswer):
        assert chart is not None, "a trend is sent with its chart"
        file = discord.File(io.BytesIO(chart), filename=TREND_FILE, description=describe(answer))
        await _send(interaction, embed=browser.renderer.trend(answer), ephemeral=ephemeral, files=[file])
    else:
        listing = answer.listing() if isinstance(answer, AskAnswer) else answer
        header, files = None, []
        if chart is not None and listing.chart is not None:
            header = browser.renderer.topic_chart(listing.chart)
            files = [discord.File(io.BytesIO(chart), filename=TOPIC_CHART_FILE, description=describe(listing.chart))]
        view = EventListView(interaction.user.id, listing, browser, header)
        content, embeds = view.show()
        extra = {"files": files} if files else {}
        await _send(interaction, content=content, embeds=embeds, view=view, ephemeral=ephemeral, **extra)
        view.interaction = interaction
    log_command(interaction, answer, started)


async def _send(interaction: discord.Interaction, *, ephemeral: bool = False, **message: object) -> None:
    if not interaction.response.is_done():
        await interaction.response.send_message(**message, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
    elif ephemeral:
        await tell_asker(interaction, **message)
    else:  # deferred: edit the "thinking…" message
        files = message.pop("files", None)
        if files:
            message["attachments"] = files
        await interaction.edit_original_response(**message, allowed_mentions=NO_MENTIONS)


async def tell_asker(interaction: discord.Interaction, **message: object) -> None:
    """Send a message only the asker sees (an error, a refusal), whether or not the interaction was answered.

    After a "thinking…" deferral Discord turns the first follow-up into the deferred reply and ignores
    its ephemeral flag: sent as it is, an error after a public deferral would be public. So the deferred
    reply is closed first with a short note that gives nothing away, and the message follows as a
    second, ephemeral follow-up.
    """
    if not interaction.response.is_done():
        await interaction.response.send_message(**message, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
        await interaction.edit_original_response(content=CLOSED, embeds=[], view=None, allowed_mentions=NO_MENTIONS)
    await interaction.followup.send(**message, ephemeral=True, allowed_mentions=NO_MENTIONS)  # type: ignore[arg-type]


def result_count(answer: Answer) -> int:
    if isinstance(answer, EventList):
        return answer.total
    if isinstance(answer, AskAnswer):
        return len(answer.events)
    if isinstance(answer, TrendAnswer):
        return sum(line.total for line in answer.series)
    return 1 if isinstance(answer, EventDetail) else 0


def log_command(interaction: discord.Interaction, answer: Answer | None, started: float) -> None:
    name = interaction.command.qualified_name if interaction.command else "?"
    log.info(
        "command=/%s guild=%s user=%s latency_ms=%.1f results=%d%s",
        name,
        interaction.guild_id or "dm",
        interaction.user.id,
        (time.monotonic() - started) * 1000,
        result_count(answer) if answer else 0,
        " refused" if isinstance(answer, Refusal) else "",
    )
