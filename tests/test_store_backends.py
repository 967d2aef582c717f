"""The store's interface on both backends (an SQLite file, and a real PostgreSQL server the tests start):
the same tests, parametrized by `store_target`. Index runs, reads, server settings, claims, follows,
one index run at a time, the new generation seen by another store, the schema version."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEED_2015, SEED_2016

from bot.config import SAMPLE_ARCHIVE
from store import IndexBusy, ShrinkRefused, Store, StoreError, index_archive
from store.backend import is_postgres
from store.follows import MAX_FOLLOWS, Follows
from store.guilds import Guilds

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
GUILD = 1 << 62  # a snowflake beyond 32 bits


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(SAMPLE_ARCHIVE, copy)
    return copy


def event_file(archive: Path, path: str) -> Path:
    return archive / path


@contextlib.contextmanager
def index_run_held(target: str | Path) -> Iterator[None]:
    """Hold the store's index lock as a running index run does."""
    if is_postgres(target):
        from store.postgres import index_lock as postgres_lock

        with postgres_lock(str(target), "a test"):
            yield
    else:
        from store.ingest import index_lock

        with index_lock(target, "a test"):
            yield


async def test_an_index_run_then_reads(store_target: str | Path, archive: Path) -> None:
    first = index_archive(store_target, archive)
    assert (len(first.added), first.events, first.generation) == (15, 15, 1)
    again = index_archive(store_target, archive)
    assert not again.changed and again.generation == 1 and again.run_id == first.run_id + 1
    async with await Store.open(store_target) as store:
        assert store.generation == 1 and store.index.size == 15
        found = await store.search("al-qaryatain", limit=5)
        assert {SEED_2015, SEED_2016} <= {f.event.path for f in found}
        seed = next(f.event for f in found if f.event.path == SEED_2016)
        assert seed.date == dt.date(2016, 4, 3) and seed.sources and seed.sources[0].url.startswith("http")
        event, linked = await store.event(SEED_2016)  # type: ignore[misc]
        assert event == seed and linked <= await store.existing(link.path for link in event.related)
        assert [e.path for e in (await store.events_on(dt.date(2016, 4, 3))).values()] == [SEED_2016]
        before, after = await store.nearest_days(dt.date(2016, 1, 1))
        assert (
            before == dt.date(2015, 8, 6) and after is not None and dt.date(2016, 1, 1) < after <= dt.date(2016, 4, 3)
        )
        assert [(day, weight > 0) for _, day, weight in await store.month_day(4, 3)] == [(dt.date(2016, 4, 3), True)]
        topics = dict(await store.topic_names())
        assert topics["Syrian Civil War"] == 2
        total, ids = await store.events_with_topic("Syrian Civil War", newest_first=True, limit=1)
        assert total == 2 and len(ids) == 1
        assert sum(n for _, n in await store.topic_months("Syrian Civil War")) == 2
        spellings = ["Syrian Civil War", "syrian civil war"]  # a topic and its other spellings
        ids_with_topic = await store.topic_event_ids(spellings)
        assert len(ids_with_topic) == 2 and ids_with_topic == sorted(ids_with_topic)
        dated = await store.events_with_topic(spellings, False, 10, dt.date(2016, 1, 1), dt.date(2016, 12, 31))
        assert dated[0] == len(dated[1]) <= 2
        assert (await store.find("syrian army", 5, within=ids_with_topic)).matched <= 2
        day = dt.date(2016, 4, 3)
        assert await store.ids_on(day) == list((await store.events_on(day)).keys())  # one event that day
        stats = await store.stats()
        assert (stats.events, stats.first_day, stats.last_run.added) == (15, dt.date(2015, 8, 6), 0)  # type: ignore[union-attr]
        await store.set_setting("commands_synced:global", "abc")
        await store.set_setting("commands_synced:global", "def")
        assert await store.setting("commands_synced:global") == "def"


async def test_an_edit_and_a_removal_change_exactly_their_events(store_target: str | Path, archive: Path) -> None:
    index_archive(store_target, archive)
    seed = event_file(archive, SEED_2015)
    seed.write_text(seed.read_text(encoding="utf-8").replace("conquers", "captures"), encoding="utf-8")
    event_file(archive, SEED_2016).unlink()
    report = index_archive(store_target, archive)
    assert (report.updated, report.removed, report.generation, report.events) == ([SEED_2015], [SEED_2016], 2, 14)
    async with await Store.open(store_target) as store:
        assert await store.event(SEED_2016) is None
        assert SEED_2016 not in {f.event.path for f in await store.search("retakes al-qaryatayn")}
        event, _ = await store.event(SEED_2015)  # type: ignore[misc]
        assert "captures" in event.headline
        assert await store.search("captures", limit=1)


