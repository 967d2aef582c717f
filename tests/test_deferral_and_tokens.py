"""Two Discord rules the bot must live with, tested against the fake that keeps them as Discord does.

- After a "thinking..." deferral, the first follow-up becomes the deferred reply and its ephemeral
  flag is ignored: an error or a refusal after a public deferral must not end up public.
- An interaction token edits its reply for 15 minutes: the buttons a view disables on timeout
  are edited with the newest token of their message, and an edit refused anyway is skipped quietly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
from conftest import running
from discord import app_commands
from fake_discord import EPHEMERAL, FakeDiscord

import bot.discord.views
from bot.answers import Refusal
from bot.config import Settings
from bot.discord.client import NewsBot
from bot.discord.respond import CLOSED, respond
from store import Store

WENT_WRONG = "Something went wrong on our side"
DEFERRED = 5


class Failing(NewsBot):
    """The bot with /broken, which fails or refuses at the moment the test names."""

    async def setup_hook(self) -> None:
        self.release = asyncio.Event()  # "late" fails once the test sets it

        @app_commands.command(name="broken", description="Fails on purpose")
        @app_commands.describe(when="before, public, ephemeral, refusal or late")
        async def broken(interaction: discord.Interaction, when: str) -> None:
            if when == "late":
                await interaction.response.defer(thinking=True)
                await self.release.wait()
                raise RuntimeError("a bug, after the token expired")
            if when == "refusal":
                await interaction.response.defer(thinking=True)
                await respond(interaction, Refusal("Nothing to see here; try /help."), self, time.monotonic())
                return
            if when != "before":
                await interaction.response.defer(thinking=True, ephemeral=when == "ephemeral")
            raise RuntimeError("a bug")

        self.tree.add_command(broken)
        await super().setup_hook()


@pytest.fixture
async def failing_bot(fake: FakeDiscord, sample_db: Path, sample_archive: Path) -> AsyncIterator[Failing]:
    async with await Store.open(sample_db) as store:
        newsbot = Failing(store, Settings(sample_archive, sample_db, None, None), guild_ready_timeout=0.05)
        async with fake.running(newsbot):
            yield newsbot


@pytest.fixture
def failing(fake: FakeDiscord, failing_bot: Failing) -> FakeDiscord:
    return fake


def public_text(fake: FakeDiscord) -> str:
    """Everything in the channel that everyone sees."""
    return "\n".join(m["content"] for m in fake.messages.values() if not m["flags"] & EPHEMERAL)


@pytest.mark.parametrize("when", ["before", "public", "ephemeral", "refusal"])
async def test_an_error_after_a_deferral_is_told_only_to_the_asker(failing: FakeDiscord, when: str) -> None:
    fake = failing
    record = await fake.slash("broken", {"when": when})
    expected = "Nothing to see here" if when == "refusal" else WENT_WRONG
    told = await fake.wait_for(
        lambda: [m for m in fake.messages.values() if expected in m["content"]], what="the error message"
    )
    await record.final()
    (message,) = told
    assert message["flags"] & EPHEMERAL
    assert expected not in public_text(fake)
    if when == "before":
        assert record.callbacks[0]["type"] == 4 and record.followups == []
    else:
        # The deferred reply is closed with a note that gives nothing away; the error follows it, privately.
        assert record.callbacks[0]["type"] == DEFERRED
        original = record.message
        assert original is not None and original["content"] == CLOSED
        assert bool(original["flags"] & EPHEMERAL) is (when == "ephemeral")
        assert message["id"] != original["id"] and record.followups[-1]["id"] == message["id"]


async def test_an_error_after_the_token_expired_is_logged(
    fake: FakeDiscord, failing_bot: Failing, caplog: pytest.LogCaptureFixture
) -> None:
    fake.expect_refusal(401, 50027)
    record = await fake.slash("broken", {"when": "late"})
    assert (await record.response())["type"] == DEFERRED
    fake.advance(16 * 60)
    failing_bot.release.set()
    await fake.wait_for(lambda: fake.refusals, what="the error's edit")
    await fake.wait_for(
        lambda: [r for r in caplog.records if "could not tell the user that /broken failed" in r.getMessage()],
        what="the warning",
    )
    assert [(r.status, r.code) for r in fake.refusals] == [(401, 50027)]


async def test_browsing_hands_the_view_a_newer_token(
    fake: FakeDiscord, sample_db: Path, sample_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.discord.views, "TIMEOUT", 1.0)
    async with running(fake, sample_db, sample_archive):
        record = await fake.slash("events", {"query": "al-qaryatain"})
        message = await record.final()
        fake.advance(10 * 60)
        next_button = next(c for row in message["components"] for c in row["components"] if c.get("label") == "Next")
        click = await fake.click(record, next_button["custom_id"])
        assert "page 2 of 2" in (await click.final())["content"]
        fake.advance(10 * 60)  # 20 minutes after the command, 10 after the click
        disabled = await record.wait_until(
            lambda m: all(c.get("disabled") for row in m["components"] for c in row["components"])
        )
    assert "page 2 of 2" in disabled["content"]
    assert ("PATCH", f"/webhooks/{fake.app_id}/{click.token}/messages/@original") in fake.requests
    assert fake.refusals == []


async def test_a_timeout_after_the_token_expired_leaves_the_buttons_quietly(
    fake: FakeDiscord,
    sample_db: Path,
    sample_archive: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(bot.discord.views, "TIMEOUT", 0.5)
    fake.expect_refusal(401, 50027)
    async with running(fake, sample_db, sample_archive):
        record = await fake.slash("events", {"query": "al-qaryatain"})
        message = await record.final()
        fake.advance(16 * 60)  # as if the view's timeout were longer than a token lives
        await fake.wait_for(lambda: fake.refusals, what="the timeout's edit")
    assert [(r.method, r.status, r.code) for r in fake.refusals] == [("PATCH", 401, 50027)]
    assert record.message == message  # the buttons stay as they were
    assert any("could not disable the buttons" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith(("newsbot", "discord"))]
