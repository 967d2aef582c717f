"""/onthisday, /settings and the daily post, end to end through the fake Discord with a chosen clock."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import discord
import pytest
from conftest import running
from fake_discord import EPHEMERAL, MANAGE_GUILD, FakeDiscord

from bot import scheduler
from bot.discord.client import NewsBot
from bot.handlers import spread_years
from bot.scheduler import due_at
from store import index_archive

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC


class Clock:
    """The time the bot sees (scheduler.utc_now), moved by the test."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def write_event(root: Path, day: dt.date, slug: str, sources: int = 1, related: int = 0) -> str:
    path = f"news/{day.year}/{day.month:02d}/{day.day}/{slug}.md"
    lines = [f"### [{day.year}-{day.month:02d}-{day.day}](/news/{day.year}/{day.month:02d}/{day.day}/index.md)", ""]
    lines += [f"# Event {slug} happens. ", "", "### Source:", ""]
    lines += [f"{n}. [Source {n}](http://example.com/{slug}/{n})" for n in range(1, sources + 1)]
    lines += ["", "### Related:", ""]
    lines += [f"{n}. [Other {n} ](/news/2001/01/1/other-{n}.md) _Context: Topic {n}_" for n in range(1, related + 1)]
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Events on 3 April: one in 2013, three in 2014, twelve in 2015, one in 2030 (not "earlier")."""
    root = tmp_path / "archive"
    write_event(root, dt.date(2013, 4, 3), "a2013")
    for n in range(3):
        write_event(root, dt.date(2014, 4, 3), f"a2014-{n}", sources=1 + n)
    for n in range(12):
        write_event(root, dt.date(2015, 4, 3), f"a2015-{n:02d}", sources=1, related=n)
    write_event(root, dt.date(2030, 4, 3), "a2030")
    write_event(root, dt.date(2015, 4, 4), "another-day")
    write_event(root, dt.date(2015, 3, 31), "end-of-march")
    write_event(root, dt.date(2015, 10, 27), "end-of-october")
    write_event(root, dt.date(2015, 4, 2), "the-day-before")
    return root


@pytest.fixture
def db(tmp_path: Path, archive: Path) -> Path:
    db = tmp_path / "daily.sqlite3"
    index_archive(db, archive)
    return db


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(dt.datetime(2030, 4, 3, 4, 0, tzinfo=UTC))
    monkeypatch.setattr(scheduler, "utc_now", clock)
    monkeypatch.setattr(scheduler, "TICK_SECONDS", 3600.0)  # the loop ticks once at start; tests tick the rest
    return clock


def posts(fake: FakeDiscord, channel_id: int) -> list[dict]:
    return fake.channel_messages.get(channel_id, [])


def sent_log(db: Path) -> list[tuple[str, str | None, str | None]]:
    """The daily_posts table: (day, sent_at, error)."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT day, sent_at, error FROM daily_posts ORDER BY day").fetchall()
    finally:
        conn.close()


async def set_daily(fake: FakeDiscord, channel_id: int, time: str, timezone: str = "Europe/Berlin") -> dict:
    rec = await fake.slash(
        "settings daily set", {"channel": channel_id, "time": time, "timezone": timezone}, user=fake.admin
    )
    return await rec.final()


async def tick(bot: NewsBot, now: dt.datetime) -> int:
    """One pass of the daily-post scheduler at `now`; how many posts went out."""
    return await bot.get_cog("Daily").poster.tick(now)


# /onthisday


def test_spread_years_takes_each_year_in_turn() -> None:
    # (id, date, sources and related lines), newest first as the store gives them
    events = [(100 + n, dt.date(2015, 4, 3), n) for n in range(5)]
    events += [(105, dt.date(2014, 4, 3), 1), (106, dt.date(2012, 4, 3), 0), (107, dt.date(2012, 4, 3), 0)]
    assert spread_years(events, 6) == [104, 105, 106, 103, 107, 102]  # equal weights keep the store's order
    assert spread_years(events, 2) == [104, 105]


