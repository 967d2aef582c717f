"""/help through the fake Discord, and the console's help: every command, and only real ones."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from fake_discord import EPHEMERAL
from test_discord_events import CHANNEL_MESSAGE, check_everything_sent, reply, started

from bot.usage import SECTIONS
from store.ingest import index_archive

SUBCOMMAND, GROUP = 1, 2
MESSAGE_MENU = 3  # a command's type: in a message's Apps menu


def command_paths(commands: list[dict[str, Any]], prefix: str = "/") -> set[str]:
    """ "/events", "/settings daily set", "Apps → Search the archive", ...: every command a user can run,
    from a synced tree."""
    paths = set()
    for command in commands:
        if command.get("type") == MESSAGE_MENU:
            paths.add(f"Apps → {command['name']}")
            continue
        nested = [option for option in command.get("options") or [] if option["type"] in (SUBCOMMAND, GROUP)]
        path = prefix + command["name"]
        paths |= command_paths(nested, path + " ") if nested else {path}
    return paths


def usage_path(command: str) -> str:
    """ "/events <words> [from] [to]" -> "/events"."""
    return re.split(r" [<\[]", command)[0]


async def test_help_lists_every_command_the_bot_registers(sample_db: Path) -> None:
    async with started(sample_db) as (fake, _):
        tree = command_paths(fake.command_syncs[0].commands)
        record, message = await reply(fake, "help", {})

        callback = record.callbacks[0]
        assert callback["type"] == CHANNEL_MESSAGE
        assert callback["data"]["flags"] & EPHEMERAL  # only the asker sees it
        [embed] = message["embeds"]
        assert "The archive holds 15 events, 6 August 2015 to 1 October 2017." in embed["description"]
        assert "Previous and Next" in embed["footer"]["text"]
        listed = {usage_path(usage.command) for _, usages in SECTIONS for usage in usages}
        assert listed == tree  # nothing unlisted, nothing that does not exist
        shown = "\n".join(field["value"] for field in embed["fields"])
        for path in tree:
            assert f"`{path}" in shown, path
        assert "e.g. `/events al-qaryatain from:2016`" in shown
        assert [field["name"] for field in embed["fields"]] == [title for title, _ in SECTIONS]
        check_everything_sent(fake)


async def test_help_on_an_empty_archive_says_how_to_fill_it(tmp_path: Path) -> None:
    db = tmp_path / "empty.sqlite3"
    (tmp_path / "archive" / "news").mkdir(parents=True)
    assert index_archive(db, tmp_path / "archive").events == 0
    async with started(db) as (fake, _):
        _, message = await reply(fake, "help", {})
        assert "The archive is empty: a moderator can load it with /reindex." in message["embeds"][0]["description"]


def test_console_help_lists_what_the_console_can_do(sample_db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--db", str(sample_db)],
        input="help\n/settings show\n/topic syrian civil war order:newest\n",
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    help_text, rest = result.stdout.split("There is no '/settings' here; type help for the commands.")
    assert "The archive holds 15 events, 6 August 2015 to 1 October 2017." in help_text
    for command in ("/events <words> [from] [to]", "/on <date>", "/event <event>", "/topic <name>", "/ask <question>"):
        assert command in help_text
    assert "/settings" not in help_text and "/onthisday" not in help_text  # Discord only
    assert "n, p" in help_text
    assert "Timeline of Syrian Civil War (newest first)" in rest
