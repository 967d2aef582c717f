"""Past one machine: two bot processes, shards 0-1 and 2-3 of 4, sharing one PostgreSQL, through the fake Discord.

Both bots run in this test's event loop but share nothing except the database (each has its own
Store, connection pool, LISTEN connection and gateway shards), as two processes would. The fake
Discord routes the guild to the shard Discord would, (guild_id >> 22) % 4.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from conftest import SEED_2016, running
from fake_discord import FakeDiscord

from bot import scheduler
from bot.config import SAMPLE_ARCHIVE, ShardRange
from bot.discord.client import NewsBot
from store import index_archive

ROOT = Path(__file__).resolve().parents[1]
FIRST, SECOND = ShardRange(0, 1, 4), ShardRange(2, 3, 4)
NOW = dt.datetime(2030, 4, 3, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(SAMPLE_ARCHIVE, copy)
    return copy


@pytest.fixture
def url(postgres_server, archive: Path) -> str:
    url = postgres_server.new_database()
    index_archive(url, archive)
    return url


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "utc_now", lambda: NOW)
    monkeypatch.setattr(scheduler, "TICK_SECONDS", 3600.0)  # the loop ticks once at start; the test ticks the rest


@asynccontextmanager
async def two_processes(fake: FakeDiscord, url: str, archive: Path) -> AsyncIterator[tuple[NewsBot, NewsBot]]:
    """Both bots connected (each waits until every shard of the 4 is live, so they start together)."""
    async with AsyncExitStack() as stack:
        first, second = await asyncio.gather(
            stack.enter_async_context(running(fake, url, archive, shards=FIRST)),
            stack.enter_async_context(running(fake, url, archive, shards=SECOND)),
        )
        yield first, second


def holder(fake: FakeDiscord, first: NewsBot, second: NewsBot) -> tuple[NewsBot, NewsBot]:
    """(the bot whose shards hold the fake's guild, the other one)."""
    shard = (fake.guild_id >> 22) % 4
    return (first, second) if shard in FIRST.ids else (second, first)


@pytest.mark.parametrize("guild_shard", [1, 2], ids=["guild-on-shards-0-1", "guild-on-shards-2-3"])
async def test_two_processes_share_one_postgres(url: str, archive: Path, guild_shard: int) -> None:
    async with FakeDiscord(shard_count=4, guild_shard=guild_shard) as fake, two_processes(fake, url, archive) as bots:
        first, second = bots
        assert sorted(tuple(identify["shard"]) for identify in fake.identifies) == [(n, 4) for n in range(4)]
        assert sorted(first.shards) == FIRST.ids and sorted(second.shards) == SECOND.ids
        owner, other = holder(fake, first, second)
        assert owner.get_guild(fake.guild_id) is not None and other.get_guild(fake.guild_id) is None

        # The guild's commands reach the process that holds its shard; a setting made there is the other's too.
        saved = await (
            await fake.slash(
                "settings daily set", {"channel": fake.channel_id, "time": "08:00", "timezone": "UTC"}, user=fake.admin
            )
        ).final()
        assert "goes to" in saved["content"]
        from store.guilds import Guilds

        daily = (await Guilds(other.store).get(fake.guild_id)).daily
        assert daily is not None and daily.time == "08:00"

        # Both processes' schedulers see the post due at the same moment: it goes out once.
        due = dt.datetime(2030, 4, 3, 8, 0, tzinfo=dt.UTC)
        sent = await asyncio.gather(*(bot.get_cog("Daily").poster.tick(due) for bot in (first, second) * 2))
        assert sorted(sent) == [0, 0, 0, 1]
        assert len(fake.channel_messages.get(fake.channel_id, [])) == 1

        # /reindex through the holder: the other process reloads from the announcement, not a restart.
        seed = archive / SEED_2016
        seed.write_text(seed.read_text(encoding="utf-8").replace("retakes control", "regains control"), "utf-8")
        before = other.store.generation
        final = await (await fake.slash("reindex", user=fake.admin)).wait_until(
            lambda m: "Re-index finished" in m["content"]
        )
        assert "1 updated" in final["content"]
        await fake.wait_for(lambda: other.store.generation == before + 1, timeout=5, what="the other to reload")
        assert [f.event.path for f in await other.store.search("regains")] == [SEED_2016]


async def test_an_index_run_elsewhere_reaches_both_and_a_second_run_is_told_how_far_the_first_got(
    url: str, archive: Path
) -> None:
    async with FakeDiscord(shard_count=4, guild_shard=3) as fake, two_processes(fake, url, archive) as bots:
        seed = archive / SEED_2016
        seed.write_text(seed.read_text(encoding="utf-8").replace("retakes control", "wins back control"), "utf-8")
        from store.postgres import index_lock

        with index_lock(url, "cron on another machine"):
            reply = await (await fake.slash("reindex", user=fake.admin)).final()
            assert "another index run is in progress" in reply["content"]
            assert "cron on another machine" in reply["content"]
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "index", "--db", url, "--archive", str(archive)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        for bot in bots:
            await fake.wait_for(lambda bot=bot: bot.store.generation == 2, timeout=5, what="both to reload")
        answer = await (await fake.slash("events", {"query": "wins back"})).final()
        assert "wins back control" in str(answer)