def test_a_run_that_would_empty_the_store_is_refused(store_target: str | Path, archive: Path, tmp_path: Path) -> None:
    index_archive(store_target, archive)
    empty = tmp_path / "empty"
    (empty / "news").mkdir(parents=True)
    with pytest.raises(ShrinkRefused):
        index_archive(store_target, empty)
    assert index_archive(store_target, archive).events == 15  # nothing was removed


def test_one_index_run_at_a_time(store_target: str | Path, archive: Path) -> None:
    index_archive(store_target, archive)
    with index_run_held(store_target), pytest.raises(IndexBusy, match=r"another index run is in progress.*a test"):
        index_archive(store_target, archive)
    assert not index_archive(store_target, archive).changed  # the lock went with its holder


async def test_the_daily_post_is_claimed_once_among_many(store_target: str | Path, archive: Path) -> None:
    index_archive(store_target, archive)
    async with await Store.open(store_target) as one, await Store.open(store_target) as two:
        await Guilds(one).set_daily(GUILD, 5 << 40, "09:00", "Europe/Berlin", NOW, "mod")
        settings = await Guilds(two).get(GUILD)  # made through one, read through the other
        assert settings.daily is not None and settings.daily.timezone == "Europe/Berlin"
        day = dt.date(2026, 12, 2)
        claims = [Guilds(store).claim_post(settings.daily, day, NOW, 0) for store in (one, two) * 4]
        assert sorted(await asyncio.gather(*claims)) == [False] * 7 + [True]
        assert await Guilds(two).posted(GUILD, day)
        await Guilds(one).finish_post(GUILD, day, NOW, message_id=77)
        post = await Guilds(two).last_post(GUILD)
        assert post is not None and (post.message_id, post.sent_at) == (77, NOW)
        assert await Guilds(one).daily_off(GUILD, NOW, "mod") and not await Guilds(two).daily_off(GUILD, NOW, "mod")


async def test_a_follow_batch_is_claimed_once_among_many(store_target: str | Path, archive: Path) -> None:
    index_archive(store_target, archive)
    async with await Store.open(store_target) as one, await Store.open(store_target) as two:
        follow = await Follows(one).add(GUILD, 9, "syria", None, None, NOW, "mod")
        assert follow is not None and follow.seen_up_to == 15 == await Follows(two).high_water()
        up_to = follow.seen_up_to + 3
        claims = [Follows(store).claim(follow, up_to, [16, 17], NOW) for store in (one, two) * 4]
        assert sorted(await asyncio.gather(*claims)) == [False] * 7 + [True]
        await Follows(two).finish(follow.id, up_to, NOW, message_id=5)
        record = await Follows(one).record(follow.id, 16)
        assert record is not None and record.message_id == 5
        assert await Follows(one).pause(follow.id, "by mod", NOW) and await Follows(two).resume(follow.id)
        assert (await Follows(one).get(GUILD, follow.id)).seen_up_to == up_to  # type: ignore[union-attr]
        texts = await Follows(two).texts([1, 2])
        assert [row_id for row_id, _, _ in texts] == [1, 2] and "Syrian Civil War" in texts[0][2]
        for n in range(MAX_FOLLOWS - 1):
            assert await Follows(one).add(GUILD, 9, f"word{n}", None, None, NOW, "mod") is not None
        assert await Follows(two).add(GUILD, 9, "one too many", None, None, NOW, "mod") is None


async def test_another_stores_index_run_is_picked_up(store_target: str | Path, archive: Path) -> None:
    index_archive(store_target, archive)
    async with await Store.open(store_target) as store:
        seed = event_file(archive, SEED_2015)
        seed.write_text(seed.read_text(encoding="utf-8").replace("conquers", "overruns"), encoding="utf-8")
        done = threading.Event()
        runner = threading.Thread(target=lambda: (index_archive(store_target, archive, "elsewhere"), done.set()))
        runner.start()
        await asyncio.to_thread(runner.join)
        assert done.is_set()
        if is_postgres(store_target):  # announced: no need to look
            await asyncio.wait_for(store.backend.index_changed.wait(), 5)
        assert await store.refresh(force=True) and store.generation == 2
        assert [f.event.path for f in await store.search("overruns")] == [SEED_2015]


