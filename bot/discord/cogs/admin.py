"""/reindex and /status: re-reading the archive from Discord, and what the bot holds."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.metadata
import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import handlers, scheduler
from bot.answers import IndexProgress, Refusal, Status
from bot.discord.render_discord import CONTENT, clip
from bot.discord.respond import log_command, respond
from bot.discord.views import NO_MENTIONS, OwnedView
from bot.scheduler import ReindexJob, ReindexStopped
from corpus import human_date
from store import IndexBusy, IndexReport, IndexRun, ShrinkRefused

if TYPE_CHECKING:
    from bot.discord.client import NewsBot

log = logging.getLogger("newsbot.reindex")

PROGRESS_EVERY = 3.0  # seconds between progress edits of the /reindex reply
SHOW_REJECTED = 10  # rejected files listed in the final reply


def bot_version() -> str:
    try:
        return importlib.metadata.version("newsbot")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed as a package)"


def when(moment: dt.datetime | str) -> str:
    """A Discord timestamp: each reader sees it in their own time zone."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return f"<t:{int(moment.timestamp())}:f>"


def run_line(run: IndexRun | None) -> str:
    if run is None:
        return "never: run `/reindex` (or `python -m bot index`)"
    return (
        f"{when(run.started_at)} by {run.requested_by or '?'}: {run.scanned:,} files scanned, {run.added:,} added, "
        f"{run.updated:,} updated, {run.removed:,} removed, {run.rejected:,} rejected"
    )


def duration(span: dt.timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min"]
    return " ".join(part for part in parts if part)


async def send_private(interaction: discord.Interaction, content: str, answer: object, started: float) -> None:
    """A reply only the asker sees, and the command's log line."""
    await interaction.response.send_message(clip(content, CONTENT), ephemeral=True, allowed_mentions=NO_MENTIONS)
    log_command(interaction, answer, started)  # type: ignore[arg-type]


def status_text(status: Status) -> str:
    span = (
        f", from {human_date(status.first_day)} to {human_date(status.last_day)}"
        if status.first_day and status.last_day
        else ""
    )
    lines = [
        f"**newsbot {status.version}**, up {duration(status.uptime)}",
        f"Events in the store: {status.events:,}{span}",
        f"Last index run: {run_line(status.last_run)}",
    ]
    if status.indexing:
        lines.append(f"Re-index running: {handlers.describe_progress(status.indexing, scheduler.utc_now())}")
    return "\n".join(lines)


def progress_text(progress: IndexProgress | None) -> str:
    doing = handlers.describe_progress(progress, scheduler.utc_now()) if progress else "finishing"
    return f"Re-indexing the archive… {doing}.\nSearches use the current index until the run has finished."


def report_text(report: IndexReport) -> str:
    lines = [
        f"Re-index finished in {report.seconds:.1f} s: {report.scanned:,} files scanned; "
        f"**{len(report.added):,} added, {len(report.updated):,} updated, {len(report.removed):,} removed, "
        f"{len(report.rejected):,} rejected**. {report.events:,} events in the store, all searchable now."
    ]
    if report.rejected:
        lines.append("Rejected files (skipped; fix them and run `/reindex` again):")
        lines += [f"- `{clip(str(problem), 300)}`" for problem in report.rejected[:SHOW_REJECTED]]
        if len(report.rejected) > SHOW_REJECTED:
            lines.append(f"… and {len(report.rejected) - SHOW_REJECTED:,} more: `python -m bot index` lists them all.")
    return "\n".join(lines)


SHRINK_CONFIRM = (
    "If the archive really lost those files, press **Remove them and re-index**. If not, fix the archive "
    "(or NEWSBOT_ARCHIVE) first: the current index stays as it is."
)


class ConfirmShrink(OwnedView):
    """The buttons under a /reindex that would remove much of the store: go ahead, or leave it."""

    def __init__(self, owner_id: int, admin: Admin) -> None:
        super().__init__(owner_id)
        self.admin = admin

    @discord.ui.button(label="Remove them and re-index", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _: discord.ui.Button[ConfirmShrink]) -> None:
        self.stop()
        await self.admin.start(interaction, time.monotonic(), allow_shrink=True)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _: discord.ui.Button[ConfirmShrink]) -> None:
        self.stop()
        text = "Cancelled: nothing was changed. The current index is still in use."
        await interaction.response.edit_message(content=text, view=None)


