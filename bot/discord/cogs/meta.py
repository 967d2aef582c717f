"""/help: every command, with examples, and how much the archive holds."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import handlers
from bot.discord.respond import respond

if TYPE_CHECKING:
    from bot.discord.client import NewsBot


class Meta(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What this bot can do: every command, with examples")
    async def help(self, interaction: discord.Interaction) -> None:
        started = time.monotonic()
        answer = await handlers.help_answer(self.bot.store)
        await respond(interaction, answer, self.bot, started)


async def setup(bot: NewsBot) -> None:
    await bot.add_cog(Meta(bot))
