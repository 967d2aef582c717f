"""/follow end to end through the fake Discord: new events posted once, after /reindex and after an
index run by another process; restarts, updates, filters, deleted channels, permissions and /follow why."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import subprocess
import sys
from pathlib import Path

import discord
import pytest
from conftest import running
from fake_discord import EPHEMERAL, FakeDiscord

from bot import follows as follows_module
from bot import handlers, scheduler
from bot.answers import FollowAdded, Refusal
from bot.discord.client import NewsBot
from store import Store, index_archive
from store.follows import MAX_FOLLOWS, Follows

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def write_event(root: Path, day: dt.date, slug: str, headline: str, topics: tuple[str, ...] = ()) -> Path:
    """One event file; its topics come from one Related line's context."""
    lines = [f"### [{day.year}-{day.month:02d}-{day.day}](/news/{day.year}/{day.month:02d}/{day.day}/index.md)", ""]
    lines += [f"# {headline}", "", "### Source:", "", f"1. [Wire](http://example.com/{slug})", ""]
    if topics:
        lines += ["### Related:", "", f"1. [Other](/news/2001/01/1/other.md) _Context: {', '.join(topics)}_", ""]
    target = root / f"news/{day.year}/{day.month:02d}/{day.day}/{slug}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines), encoding="utf-8")
    return target


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    write_event(root, dt.date(2026, 11, 20), "old-quake", "An earthquake strikes Chile.", ("Earthquakes",))
    write_event(root, dt.date(2026, 11, 21), "old-vote", "Parliament votes on the budget.", ("Politics",))
    write_event(root, dt.date(2016, 4, 3), "old-syria", "The Syrian Army retakes al-Qaryatayn.", ("Syrian Civil War",))
    return root


@pytest.fixture
def db(tmp_path: Path, archive: Path) -> Path:
    db = tmp_path / "follow.sqlite3"
    index_archive(db, archive)
    return db


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "utc_now", lambda: NOW)
    monkeypatch.setattr(follows_module, "CHECK_EVERY", 0.05)


def add_new_events(archive: Path) -> None:
    """Two events that match "earthquake", one excluded (football), one that does not match."""
    write_event(archive, dt.date(2026, 12, 1), "quake-japan", "An earthquake hits Japan.", ("Earthquakes",))
    write_event(archive, dt.date(2026, 11, 30), "quake-peru", "A strong earthquake shakes Peru.")
    write_event(archive, dt.date(2026, 12, 1), "quake-football", "Earthquake stops a football match in Lima.")
    write_event(archive, dt.date(2026, 12, 1), "new-vote", "Parliament passes the budget.", ("Politics",))


def posts(fake: FakeDiscord, channel_id: int) -> list[dict]:
    return fake.channel_messages.get(channel_id, [])


def titles(message: dict) -> list[str]:
    return [embed["title"] for embed in message["embeds"]]


async def add(fake: FakeDiscord, channel: int, user: object = None, **options: str) -> dict:
    rec = await fake.slash("follow add", {"channel": channel, **options}, user=user or fake.admin)
    return await rec.final()


async def reindex(fake: FakeDiscord) -> None:
    rec = await fake.slash("reindex", user=fake.admin)
    await rec.wait_until(lambda m: "Re-index finished" in m["content"], timeout=20)


def poster(bot: NewsBot) -> follows_module.FollowPoster:
    return bot.get_cog("Follow").poster


async def test_new_matching_events_are_posted_once_after_a_reindex(fake: FakeDiscord, db: Path, archive: Path) -> None:
    news = fake.add_channel("news")
    async with running(fake, db, archive) as bot:
        reply = await add(fake, news, query="earthquake", exclude="football")
        assert reply["flags"] & EPHEMERAL
        assert reply["content"].startswith(
            f"Follow #1 saved: new events matching “earthquake”, without “football” go to <#{news}>"
        )
        days = "(23 October 2026 to 21 November 2026)"
        assert f"Preview: 1 event of the archive's last 30 days {days}" in reply["content"]
        assert titles(reply) == ["An earthquake strikes Chile."]  # in the archive already: shown, never posted

        add_new_events(archive)
        await reindex(fake)
        await fake.wait_for(lambda: posts(fake, news), timeout=10, what="the follow's post")
        await asyncio.sleep(0.3)  # more passes of the watch: nothing more
        [post] = posts(fake, news)
        assert post["content"].startswith("**New in the archive: “earthquake”, without “football”** (follow #1)")
        assert "2 new events" in post["content"]
        assert titles(post) == ["A strong earthquake shakes Peru.", "An earthquake hits Japan."]  # date order
        assert post["allowed_mentions"]["parse"] == []

        # a second run that changes nothing posts nothing; nor does one that only updates a posted event
        await reindex(fake)
        assert await poster(bot).tick(NOW) == 0
        japan = archive / "news/2026/12/1/quake-japan.md"
        japan.write_text(japan.read_text(encoding="utf-8").replace("hits Japan", "hits northern Japan"), "utf-8")
        await reindex(fake)
        [updated] = await bot.store.search("northern japan", limit=1)
        assert updated.event.headline == "An earthquake hits northern Japan."
        assert await poster(bot).tick(NOW) == 0
        await asyncio.sleep(0.3)
        assert len(posts(fake, news)) == 1

        listed = await (await fake.slash("follow list", user=fake.admin)).final()
        [embed] = listed["embeds"]
        assert embed["title"] == f"Follows on this server: 1 of {MAX_FOLLOWS}"
        line = f"**#1** “earthquake”, without “football” → <#{news}> · 2 events posted, last <t:"
        assert line in embed["description"]


