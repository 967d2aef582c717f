"""Operations: stopping on SIGTERM mid re-index, per-user rate limits, sharding, and reconnecting.

Discord is the fake Discord throughout; the shutdown tests run the real `run_bot` in a child
process (with the fake in that process) and send it SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import running
from discord.ext import commands
from fake_discord import EPHEMERAL, FakeDiscord

from bot import scheduler
from bot.config import SettingError, Settings, ShardRange, parse_rate_limit, parse_shards
from bot.discord.client import NewsBot, ShardedNewsBot, make_bot, run_async, run_bot, sync_only
from store import Store, index_archive

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
UTC = dt.UTC
GENERATED = 3000


class Clock:
    """A clock the test moves: the rate limiter's monotonic seconds, or the scheduler's UTC time."""

    def __init__(self, now: float | dt.datetime) -> None:
        self.now = now

    def __call__(self) -> float | dt.datetime:
        return self.now


def scalar(db: Path, sql: str) -> object:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def table_counts(db: Path) -> dict[str, int]:
    tables = ("events", "sources", "related", "topics", "search_docs", "search_terms", "index_runs")
    return {table: int(scalar(db, f"SELECT count(*) FROM {table}")) for table in tables}


def add_generated_events(archive: Path, count: int) -> None:
    for number in range(count):
        day = dt.date(2019, 1, 1) + dt.timedelta(days=number // 3)
        file = archive / f"news/{day:%Y/%m}/{day.day}/generated-{number}.md"
        file.parent.mkdir(parents=True, exist_ok=True)
        text = f"### [{day.year}-{day.month:02d}-{day.day}](/news/{day:%Y/%m}/{day.day}/index.md)\n\n"
        file.write_text(text + f"# Generated event number {number} about the harbour of Xanadu \n", encoding="utf-8")


# Graceful shutdown

SERVE = textwrap.dedent(
    """
    import asyncio, logging, sys, time
    from pathlib import Path

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    tests, db, archive, marker, pause = sys.argv[1:6]
    sys.path.insert(0, tests)

    import bot.discord.client
    import store.ingest
    from bot.config import Settings
    from fake_discord import FakeDiscord

    ingest = store.ingest.index_archive

    def slow_index(db_path, root, requested_by, progress, *rest):
        def report(done, total):
            progress(done, total)  # the bot's own callback: it stops the run once the bot is stopping
            Path(marker).write_text(f"{done} {total}")
            if done > 0:
                time.sleep(float(pause))  # a batch is written inside the run's transaction
        return ingest(db_path, root, requested_by, report, *rest)

    store.ingest.index_archive = slow_index  # Store.index_archive looks it up there
    made = []
    make_bot = bot.discord.client.make_bot

    def quick_bot(store, settings, **options):
        made.append(make_bot(store, settings, guild_ready_timeout=0.05, **options))
        return made[-1]

    bot.discord.client.make_bot = quick_bot

    async def main():
        async with FakeDiscord() as fake:
            with fake.patched():
                settings = Settings(Path(archive), Path(db), None, fake.token)
                running = asyncio.create_task(bot.discord.client.run_bot(settings))
                await fake.wait_ready(10)
                while not made:
                    await asyncio.sleep(0.01)
                await asyncio.wait_for(made[0].wait_until_ready(), 10)
                await fake.slash("reindex", user=fake.admin)
                code = await running
                print("run_bot returned", code, file=sys.stderr)
                return code

    sys.exit(bot.discord.client.run_async(main()))  # as `python -m bot run`: on uvloop
    """
)


def survivors(group: int, wait: float = 3.0) -> str:
    """Live (not zombie) processes of a process group, after up to `wait` seconds; '' if none."""
    deadline = time.monotonic() + wait
    while True:
        ps = subprocess.run(["ps", "-o", "stat=,pid=,args=", "-g", str(group)], capture_output=True, text=True)
        live = "".join(line for line in ps.stdout.splitlines(keepends=True) if not line.lstrip().startswith("Z"))
        if not live or time.monotonic() > deadline:
            return live
        time.sleep(0.1)


@pytest.mark.parametrize(
    "pause",
    [
        pytest.param(0.5, id="the run stops at its next batch"),
        pytest.param(600.0, id="a stuck run is abandoned"),
    ],
)
def test_sigterm_during_a_reindex_leaves_a_whole_store(
    tmp_path: Path, sample_archive: Path, sample_db: Path, pause: float
) -> None:
    before = table_counts(sample_db)
    add_generated_events(sample_archive, GENERATED)
    marker = tmp_path / "progress.txt"
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(TESTS), str(sample_db), str(sample_archive), str(marker), str(pause)],
        cwd=ROOT,
        start_new_session=True,  # its own process group: nothing it starts may outlive it
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (marker.exists() and marker.read_text().startswith("1000 ")):
            assert process.poll() is None, f"the bot ended before the signal: {process.stderr.read()}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the re-index never got past its first batch"
            time.sleep(0.05)
        assert marker.read_text() == f"1000 {GENERATED}"
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("the bot did not exit within 10 s of SIGTERM")
        took = time.monotonic() - signalled
        assert not survivors(process.pid), "processes of the bot outlived it"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # stray worker processes, if any
        process.wait()
    log = process.stderr.read()  # type: ignore[union-attr]
    process.stderr.close()  # type: ignore[union-attr]
    assert process.returncode == 0, log
    assert took < 10
    assert "SIGTERM received: shutting down" in log
    if pause > 10:
        assert "abandoned; its transaction rolls back" in log
    else:
        assert "abandoned" not in log
        assert "run_bot returned 0" in log
        assert "Session is closed" not in log  # the /reindex reply was edited before the bot closed

    assert scalar(sample_db, "PRAGMA integrity_check") == "ok"
    after = table_counts(sample_db)
    generated = scalar(sample_db, "SELECT count(*) FROM events WHERE headline LIKE 'Generated event%'")
    if after == before:  # the old index, whole
        assert generated == 0
    else:  # or the new one, whole
        assert generated == GENERATED
        assert after["events"] == before["events"] + GENERATED
        assert after["index_runs"] == before["index_runs"] + 1
    # The next run does the whole job.
    report = index_archive(sample_db, sample_archive)
    assert report.events == before["events"] + GENERATED


async def test_stopping_refuses_commands_and_closes(fake: FakeDiscord, sample_db: Path, sample_archive: Path) -> None:
    async with running(fake, sample_db, sample_archive) as bot:
        bot.stopping = True  # what shut_down sets first
        reply = await (await fake.slash("status", user=fake.member)).final()
        assert reply["flags"] & EPHEMERAL
        assert reply["content"] == "The bot is restarting; please try again in a minute."
        assert await bot.shut_down(grace=1.0) is True
        assert bot.is_closed()


# Rate limits


async def test_the_sixth_command_in_a_burst_is_told_to_slow_down(
    fake: FakeDiscord, sample_db: Path, sample_archive: Path
) -> None:
    clock = Clock(1000.0)
    async with running(fake, sample_db, sample_archive, rate_limit=(5, 10.0)) as bot:
        assert bot.rate_limiter is not None
        bot.rate_limiter.clock = clock  # type: ignore[assignment]
        for n in range(5):
            clock.now = 1000.0 + n
            reply = await (await fake.slash("status", user=fake.member)).final()
            assert reply["content"].startswith("**newsbot "), n
            # Autocomplete (one per keystroke) is not counted.
            assert await fake.autocomplete("event", {"event": "palm"}, "event", user=fake.member) is not None
        clock.now = 1006.5
        slowed = await (await fake.slash("status", user=fake.member)).final()
        assert slowed["flags"] & EPHEMERAL
        assert slowed["content"] == "Slow down: at most 5 commands every 10 seconds. Try again in 4 s."
        # Another user is not affected.
        other = await (await fake.slash("status", user=fake.admin)).final()
        assert other["content"].startswith("**newsbot ")
        # Once the first command of the burst is 10 s old, the user may go on.
        clock.now = 1010.0
        again = await (await fake.slash("status", user=fake.member)).final()
        assert again["content"].startswith("**newsbot ")
        slowed_again = await (await fake.slash("status", user=fake.member)).final()
        assert slowed_again["content"].startswith("Slow down:")


@pytest.mark.parametrize("command", ["run", "sync"])
async def test_a_token_discord_refuses_stops_with_what_to_do(
    command: str, sample_db: Path, sample_archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeDiscord() as fake:
        fake.expect_refusal(401)  # as Discord answers a token reset since: 401 Unauthorized
        with fake.patched():
            settings = Settings(sample_archive, sample_db, None, fake.token + "-reset-since")
            code = await (run_bot(settings) if command == "run" else sync_only(settings, None))

    assert code == 2  # a setting to fix: the systemd unit does not restart on 2
    assert "Discord refused the token in DISCORD_TOKEN" in capsys.readouterr().err
    assert [(r.method, r.path, r.status) for r in fake.refusals] == [("GET", "/users/@me", 401)]
    assert fake.identifies == [] and fake.command_syncs == []


def test_the_bot_runs_on_uvloop_where_it_is_installed() -> None:
    async def loop_class() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run_async(loop_class()).startswith("uvloop")  # a dependency everywhere but Windows


def test_rate_limit_and_shards_settings() -> None:
    assert parse_rate_limit("") == (5, 10.0)
    assert parse_rate_limit("3/60") == (3, 60.0)
    assert parse_rate_limit(" 10 / 2.5 ") == (10, 2.5)
    assert parse_rate_limit("off") is None
    for bad in ("5", "five/10", "0/10", "5/0"):
        with pytest.raises(SettingError, match="NEWSBOT_RATE_LIMIT"):
            parse_rate_limit(bad)
    assert parse_shards("") is None
    assert parse_shards("AUTO") == "auto"
    assert parse_shards("4") == 4
    assert parse_shards("0-3/8") == ShardRange(0, 3, 8) and parse_shards("0-3/8").ids == [0, 1, 2, 3]
    assert parse_shards(" 5 / 8 ") == ShardRange(5, 5, 8) and str(ShardRange(2, 3, 4)) == "2-3/4"
    for bad in ("0", "-1", "many", "3-1/8", "0-8/8", "1-2/"):
        with pytest.raises(SettingError, match="NEWSBOT_SHARDS"):
            parse_shards(bad)


def test_a_bad_setting_is_a_usage_error(tmp_path: Path) -> None:
    env = {**os.environ, "NEWSBOT_RATE_LIMIT": "lots", "NEWSBOT_DB": str(tmp_path / "x.sqlite3")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True
    )
    assert result.returncode == 2
    assert b"NEWSBOT_RATE_LIMIT='lots': write COMMANDS/SECONDS" in result.stderr


# Sharding


@pytest.mark.parametrize("shards", ["auto", 2])
async def test_a_sharded_bot_identifies_every_shard_and_answers(
    sample_db: Path, sample_archive: Path, shards: str | int
) -> None:
    async with FakeDiscord(shard_count=2) as fake, running(fake, sample_db, sample_archive, shards=shards) as bot:
        assert isinstance(bot, ShardedNewsBot) and isinstance(bot, commands.AutoShardedBot)
        assert bot.shard_count == 2
        assert sorted(tuple(identify["shard"]) for identify in fake.identifies) == [(0, 2), (1, 2)]
        assert len(bot.shards) == 2
        reply = await (await fake.slash("on", {"date": "2016-04-03"})).final()
        assert "3 April 2016" in reply["content"] or reply.get("embeds"), reply
        status = await (await fake.slash("status", user=fake.member)).final()
        assert status["content"].startswith("**newsbot ")
    assert fake.unhandled == []


async def test_without_shards_the_bot_is_not_sharded(sample_db: Path) -> None:
    async with await Store.open(sample_db) as store:
        bot = make_bot(store, Settings(sample_db, sample_db, None, None))
        assert type(bot) is NewsBot and not isinstance(bot, commands.AutoShardedBot)
        await bot.close()


# Reconnecting


@pytest.fixture
def day_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(dt.datetime(2030, 4, 3, 4, 0, tzinfo=UTC))  # 06:00 in Berlin
    monkeypatch.setattr(scheduler, "utc_now", clock)
    monkeypatch.setattr(scheduler, "TICK_SECONDS", 3600.0)  # the loop ticks once at start; the test ticks the rest
    return clock


async def tick(bot: NewsBot, now: dt.datetime) -> int:
    return await bot.get_cog("Daily").poster.tick(now)  # type: ignore[union-attr]


@pytest.mark.parametrize("resumable", [True, False], ids=["resume", "identify again"])
async def test_after_the_gateway_drops_the_bot_reconnects_answers_and_posts_once(
    fake: FakeDiscord, sample_db: Path, sample_archive: Path, day_clock: Clock, resumable: bool
) -> None:
    async with running(fake, sample_db, sample_archive, reconnect=True) as bot:
        set_reply = await (
            await fake.slash(
                "settings daily set",
                {"channel": fake.channel_id, "time": "08:00", "timezone": "Europe/Berlin"},
                user=fake.admin,
            )
        ).final()
        assert "08:00" in set_reply["content"] or set_reply.get("embeds"), set_reply
        assert await tick(bot, dt.datetime(2030, 4, 3, 5, 59, tzinfo=UTC)) == 0  # 07:59 in Berlin

        identified = len(fake.identifies)
        assert await fake.drop_connections(resumable=resumable) == 1
        if resumable:
            await fake.wait_for(lambda: fake.resumes, 15, what="a RESUME")
        else:
            await fake.wait_for(lambda: len(fake.identifies) > identified, 15, what="a new IDENTIFY")
        await fake.wait_ready(15)

        reply = await (await fake.slash("status", user=fake.member)).final(timeout=10)
        assert reply["content"].startswith("**newsbot ")

        due = dt.datetime(2030, 4, 3, 6, 0, tzinfo=UTC)  # 08:00 in Berlin
        assert await tick(bot, due) == 1
        await fake.drop_connections(resumable=resumable)
        await fake.wait_for(lambda: len(fake.resumes) >= 2 or len(fake.identifies) > identified + 1, 15)
        await fake.wait_ready(15)
        assert await tick(bot, due + dt.timedelta(minutes=1)) == 0
        assert await tick(bot, due + dt.timedelta(hours=3)) == 0
        posts = fake.channel_messages.get(fake.channel_id, [])
        assert len(posts) == 1