async def test_onthisday_spreads_years_newest_first(fake: FakeDiscord, db: Path, archive: Path, clock: Clock) -> None:
    async with running(fake, db, archive):
        rec = await fake.slash("onthisday", {"date": "3 April"})
        message = await rec.final()
        assert message["content"].startswith("**On this day, 3 April** — 16 events, page 1 of 4")
        titles = [embed["title"] for embed in message["embeds"]]
        # one per year, newest first; within a year the most sources and related events first
        assert titles == [
            "Event a2015-11 happens.",
            "Event a2014-2 happens.",
            "Event a2013 happens.",
            "Event a2015-10 happens.",
            "Event a2014-1 happens.",
        ]
        nxt = await fake.click(rec, message["components"][0]["components"][1]["custom_id"])
        page = await nxt.final()
        assert "page 2 of 4" in page["content"]
        assert page["embeds"][0]["title"] == "Event a2015-09 happens."

        # no date: today in the server's time zone (2 April 23:30 UTC is 3 April in Berlin)
        clock.now = dt.datetime(2030, 4, 2, 23, 30, tzinfo=UTC)
        await set_daily(fake, fake.channel_id, "08:00", "Europe/Berlin")
        today = await (await fake.slash("onthisday")).final()
        assert today["content"].startswith("**On this day, 3 April**")

        # a full date: only the years before it
        before = await (await fake.slash("onthisday", {"date": "2015-04-03"})).final()
        assert before["content"].startswith("**On this day, 3 April, before 2015** — 4 events")

        bad = await (await fake.slash("onthisday", {"date": "31 Smarch"})).final()
        assert bad["flags"] & EPHEMERAL and "Try 3 April" in bad["content"]
        empty = await (await fake.slash("onthisday", {"date": "1 January"})).final()
        assert empty["flags"] & EPHEMERAL and "no events on 1 January" in empty["content"]


# /settings


async def test_settings_refused_without_manage_server(fake: FakeDiscord, db: Path, archive: Path, clock: Clock) -> None:
    async with running(fake, db, archive) as bot:
        settings = next(c for c in fake.commands[None] if c["name"] == "settings")
        assert int(settings["default_member_permissions"]) == MANAGE_GUILD
        for name, options in [
            ("settings daily set", {"channel": fake.channel_id, "time": "08:00", "timezone": "UTC"}),
            ("settings daily off", {}),
            ("settings show", {}),
        ]:
            reply = await (await fake.slash(name, options, user=fake.member)).final()
            assert reply["flags"] & EPHEMERAL
            assert "Only members with the Manage Server permission" in reply["content"]
        clock.now = dt.datetime(2030, 4, 3, 23, 0, tzinfo=UTC)
        assert await tick(bot, clock.now) == 0
    assert posts(fake, fake.channel_id) == []


async def test_settings_accepted_with_manage_server(fake: FakeDiscord, db: Path, archive: Path, clock: Clock) -> None:
    async with running(fake, db, archive):
        choices = await fake.autocomplete("settings daily set", {"time": "08:00"}, "timezone", user=fake.admin)
        assert "Europe/Berlin" in [c["value"] for c in choices]
        choices = await fake.autocomplete("settings daily set", {"timezone": "berl"}, "timezone", user=fake.admin)
        assert choices[0]["value"] == "Europe/Berlin"

        saved = await set_daily(fake, fake.channel_id, "8:00", "Europe/Berlin")
        assert saved["flags"] & EPHEMERAL
        assert f"goes to <#{fake.channel_id}> at 08:00 (Europe/Berlin)" in saved["content"]
        first = int(dt.datetime(2030, 4, 3, 6, 0, tzinfo=UTC).timestamp())
        assert f"<t:{first}:F>" in saved["content"]  # today, since 08:00 in Berlin is still to come

        shown = await (await fake.slash("settings show", user=fake.admin)).final()
        assert shown["flags"] & EPHEMERAL
        assert f"Daily post: in <#{fake.channel_id}> at 08:00 (Europe/Berlin); next <t:{first}:f>" in shown["content"]
        assert "Last daily post: none yet" in shown["content"]

        bad_time = await set_daily(fake, fake.channel_id, "25:00")
        assert "is not a time of day" in bad_time["content"]
        bad_zone = await set_daily(fake, fake.channel_id, "08:00", "Europe/Berln")
        assert "is not a time zone I know" in bad_zone["content"]

        off = await (await fake.slash("settings daily off", user=fake.admin)).final()
        assert "The daily post is off" in off["content"]
        shown = await (await fake.slash("settings show", user=fake.admin)).final()
        assert "Daily post: off" in shown["content"]


# The daily post