async def test_a_topic_follow_and_the_cap_of_one_post(fake: FakeDiscord, db: Path, archive: Path) -> None:
    news = fake.add_channel("news")
    async with running(fake, db, archive):
        reply = await add(fake, news, topic="earthq")  # the closest topic name, as /topic takes it
        assert "new events matching topic Earthquakes go to" in reply["content"]
        for n in range(12):
            write_event(archive, dt.date(2026, 11, 1 + n), f"q{n:02d}", f"Tremor number {n} is felt.", ("Earthquakes",))
        await reindex(fake)
        [post] = await fake.wait_for(lambda: posts(fake, news), timeout=10, what="the follow's post")
        assert "12 new events" in post["content"]
        assert "… and 2 more: `/topic Earthquakes`" in post["content"]
        assert titles(post) == [f"Tremor number {n} is felt." for n in range(10)]


async def test_a_topic_follow_matches_the_topic_in_any_case(fake: FakeDiscord, db: Path, archive: Path) -> None:
    """ "Syrian civil war" and "Syrian Civil War" are one topic, as /topic counts it: a follow of it
    posts the events of both spellings, and /follow why says an event of the other spelling matches."""
    news = fake.add_channel("news")
    async with running(fake, db, archive) as bot:
        reply = await add(fake, news, topic="syrian civil war")
        assert "new events matching topic Syrian Civil War go to" in reply["content"]
        write_event(archive, dt.date(2026, 12, 1), "homs", "Shelling resumes in Homs.", ("Syrian civil war",))
        write_event(archive, dt.date(2026, 12, 1), "aleppo", "Talks on Aleppo resume.", ("Syrian Civil War",))
        write_event(archive, dt.date(2026, 12, 1), "chile", "An earthquake strikes Chile again.", ("Earthquakes",))
        await reindex(fake)
        [post] = await fake.wait_for(lambda: posts(fake, news), timeout=10, what="the follow's post")
        assert sorted(titles(post)) == ["Shelling resumes in Homs.", "Talks on Aleppo resume."]
        async with poster(bot).lock:  # the pass that sent it has recorded it
            pass
        follows = Follows(bot.store)
        [follow] = await follows.active()
        homs, chile = [await follows.event_id(f"news/2026/12/1/{slug}.md") for slug in ("homs", "chile")]
        assert homs is not None and chile is not None
        assert await follows_module.why_not(bot.store, follow, homs) is None
        assert "does not have the topic Syrian Civil War" in (
            await follows_module.why_not(bot.store, follow, chile) or ""
        )