async def test_reads_by_id_see_the_last_commit(store_target: str | Path, archive: Path) -> None:
    """Events by id are a lookup (SQLite: its own connection, on the calling thread): the same
    events as a query through the shared connection, and a later index run's rows, committed."""
    index_archive(store_target, archive)
    async with await Store.open(store_target) as store:
        ids = [hit.event_id for hit in (await store.find("syrian army", limit=5)).hits]
        assert len(ids) > 1
        marks = ",".join("?" * len(ids))
        assert await store.events_by_id(ids) == dict(await store._events(f"id IN ({marks})", ids))
        seed = event_file(archive, SEED_2015)
        seed.write_text(seed.read_text(encoding="utf-8").replace("conquers", "overruns"), encoding="utf-8")
        await asyncio.to_thread(index_archive, store_target, archive)
        assert await store.refresh(force=True)
        (found,) = await store.search("overruns", limit=1)  # events by id, read after the run committed
        assert found.event.path == SEED_2015 and "overruns" in found.event.headline
        assert "overruns" in (await store.events_by_id([found.event_id]))[found.event_id].headline


async def test_a_newer_schema_is_refused(store_target: str | Path, archive: Path) -> None:
    index_archive(store_target, archive)
    if is_postgres(store_target):
        import psycopg

        with psycopg.connect(str(store_target), autocommit=True) as conn:
            conn.execute("UPDATE schema_version SET version = 99")
    else:
        import sqlite3

        with contextlib.closing(sqlite3.connect(store_target)) as conn:
            conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99, newer than this bot's"):
        await Store.open(store_target)


async def test_an_unreachable_postgres_is_one_line_that_says_what_to_do() -> None:
    from postgres_server import free_port

    url = f"postgresql://newsbot:secret@127.0.0.1:{free_port()}/newsbot"
    with pytest.raises(StoreError) as raised:
        await Store.open(url)
    message = str(raised.value)
    assert "\n" not in message and "secret" not in message
    assert "cannot use the PostgreSQL database postgresql://newsbot:***@127.0.0.1" in message
    assert "check the URL in NEWSBOT_DB" in message


def test_backup_and_restore_point_to_pg_dump(postgres_server, tmp_path: Path) -> None:
    from store.backup import backup_store, restore_store

    url = postgres_server.new_database()
    for attempt in (lambda: backup_store(url, tmp_path / "copy"), lambda: restore_store(tmp_path / "copy", url)):
        with pytest.raises(StoreError, match="pg_dump"):
            attempt()


async def test_both_backends_answer_alike(postgres_server, archive: Path, tmp_path: Path) -> None:
    """The same archive in both: the same search results and scores, days, topics and event details."""
    stores = [tmp_path / "same.sqlite3", postgres_server.new_database()]
    answers = []
    for target in stores:
        index_archive(target, archive)
        async with await Store.open(target) as store:
            searches = [
                [(f.event.path, round(f.score, 9)) for f in await store.search(query, limit=10)]
                for query in ("al-qaryatain", "syrian army", "isil homs", "palmyra", "deir ez-zor siege")
            ]
            days = [list(await store.events_on(dt.date(2017, 9, day))) for day in range(1, 31)]
            answers.append((searches, days, await store.topic_names(), await store.event(SEED_2015)))
    assert answers[0] == answers[1]
    assert all(answers[0][0])  # every query found something


def test_a_postgres_schema_upgrade_runs_in_one_transaction(
    postgres_server, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    import store.postgres as postgres
    from store import migrations

    url = postgres_server.new_database()
    index_archive(url, archive)

    def version_and_columns() -> tuple[int, set[str]]:
        with psycopg.connect(url) as conn:
            columns = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'events'")
            return postgres.schema_version(conn), {row[0] for row in columns}

    monkeypatch.setattr(postgres, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(
        migrations, "POSTGRES_MIGRATIONS", [(2, "ALTER TABLE events ADD COLUMN summary TEXT; SELECT 1/0;")]
    )
    with pytest.raises(StoreError, match=r"migration to schema version 2 failed.*still at schema version 1"):
        postgres.prepare(url)
    assert version_and_columns()[0] == 1 and "summary" not in version_and_columns()[1]  # rolled back whole

    monkeypatch.setattr(migrations, "POSTGRES_MIGRATIONS", [(2, "ALTER TABLE events ADD COLUMN summary TEXT")])
    postgres.prepare(url)
    version, columns = version_and_columns()
    assert version == 2 and "summary" in columns
    assert index_archive(url, archive).events == 15  # the store works on