async def test_posts_at_the_configured_minute(fake: FakeDiscord, db: Path, archive: Path, clock: Clock) -> None:
    async with running(fake, db, archive) as bot:
        await set_daily(fake, fake.channel_id, "08:00", "Europe/Berlin")  # 06:00 UTC in summer
        assert await tick(bot, dt.datetime(2030, 4, 3, 5, 59, 59, tzinfo=UTC)) == 0
        assert posts(fake, fake.channel_id) == []
        assert await tick(bot, dt.datetime(2030, 4, 3, 6, 0, tzinfo=UTC)) == 1
        assert await tick(bot, dt.datetime(2030, 4, 3, 6, 0, 30, tzinfo=UTC)) == 0
        assert await tick(bot, dt.datetime(2030, 4, 3, 21, 0, tzinfo=UTC)) == 0
        [post] = posts(fake, fake.channel_id)
        assert post["content"].startswith("**On this day, 3 April** — 5 events")
        assert "All 16 with /onthisday." in post["content"]
        assert "late" not in post["content"]
        assert len(post["embeds"]) == 5
        assert post["allowed_mentions"]["parse"] == []
        # the next day, at the same local time
        assert await tick(bot, dt.datetime(2030, 4, 4, 6, 0, tzinfo=UTC)) == 1
        assert posts(fake, fake.channel_id)[1]["content"].startswith("**On this day, 4 April**")


async def test_a_day_without_events_gets_a_short_message(
    fake: FakeDiscord, db: Path, archive: Path, clock: Clock
) -> None:
    clock.now = dt.datetime(2030, 5, 5, 4, 0, tzinfo=UTC)
    async with running(fake, db, archive) as bot:
        await set_daily(fake, fake.channel_id, "08:00", "Europe/Berlin")
        assert await tick(bot, dt.datetime(2030, 5, 5, 6, 0, tzinfo=UTC)) == 1
    [post] = posts(fake, fake.channel_id)
    assert post["content"] == "On this day, 5 May: the archive has no events on this date in past years."


async def test_no_second_post_after_a_restart_in_the_same_minute(
    fake: FakeDiscord, db: Path, archive: Path, clock: Clock
) -> None:
    async with running(fake, db, archive) as bot:
        await set_daily(fake, fake.channel_id, "08:00", "Europe/Berlin")
        clock.now = dt.datetime(2030, 4, 3, 6, 0, 5, tzinfo=UTC)
        assert await tick(bot, clock.now) == 1
    clock.now = dt.datetime(2030, 4, 3, 6, 0, 40, tzinfo=UTC)
    async with running(fake, db, archive) as bot:  # the restart's first pass runs at once
        assert await tick(bot, clock.now) == 0
        assert await tick(bot, dt.datetime(2030, 4, 3, 6, 1, tzinfo=UTC)) == 0
    assert len(posts(fake, fake.channel_id)) == 1
    assert fake.requests.count(("POST", f"/channels/{fake.channel_id}/messages")) == 1


async def test_a_post_missed_while_down_goes_out_late_the_same_day(
    fake: FakeDiscord, db: Path, archive: Path, clock: Clock
) -> None:
    async with running(fake, db, archive):
        await set_daily(fake, fake.channel_id, "08:00", "Europe/Berlin")
    clock.now = dt.datetime(2030, 4, 3, 9, 30, tzinfo=UTC)  # down from 04:00 to 09:30 UTC
    async with running(fake, db, archive) as bot:
        await fake.wait_for(lambda: [sent for _, sent, _ in sent_log(db) if sent], what="the late post")
        assert await tick(bot, clock.now) == 0
        [post] = posts(fake, fake.channel_id)
        assert "Posted late: the bot was offline at 08:00 (Europe/Berlin)." in post["content"]
        shown = await (await fake.slash("settings show", user=fake.admin)).final()
        assert "210 min late (the bot was offline)" in shown["content"]
        # back the next local day only after the day is over: yesterday's post is not sent again
        assert await tick(bot, dt.datetime(2030, 4, 3, 23, 0, tzinfo=UTC)) == 0


async def test_spring_forward_posts_once_at_the_first_minute_after_the_gap(
    fake: FakeDiscord, db: Path, archive: Path, clock: Clock
) -> None:
    # Europe/Berlin, Sunday 31 March 2030: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    assert due_at(dt.date(2030, 3, 31), dt.time(2, 30), BERLIN) == dt.datetime(2030, 3, 31, 1, 0, tzinfo=UTC)
    clock.now = dt.datetime(2030, 3, 29, 12, 0, tzinfo=UTC)
    async with running(fake, db, archive) as bot:
        await set_daily(fake, fake.channel_id, "02:30", "Europe/Berlin")
        sent = await tick_through(bot, dt.datetime(2030, 3, 29, 22, 0, tzinfo=UTC), hours=74)
    assert sent == [
        dt.datetime(2030, 3, 30, 1, 30, tzinfo=UTC),  # 02:30 CET
        dt.datetime(2030, 3, 31, 1, 0, tzinfo=UTC),  # 03:00 CEST, the first minute after the gap
        dt.datetime(2030, 4, 1, 0, 30, tzinfo=UTC),  # 02:30 CEST
    ]
    assert [day for day, _, _ in sent_log(db)] == ["2030-03-30", "2030-03-31", "2030-04-01"]
    assert "**On this day, 31 March**" in posts(fake, fake.channel_id)[1]["content"]