async def test_a_restart_in_the_middle_of_posting_does_not_post_twice(
    fake: FakeDiscord, db: Path, archive: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(follows_module, "CHECK_EVERY", 3600.0)  # the test runs the passes itself
    first, second = fake.add_channel("first"), fake.add_channel("second")
    async with running(fake, db, archive) as bot:
        await add(fake, first, query="earthquake")
        await add(fake, second, query="budget")
        add_new_events(archive)
        await bot.store.index_archive(archive)

        real_send, reached = poster(bot).send, asyncio.Event()

        async def send_then_hang(follow: object, post: object) -> int:
            if follow.channel_id == second:  # type: ignore[attr-defined]
                reached.set()
                await asyncio.Event().wait()  # the bot stops while this message is on its way
            return await real_send(follow, post)  # type: ignore[arg-type]

        poster(bot).send = send_then_hang
        passing = asyncio.create_task(poster(bot).tick(NOW))
        await asyncio.wait_for(reached.wait(), 5)
        passing.cancel()
    assert len(posts(fake, first)) == 1 and posts(fake, second) == []

    async with running(fake, db, archive) as bot:
        assert await poster(bot).tick(NOW) == 0
        await asyncio.sleep(0.2)
        assert len(posts(fake, first)) == 1 and posts(fake, second) == []
        assert "1 events claimed before a restart were not sent" in caplog.text
        vote = "news/2026/12/1/new-vote.md"
        why = await (await fake.slash("follow why", {"id": 2, "event": vote}, user=fake.admin)).final()
        assert "it matched but was not posted: the bot stopped before sending it" in why["content"]


async def test_a_deleted_channel_pauses_the_follow(
    fake: FakeDiscord, db: Path, archive: Path, caplog: pytest.LogCaptureFixture
) -> None:
    news = fake.add_channel("news")
    async with running(fake, db, archive) as bot:
        await add(fake, news, query="earthquake")
        fake.delete_channel(news)
        add_new_events(archive)
        await reindex(fake)
        await fake.wait_for(lambda: "paused: the channel no longer exists" in caplog.text, timeout=10, what="log")
        await asyncio.sleep(0.2)
        assert fake.requests.count(("POST", f"/channels/{news}/messages")) == 1  # tried once, not again and again
        listed = await (await fake.slash("follow list", user=fake.admin)).final()
        assert "**paused: the channel no longer exists" in listed["embeds"][0]["description"]

        write_event(archive, dt.date(2026, 12, 2), "quake-iran", "An earthquake hits Iran.")
        await reindex(fake)
        assert await poster(bot).tick(NOW) == 0
        assert fake.requests.count(("POST", f"/channels/{news}/messages")) == 1

        resumed = await (await fake.slash("follow resume", {"id": 1}, user=fake.admin)).final()
        assert "is on again, from now" in resumed["content"]
        assert await poster(bot).tick(NOW) == 0  # what came while it was paused is not posted


async def test_follows_need_manage_server_or_the_reindex_role(db: Path, archive: Path) -> None:
    async with FakeDiscord() as fake:
        editor = fake.add_user("editor", permissions=discord.Permissions(kick_members=True).value)
        async with running(fake, db, archive) as bot:
            for name, options in [
                ("follow add", {"channel": fake.channel_id, "query": "earthquake"}),
                ("follow list", {}),
                ("follow pause", {"id": 1}),
                ("follow why", {"id": 1, "event": "1"}),
            ]:
                for user in (fake.member, editor):
                    reply = await (await fake.slash(name, options, user=user)).final()
                    assert reply["flags"] & EPHEMERAL
                    assert reply["content"].startswith("Only members with Manage Server, or the role set with")
            assert await bot.store.backend.conn.execute_fetchall("SELECT * FROM follows") == []
            await (await fake.slash("settings reindex-role", {"role": editor.role_ids[0]}, user=fake.admin)).final()
            reply = await add(fake, fake.channel_id, user=editor, query="earthquake")
            assert "Follow #1" in reply["content"]
            paused = await (await fake.slash("follow pause", {"id": 1}, user=editor)).final()
            assert "Follow #1 (“earthquake”) is paused" in paused["content"]
            listed = await (await fake.slash("follow list", user=editor)).final()
            assert f"**paused: paused by editor ({editor.id})**" in listed["embeds"][0]["description"]
            removed = await (await fake.slash("follow remove", {"id": 1}, user=editor)).final()
            assert "Follow #1 (“earthquake”) is removed" in removed["content"]
            gone = await (await fake.slash("follow remove", {"id": 1}, user=editor)).final()
            assert "This server has no follow #1" in gone["content"]


async def test_follow_why_for_a_matching_and_a_non_matching_event(fake: FakeDiscord, db: Path, archive: Path) -> None:
    news = fake.add_channel("news")
    async with running(fake, db, archive) as bot:
        await add(fake, news, query="earthquake", exclude="football")
        add_new_events(archive)
        await reindex(fake)
        await fake.wait_for(lambda: posts(fake, news), timeout=10, what="the follow's post")
        async with poster(bot).lock:  # the pass that sent it has recorded it
            pass

        async def why(path: str) -> str:
            reply = await (await fake.slash("follow why", {"id": 1, "event": path}, user=fake.admin)).final()
            assert reply["flags"] & EPHEMERAL
            return reply["content"]

        assert "it matched and was posted in" in await why("news/2026/12/1/quake-japan.md")
        assert "it does not match: it has the excluded word “football”" in await why("news/2026/12/1/quake-football.md")
        assert "it does not match: it does not have the word “earthquake”" in await why("news/2026/12/1/new-vote.md")
        old = await why("news/2026/11/20/old-quake.md")
        assert "not posted: it was in the archive before the follow was created" in old
        assert "It matches the filters." in old
        unknown = await why("news/2030/01/1/nothing.md")
        assert "No event at" in unknown
        choices = await fake.autocomplete("follow why", {"id": 1, "event": "japan"}, "event", user=fake.admin)
        assert choices and choices[0]["name"].endswith("An earthquake hits Japan.")
        assert bot.get_cog("Follow") is not None


async def test_an_index_run_from_the_command_line_is_posted_by_the_running_bot(
    fake: FakeDiscord, db: Path, archive: Path
) -> None:
    news = fake.add_channel("news")
    async with running(fake, db, archive):
        await add(fake, news, query="earthquake")
        add_new_events(archive)
        cli = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "index", "--archive", str(archive), "--db", str(db)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert cli.returncode == 0, cli.stderr
        [post] = await fake.wait_for(lambda: posts(fake, news), timeout=15, what="the follow's post")
        assert titles(post) == [
            "A strong earthquake shakes Peru.",
            "Earthquake stops a football match in Lima.",  # the same day: in the archive's (path) order
            "An earthquake hits Japan.",
        ]


async def test_limits_and_bad_filters(db: Path) -> None:
    async with await Store.open(db) as store:

        async def add_one(query: str | None = "earthquake", topic: str | None = None) -> FollowAdded | Refusal:
            return await handlers.add_follow(store, 7, True, [], 99, True, query, topic, None, NOW, "mod")

        long = await add_one("word " * 41)
        assert isinstance(long, Refusal) and "keep it under 200" in long.message
        assert "Give words to follow (query), a topic, or both" in (await add_one(None)).message  # type: ignore[union-attr]
        assert "has no words to look for" in (await add_one("!!! ???")).message  # type: ignore[union-attr]
        assert "No topic like" in (await add_one(None, "zzzzzz")).message  # type: ignore[union-attr]
        cannot = await handlers.add_follow(store, 7, True, [], 99, False, "earthquake", None, None, NOW, "mod")
        assert isinstance(cannot, Refusal) and "I may not post in <#99>" in cannot.message
        for _ in range(MAX_FOLLOWS):
            assert isinstance(await add_one(), FollowAdded)
        full = await add_one()
        assert isinstance(full, Refusal) and f"This server has {MAX_FOLLOWS} follows" in full.message
        other_server = await handlers.add_follow(store, 8, True, [], 99, True, "quake", None, None, NOW, "mod")
        assert isinstance(other_server, FollowAdded)


def test_event_ids_are_never_reused(db: Path, archive: Path) -> None:
    """A new event never takes the id of a removed one: a follow would take it for an old event."""
    newest = write_event(archive, dt.date(2026, 11, 25), "newest", "The newest event.")
    index_archive(db, archive)
    conn = sqlite3.connect(db)
    removed_id = conn.execute("SELECT max(id) FROM events").fetchone()[0]
    newest.unlink()
    index_archive(db, archive)
    write_event(archive, dt.date(2026, 11, 26), "after", "An event after the removal.")
    index_archive(db, archive)
    new_id = conn.execute("SELECT id FROM events WHERE headline = 'An event after the removal.'").fetchone()[0]
    conn.close()
    assert new_id == removed_id + 1


def test_follow_check_on_the_command_line(db: Path, archive: Path) -> None:
    add_new_events(archive)
    index_archive(db, archive)

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bot", "follow-check", *args, "--db", str(db)]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    found = check("--query", "earthquake", "--exclude", "football", "--since", "2026-11-25")
    assert found.returncode == 0, found.stderr
    assert "“earthquake”, without “football”" in found.stdout
    assert "shakes Peru" in found.stdout and "hits Japan" in found.stdout
    assert "Chile" not in found.stdout and "football match" not in found.stdout
    topic = check("--topic", "syrian civil war", "--since", "2000")
    assert topic.returncode == 0 and "al-Qaryatayn" in topic.stdout
    bad = check("--query", "earthquake", "--since", "soon")
    assert bad.returncode == 1 and "soon" in bad.stdout and "Traceback" not in bad.stderr
    none = check("--since", "2000")
    assert none.returncode == 1 and "Give words to follow" in none.stdout


async def test_a_change_keeps_the_store_locks_another_process_respects(db: Path) -> None:
    """A follow's change opens a connection of its own; it must not drop the locks of the bot's open
    connection (closing any descriptor of a file drops all of a process's POSIX locks on it), or an
    index run in another process deletes the write-ahead log under the bot when it closes."""
    async with await Store.open(db) as store:
        await store.stats()
        await handlers.add_follow(store, 7, True, [], 99, True, "earthquake", None, None, NOW, "mod")
        await handlers.set_reindex_role(store, 7, True, 5, NOW, "mod")
        other = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1 FROM events'); c.close()"
        subprocess.run([sys.executable, "-c", other, str(db)], check=True)
        assert Path(f"{db}-wal").exists()  # still the bot's: the other process could not take it away
        assert (await store.stats()).events == 3
