"""`python tests/bot_process.py REST_URL GATEWAY_URL`: the bot as `python -m bot run` starts it, in a
process of its own, pointed at a fake Discord (its settings from the environment: DISCORD_TOKEN,
NEWSBOT_DB, NEWSBOT_SHARDS, ...). For the tests of several bot processes sharing one database."""

from __future__ import annotations

import logging
import sys

import discord
import yarl


async def _identify_at_once(self: discord.Client, shard_id: int | None, *, initial: bool = False) -> None:
    """discord.py waits 5 s between IDENTIFYs of its shards; the fake has no such limit."""


def main(rest_url: str, gateway_url: str) -> int:
    from bot.config import Settings
    from bot.discord.client import NewsBot, run_async, run_bot

    discord.http.Route.BASE = rest_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    NewsBot.before_identify_hook = _identify_at_once  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_async(run_bot(Settings.load()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