class Admin(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot
        self.job = ReindexJob(bot.store, bot.settings.archive)  # None: the folder the store was built from

    @app_commands.command(name="reindex", description="Read the archive again (only what changed); for moderators")
    @app_commands.guild_only()
    async def reindex(self, interaction: discord.Interaction) -> None:
        await self.start(interaction, time.monotonic(), allow_shrink=False)

    async def start(self, interaction: discord.Interaction, started: float, allow_shrink: bool) -> None:
        """Start a run for this interaction (the command, or the confirm button) and follow it."""
        roles = [role.id for role in getattr(interaction.user, "roles", [])]
        answer = await handlers.start_reindex(
            self.bot.store,
            self.job,
            interaction.guild_id or 0,
            interaction.permissions.manage_guild,
            roles,
            f"{interaction.user.name} ({interaction.user.id})",
            scheduler.utc_now(),
            allow_shrink,
        )
        if isinstance(answer, Refusal):
            await respond(interaction, answer, self.bot, started)
            return
        if interaction.type is discord.InteractionType.component:  # the confirm button: its message goes on
            text = f"Confirmed by {interaction.user.mention}. {progress_text(None)}"
            await interaction.response.edit_message(content=text, view=None, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.defer(thinking=True)
        assert self.job.task is not None
        text = await self.follow(interaction, self.job.task)
        log.info("reindex by %s: %s", answer.requested_by, text.splitlines()[0])
        log_command(interaction, None, started)

    async def follow(self, interaction: discord.Interaction, task: asyncio.Task[IndexReport]) -> str:
        """Edit the reply with the run's progress every PROGRESS_EVERY seconds, then with its result."""
        shown = ""
        while not task.done():
            text = progress_text(self.job.running)
            if text != shown:
                await self.edit(interaction, text)
                shown = text
            await asyncio.wait({task}, timeout=PROGRESS_EVERY)
        view = None
        try:
            text = report_text(task.result())
        except ShrinkRefused as error:
            text = f"{error}\n{SHRINK_CONFIRM}"
            view = ConfirmShrink(interaction.user.id, self)
        except IndexBusy as error:
            text = f"Not started: {error}. The current index is still in use; `/status` shows the last run."
        except FileNotFoundError as error:
            text = (
                f"The archive cannot be read: {error}. Set NEWSBOT_ARCHIVE to the folder that holds news/ "
                "and restart the bot. The current index is still in use."
            )
        except ReindexStopped:
            text = "The re-index was stopped because the bot is shutting down; nothing changed. Run /reindex again."
        except Exception as error:
            log.exception("reindex failed")
            text = f"The re-index failed ({error!r}); the current index is still in use. The bot's log has details."
        await self.edit(interaction, text, view)
        if view is not None:
            view.interaction = interaction
        return text

    async def edit(self, interaction: discord.Interaction, text: str, view: discord.ui.View | None = None) -> None:
        try:
            await interaction.edit_original_response(
                content=clip(text, CONTENT), allowed_mentions=NO_MENTIONS, **({"view": view} if view else {})
            )
        except discord.HTTPException as error:  # e.g. the 15-minute interaction token expired
            log.warning("could not update the /reindex reply: %s", error)

    @app_commands.command(name="status", description="Events in the store, the last index run, uptime and version")
    async def status(self, interaction: discord.Interaction) -> None:
        started = time.monotonic()
        uptime = dt.timedelta(seconds=time.monotonic() - self.bot.started)
        answer = await handlers.status(self.bot.store, uptime, bot_version(), self.job.running)
        await send_private(interaction, status_text(answer), answer, started)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Admin(bot))
