"""Past one machine: two bot processes, shards 0-1 and 2-3 of 4, sharing one PostgreSQL, through the fake Discord.

Both bots run in this test's event loop but share nothing except the database (each has its own
Store, connection pool, LISTEN connection and gateway shards), as two processes would. The fake
Discord routes the guild to the shard Discord would, (guild_id >> 22) % 4.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import discord
import pytest
from conftest import SEED_2016, running
from fake_discord import FakeDiscord

from bot import scheduler
from bot.config import SAMPLE_ARCHIVE, Settings, ShardRange
from bot.discord.client import NewsBot
from store import IndexBusy, Store, index_archive

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
    """Both bots connected (each waits until every shard of the 4 is live, so they start together).

    discord.py is patched around both: each bot's own patch, entered and left in either order, would
    otherwise leave it pointed at the fake after the test (breaking the next test that expects it not to be)."""
    with fake.patched():
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


def test_doctor_checks_the_database_and_the_shard_range(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSBOT_HEARTBEAT", raising=False)
    from bot.doctor import doctor_checks, heartbeat_path

    checks = {check.name: check for check in doctor_checks(Settings(None, url, None, None, shards=FIRST))}
    assert checks["database"].status == "ok" and checks["database"].detail.startswith(f"PostgreSQL {url}")
    assert "schema version 1" in checks["database"].detail
    assert checks["events"].status == "ok" and checks["events"].detail.startswith("15 events")
    assert checks["shards"].status == "ok" and "shards 0-1/4 in this process" in checks["shards"].detail
    assert heartbeat_path(Settings(None, url, None, None, shards=SECOND)) == Path("var") / "heartbeat-2-3"

    from postgres_server import free_port

    down = f"postgresql://newsbot@127.0.0.1:{free_port()}/newsbot"  # no server on that port
    checks = {check.name: check for check in doctor_checks(Settings(None, down, None, None, shards=FIRST))}
    assert checks["database"].status == "failed" and checks["database"].detail.startswith("cannot connect to")

    file = tmp_path / "one-machine.sqlite3"
    checks = {check.name: check for check in doctor_checks(Settings(None, file, None, None, shards=SECOND))}
    assert checks["shards"].status == "failed" and "postgresql://" in checks["shards"].fix


def test_the_compose_file_runs_postgres_and_two_bots_covering_every_shard_once() -> None:
    import yaml

    from bot.config import parse_shards

    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.postgres.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    bots = [service for name, service in services.items() if name != "postgres"]
    assert len(bots) == 2
    ranges = [parse_shards(bot["environment"]["NEWSBOT_SHARDS"]) for bot in bots]
    assert sorted(shard for shards in ranges for shard in shards.ids) == list(range(ranges[0].count))
    urls = {bot["environment"]["NEWSBOT_DB"] for bot in bots}
    assert len(urls) == 1 and urls.pop().startswith("postgresql://")
    assert all(bot["depends_on"]["postgres"]["condition"] == "service_healthy" for bot in bots)


async def test_an_index_run_killed_midway_loses_nothing_committed_and_frees_the_lock(url: str, archive: Path) -> None:
    import json
    import time

    import psycopg
    from test_store import add_generated_events

    from store.postgres import HOLDER

    def read(sql: str) -> object:
        with psycopg.connect(url) as conn:
            row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
            return row[0] if row else None

    generated = add_generated_events(archive, 3000)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "index", "--db", url, "--archive", str(archive)],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120

        def done() -> int:
            return json.loads(str(read(f"SELECT value FROM settings WHERE key = '{HOLDER}'") or "{}")).get("done", 0)

        while not 1000 <= done() < 3000:
            assert process.poll() is None and time.monotonic() < deadline, "the run never got past its first batch"
            await asyncio.sleep(0.05)
        os.killpg(process.pid, signal.SIGSTOP)  # frozen mid-run, its transaction open and its lock held
        assert read("SELECT count(*) FROM events") == 15  # written, not committed
        read_so_far = f"{done():,} of 3,000 changed files read"
        with pytest.raises(IndexBusy, match=rf"by cli, process \d+ on .*; {read_so_far}"):
            index_archive(url, archive)  # a second run, from anywhere, is told how far the first got
        # A bot (re)starting meanwhile is not held up by the run's locks, and serves the last index.
        async with await asyncio.wait_for(Store.open(url), 10) as store:
            assert store.index.size == 15 and store.generation == 1
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert (read("SELECT count(*) FROM events"), read("SELECT count(*) FROM index_runs")) == (15, 1)
    report = index_archive(url, archive)  # the killed run's lock went with its connection
    assert sorted(report.added) == sorted(generated) and report.generation == 2


def spawn(fake: FakeDiscord, url: str, archive: Path, shards: ShardRange, folder: Path) -> subprocess.Popen[bytes]:
    """A bot process of its own (as `python -m bot run`), holding `shards`, pointed at the fake."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": fake.token,
        "NEWSBOT_DB": url,
        "NEWSBOT_SHARDS": str(shards),
        "NEWSBOT_ARCHIVE": str(archive),
        "NEWSBOT_HEARTBEAT": str(folder / f"heartbeat-{shards.first}"),
    }
    log = (folder / f"bot-{shards.first}-{shards.last}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "bot_process.py"), fake.rest_url, fake.gateway_url],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


async def test_a_bot_process_killed_with_sigkill_loses_nothing_and_its_shards_come_back(
    url: str, archive: Path, tmp_path: Path
) -> None:
    async with FakeDiscord(shard_count=4, guild_shard=1) as fake:  # the guild is on the first process's shards
        first, second = spawn(fake, url, archive, FIRST, tmp_path), spawn(fake, url, archive, SECOND, tmp_path)
        try:
            await fake.wait_ready(timeout=60)
            await set_daily_at_eight(fake)

            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
            assert first.returncode == -signal.SIGKILL
            await fake.wait_for(lambda: not guild_is_served(fake), timeout=10, what="the killed process's shards")
            assert second.poll() is None  # the other process runs on

            first = spawn(fake, url, archive, FIRST, tmp_path)
            await fake.wait_ready(timeout=60)
            shown = await (await fake.slash("settings show", user=fake.admin)).final()
            assert f"Daily post: in <#{fake.channel_id}> at 08:00 (UTC)" in shown["content"]
        finally:
            for process in (first, second):
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in (first, second):
                process.wait(timeout=30)
        identified = sorted(identify["shard"][0] for identify in fake.identifies)
        assert identified == [0, 0, 1, 1, 2, 3], (tmp_path / "bot-0-1.log").read_text(errors="replace")[-2000:]


async def set_daily_at_eight(fake: FakeDiscord) -> None:
    options = {"channel": fake.channel_id, "time": "08:00", "timezone": "UTC"}
    saved = await (await fake.slash("settings daily set", options, user=fake.admin)).final()
    assert "goes to" in saved["content"]


def guild_is_served(fake: FakeDiscord) -> bool:
    shard = (fake.guild_id >> 22) % 4
    return any(session.live and session.shard == (shard, 4) for session in fake._sessions.values())


async def test_several_guilds_over_four_shards_each_answered_by_one_process_and_posted_once(
    url: str, archive: Path
) -> None:
    async with FakeDiscord(shard_count=4, guild_shard=0) as fake:
        for shard in (1, 2, 3, 0, 2):
            fake.add_guild(shard=shard)
        assert sorted(fake.shard_of(guild_id) for guild_id in fake.guilds) == [0, 0, 1, 2, 2, 3]
        async with two_processes(fake, url, archive) as (first, second):
            answered: dict[NewsBot, list[int | None]] = {first: [], second: []}
            for bot in (first, second):

                async def on_interaction(interaction: discord.Interaction, bot: NewsBot = bot) -> None:
                    answered[bot].append(interaction.guild_id)

                bot.add_listener(on_interaction)
            for guild_id in fake.guilds:  # one process holds each guild; the other does not see it
                owner = first if fake.shard_of(guild_id) in FIRST.ids else second
                other = second if owner is first else first
                assert owner.get_guild(guild_id) is not None and other.get_guild(guild_id) is None

            # Every guild at once sets its daily post; each command reaches, and is answered by, one process.
            options = {"time": "08:00", "timezone": "UTC"}
            records = await asyncio.gather(
                *(
                    fake.slash("settings daily set", {**options, "channel": guild.channel_id}, user=fake.admin,
                               guild_id=guild.id)
                    for guild in fake.guilds.values()
                )
            )  # fmt: skip
            for record in records:
                assert "goes to" in (await record.final())["content"]
                assert len(record.callbacks) == 1
            await fake.wait_for(lambda: len(answered[first]) + len(answered[second]) == len(fake.guilds))
            assert sorted(answered[first]) == sorted(g for g in fake.guilds if fake.shard_of(g) in FIRST.ids)
            assert sorted(answered[second]) == sorted(g for g in fake.guilds if fake.shard_of(g) in SECOND.ids)

            # Both processes' schedulers, twice each, at the moment every post is due: one post per guild.
            due = dt.datetime(2030, 4, 3, 8, 0, tzinfo=dt.UTC)
            sent = await asyncio.gather(*(bot.get_cog("Daily").poster.tick(due) for bot in (first, second) * 2))
            assert sum(sent) == len(fake.guilds)
            for guild in fake.guilds.values():
                posts = fake.channel_messages.get(guild.channel_id, [])
                assert len(posts) == 1 and posts[0]["guild_id"] == str(guild.id)
        assert fake.unhandled == []


async def test_a_reindex_through_one_bot_process_reaches_the_other_process_without_a_restart(
    url: str, archive: Path, tmp_path: Path
) -> None:
    async with FakeDiscord(shard_count=4, guild_shard=1) as fake:  # the first guild on the first process's shards
        elsewhere = fake.add_guild(shard=2)  # and one on the second's
        first, second = spawn(fake, url, archive, FIRST, tmp_path), spawn(fake, url, archive, SECOND, tmp_path)
        try:
            await fake.wait_ready(timeout=60)

            async def answer_elsewhere(query: str) -> str:
                record = await fake.slash("events", {"query": query}, guild_id=elsewhere.id)
                assert record.shard == (2, 4)  # the second process's connection
                return str(await record.final(timeout=10))

            assert "retakes control" in await answer_elsewhere("al-qaryatayn")
            before = await answer_elsewhere("regains")
            assert "regains" in before and "control" not in before  # no such word in the index yet
            assert await asyncio.to_thread(listening, url) == 2  # each process waits for announcements
            seed = archive / SEED_2016
            seed.write_text(seed.read_text(encoding="utf-8").replace("retakes control", "regains control"), "utf-8")

            reindex = await fake.slash("reindex", user=fake.admin)
            assert reindex.shard == (1, 4)  # through the first process
            final = await reindex.wait_until(lambda m: "Re-index finished" in m["content"], timeout=60)
            assert "1 updated" in final["content"]

            # The second process reloads from the announcement: asked again until its index knows the new word
            # (the events' text comes from the database, so only a search for the word tells which index answers).
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30  # a generous bound, not a timing
            while "regains control" not in await answer_elsewhere("regains"):
                assert loop.time() < deadline, "the second process still answers from the old index after 30 s"
                await asyncio.sleep(0.5)
            assert first.poll() is None and second.poll() is None  # neither restarted
            log = (tmp_path / "bot-2-3.log").read_text(errors="replace")
            assert "search index reloaded: generation 1 -> 2" in log, log[-2000:]
        finally:
            for process in (first, second):
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in (first, second):
                process.wait(timeout=30)
        assert sorted(identify["shard"][0] for identify in fake.identifies) == [0, 1, 2, 3]


def listening(url: str) -> int:
    """How many connections to the database LISTEN for new index generations."""
    import psycopg

    from store.postgres import CHANNEL

    with psycopg.connect(url) as conn:
        sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = %s"
        row = conn.execute(sql, (f"LISTEN {CHANNEL}",)).fetchone()
        return int(row[0]) if row else 0