async def test_fall_back_posts_once_on_the_day_with_the_time_twice(
    fake: FakeDiscord, db: Path, archive: Path, clock: Clock
) -> None:
    # Europe/Berlin, Sunday 27 October 2030: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    assert due_at(dt.date(2030, 10, 27), dt.time(2, 30), BERLIN) == dt.datetime(2030, 10, 27, 0, 30, tzinfo=UTC)
    clock.now = dt.datetime(2030, 10, 25, 12, 0, tzinfo=UTC)
    async with running(fake, db, archive) as bot:
        await set_daily(fake, fake.channel_id, "02:30", "Europe/Berlin")
        sent = await tick_through(bot, dt.datetime(2030, 10, 25, 22, 0, tzinfo=UTC), hours=74)
    assert sent == [
        dt.datetime(2030, 10, 26, 0, 30, tzinfo=UTC),  # 02:30 CEST
        dt.datetime(2030, 10, 27, 0, 30, tzinfo=UTC),  # the first 02:30 (CEST); not again at 01:30 UTC (CET)
        dt.datetime(2030, 10, 28, 1, 30, tzinfo=UTC),  # 02:30 CET
    ]
    assert len(posts(fake, fake.channel_id)) == 3


async def tick_through(bot: NewsBot, start: dt.datetime, hours: int, step: int = 5) -> list[dt.datetime]:
    """Tick every `step` minutes; the instants at which a post went out."""
    sent = []
    for n in range(hours * 60 // step):
        now = start + dt.timedelta(minutes=n * step)
        if await tick(bot, now):
            sent.append(now)
    return sent


async def test_a_deleted_channel_is_reported_not_retried(
    fake: FakeDiscord, db: Path, archive: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    news = fake.add_channel("news")
    async with running(fake, db, archive) as bot:
        await set_daily(fake, news, "08:00", "Europe/Berlin")
        fake.delete_channel(news)
        for minute in range(0, 60, 1):
            assert await tick(bot, dt.datetime(2030, 4, 3, 6, minute, tzinfo=UTC)) == 0
        assert fake.requests.count(("POST", f"/channels/{news}/messages")) == 1  # tried once, not in a loop
        assert "not sent: the channel no longer exists" in caplog.text
        shown = await (await fake.slash("settings show", user=fake.admin)).final()
        assert "**3 April 2030: not posted: the channel no longer exists.**" in shown["content"]
        assert "Pick a channel I can post in with `/settings daily set`" in shown["content"]

        # moved to a channel the bot may not post in: reported the same way the next day
        await set_daily(fake, fake.channel_id, "08:00", "Europe/Berlin")
        fake.forbid_channel(fake.channel_id)
        assert await tick(bot, dt.datetime(2030, 4, 4, 6, 0, tzinfo=UTC)) == 0
        shown = await (await fake.slash("settings show", user=fake.admin)).final()
        assert f"not posted: I may not post in <#{fake.channel_id}>" in shown["content"]
    assert [error for _, _, error in sent_log(db)] == [
        "the channel no longer exists",
        f"I may not post in <#{fake.channel_id}>",
    ]


async def test_a_channel_the_bot_may_not_post_in_is_refused_at_once(
    fake: FakeDiscord, db: Path, archive: Path, clock: Clock
) -> None:
    quiet = fake.add_channel("quiet")
    deny = discord.Permissions(send_messages=True).value
    fake.channels[quiet]["permission_overwrites"] = [
        {"id": str(fake.bot_user.id), "type": 1, "allow": "0", "deny": str(deny)}
    ]
    async with running(fake, db, archive) as bot:
        reply = await set_daily(fake, quiet, "08:00")
        assert reply["flags"] & EPHEMERAL
        assert f"I may not post in <#{quiet}>. Give me View Channel, Send Messages and Embed Links" in reply["content"]
        assert await tick(bot, dt.datetime(2030, 4, 3, 6, 0, tzinfo=UTC)) == 0
